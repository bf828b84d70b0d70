"""The ballot form is built per round: one rank select per priority area, a box per project."""

from __future__ import annotations

import random

from flask_wtf import FlaskForm
from wtforms import SelectField, SelectMultipleField, SubmitField, widgets

from commonpot.forms import ErrorSlot, choices
from commonpot.models import FundingRound


class CheckboxesField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class BallotForm(FlaskForm):
    approvals = CheckboxesField("Projects you approve", coerce=int)
    submit = SubmitField("Save my answers")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.priorities = ErrorSlot()  # messages about the ranking as a whole

    def rank_fields(self):
        return [f for f in self if f.name.startswith("area_")]

    def rankings(self) -> dict[int, int]:
        return {int(f.name.removeprefix("area_")): f.data for f in self.rank_fields() if f.data}


def ballot_form(funding_round: FundingRound, seed: int, **kwargs) -> BallotForm:
    """A form class for this round; projects are shuffled per resident (stable by seed)."""
    areas = funding_round.priority_areas
    rank_choices = choices([(0, "— rank —")] + [(i, str(i)) for i in range(1, len(areas) + 1)])

    class RoundBallot(BallotForm):
        pass

    for area in areas:
        setattr(
            RoundBallot,
            f"area_{area.id}",
            SelectField(area.name, coerce=int, choices=rank_choices, default=0),
        )
    form = RoundBallot(**kwargs)
    projects = list(funding_round.projects)
    random.Random(seed).shuffle(projects)
    form.approvals.choices = choices((p.id, p.title) for p in projects)
    form.projects_in_order = projects
    return form
