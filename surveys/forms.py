"""The ballot form is built per round and per ballot type; the settings page's forms.

Every ballot has the priority-area ranking (one rank select per area) and one project
ballot: checkboxes (approval, knapsack), a number per project (cumulative) or a rank
select per project (ranked). Projects are shuffled per resident (stable by seed). The
forms only parse what was sent; the rules live in surveys.ballots and the service
applies them.
"""

from __future__ import annotations

import functools
import random

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    SelectField,
    SelectMultipleField,
    SubmitField,
    widgets,
)
from wtforms.validators import DataRequired, Optional

from commonpot.forms import ErrorSlot, IntegerField, choices, database_id
from commonpot.models import BallotType, FundingRound
from commonpot.rounds.forms import BallotSettingsFields

from . import ballots


class CheckboxesField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class BallotForm(FlaskForm):
    submit = SubmitField("Save my answers")
    kind: BallotType = BallotType.APPROVAL

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.priorities = ErrorSlot()  # messages about the ranking as a whole
        self.votes = ErrorSlot()  # messages about the project ballot as a whole

    def rank_fields(self):
        return [f for f in self if f.name.startswith("area_")]

    def project_fields(self):
        return [f for f in self if f.name.startswith("project_")]

    def rankings(self) -> dict[int, int]:
        return {int(f.name.removeprefix("area_")): f.data for f in self.rank_fields() if f.data}

    def choice(self) -> dict[int, int] | set[int]:
        """The project ballot as submit_response takes it."""
        if self.kind in (BallotType.APPROVAL, BallotType.KNAPSACK):
            return set(self.approvals.data or [])
        values = {int(f.name.removeprefix("project_")): f.data for f in self.project_fields()}
        if self.kind == BallotType.RANKED:
            return {p: rank for p, rank in values.items() if rank}
        return {p: points for p, points in values.items() if points is not None}

    def show(self, response) -> None:
        """Fill the form with a saved response (on GET)."""
        for ranking in response.rankings:
            field = getattr(self, f"area_{ranking.priority_area_id}", None)
            if field is not None:
                field.data = ranking.rank
        if self.kind in (BallotType.APPROVAL, BallotType.KNAPSACK):
            self.approvals.data = [v.project_id for v in response.votes]
            return
        for vote in response.votes:
            field = getattr(self, f"project_{vote.project_id}", None)
            if field is not None:
                field.data = vote.rank if self.kind == BallotType.RANKED else vote.points

    def used(self) -> int:
        """What the meter shows: cents picked, points given, projects approved or ranked."""
        picked = self.choice()
        if self.kind == BallotType.KNAPSACK:
            costs = {p.id: p.cost_cents for p in self.projects_in_order}
            return sum(costs.get(p, 0) for p in picked)
        if self.kind == BallotType.CUMULATIVE:
            return sum(v for v in picked.values() if isinstance(v, int) and v > 0)
        return len(picked)


def ballot_form(funding_round: FundingRound, seed: int, **kwargs) -> BallotForm:
    """A form for this round; projects are shuffled per resident (stable by seed)."""
    settings = ballots.BallotSettings.of(funding_round)
    areas = funding_round.priority_areas
    area_limit = ballots.priority_limit(settings, len(areas))
    projects = list(funding_round.projects)
    random.Random(seed).shuffle(projects)
    kind = funding_round.ballot_type
    if kind in (BallotType.APPROVAL, BallotType.KNAPSACK):
        per_project = ()  # one checkbox list; its choices are set on the form below
        top = 0
    else:  # one field per project, in this resident's order
        per_project = tuple((p.id, p.title) for p in projects)
        if kind == BallotType.CUMULATIVE:
            top = settings.points_cap or settings.points_total or 0
        else:
            top = ballots.rank_limit(settings, len(projects))
    form_class = _ballot_class(
        kind,
        tuple((a.id, a.name) for a in areas),
        area_limit,
        per_project,
        top,
    )
    form = form_class(**kwargs)
    if kind in (BallotType.APPROVAL, BallotType.KNAPSACK):
        form.approvals.choices = choices((p.id, p.title) for p in projects)
    form.projects_in_order = projects
    form.settings = settings
    form.area_limit = area_limit
    form.project_rank_limit = ballots.rank_limit(settings, len(projects))
    return form


@functools.lru_cache(maxsize=512)
def _ballot_class(
    kind: BallotType,
    areas: tuple[tuple[int, str], ...],
    area_limit: int,
    per_project: tuple[tuple[int, str], ...],
    top: int,
) -> type[BallotForm]:
    """The form class of a ballot of this shape, built once: building a WTForms class is
    costly, and a round's ballots share a shape (approval ballots all of them; cumulative
    and ranked ones per resident, since their fields follow the resident's order)."""
    rank_choices = choices(
        [(0, "— not ranked —" if area_limit < len(areas) else "— rank —")]
        + [(i, str(i)) for i in range(1, area_limit + 1)]
    )

    class RoundBallot(BallotForm):
        pass

    RoundBallot.kind = kind
    for area_id, name in areas:
        setattr(
            RoundBallot,
            f"area_{area_id}",
            SelectField(name, coerce=int, choices=rank_choices, default=0),
        )
    if kind in (BallotType.APPROVAL, BallotType.KNAPSACK):
        label = "Projects you approve" if kind == BallotType.APPROVAL else "Projects you choose"
        RoundBallot.approvals = CheckboxesField(label, coerce=database_id, validate_choice=False)
    elif kind == BallotType.CUMULATIVE:
        for project_id, title in per_project:
            setattr(
                RoundBallot,
                f"project_{project_id}",
                IntegerField(
                    title,
                    validators=[Optional()],
                    render_kw={"min": 0, "max": top, "step": 1, "inputmode": "numeric"},
                ),
            )
    else:
        project_ranks = choices([(0, "—")] + [(i, str(i)) for i in range(1, top + 1)])
        for project_id, title in per_project:
            setattr(
                RoundBallot,
                f"project_{project_id}",
                SelectField(title, coerce=int, choices=project_ranks, default=0),
            )
    return RoundBallot


class BallotSettingsForm(BallotSettingsFields, FlaskForm):
    submit = SubmitField("Save the ballot settings")


class ResetForm(FlaskForm):
    confirm = BooleanField(
        "I understand that every response of this round will be deleted",
        validators=[DataRequired("Tick the box to confirm the reset.")],
    )
    submit = SubmitField("Delete all responses")
