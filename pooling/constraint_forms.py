"""Forms of the constraints page. They only parse; `pooling.constraints` checks the rules."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask_wtf import FlaskForm
from wtforms import Field, IntegerField, SelectField, SelectMultipleField, SubmitField
from wtforms.widgets import CheckboxInput, ListWidget, TextInput

from commonpot.forms import ErrorSlot, choices, database_id, database_int
from commonpot.models import FundingRound

from .constraints import BPS


class PercentField(Field):
    """A share typed as a percentage ("12.5", "12,5 %"), held as integer basis points."""

    widget = TextInput()

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.render_kw = {"inputmode": "decimal", "autocomplete": "off", **(self.render_kw or {})}

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        if self.data is None:
            return ""
        whole, rest = divmod(self.data, 100)
        return str(whole) if rest == 0 else f"{whole}.{rest:02d}".rstrip("0")

    def process_formdata(self, valuelist):
        self.data = None
        text = (valuelist[0] if valuelist else "").strip().removesuffix("%").strip()
        if not text:
            return
        try:
            value = Decimal(text.replace(",", "."))
        except InvalidOperation:
            raise ValueError("Enter a percentage like 20 or 12.5.") from None
        if not value.is_finite() or not 0 <= value <= 100:
            raise ValueError("Enter a share from 0% to 100%.")
        if value != value.quantize(Decimal("0.01")):
            raise ValueError("Shares have at most two decimals (e.g. 12.25).")
        self.data = int(value * BPS // 100)


class WholeNumberField(IntegerField):
    """An optional whole number with a message a person understands."""

    def process_formdata(self, valuelist):
        self.data = None
        text = (valuelist[0] if valuelist else "").strip().replace(",", "")
        if not text:
            return
        if not text.isdigit():
            raise ValueError("Enter a whole number, like 25.")
        self.data = database_int(int(text))


class AreaSharesForm(FlaskForm):
    """One minimum and one maximum per priority area (fields min_<id>, max_<id>)."""

    submit = SubmitField("Save the area shares")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.minimums = ErrorSlot()  # the minimums together
        self.maximums = ErrorSlot()  # the maximums together

    def pairs(self, funding_round: FundingRound) -> list[tuple[object, Field, Field]]:
        return [
            (area, getattr(self, f"min_{area.id}"), getattr(self, f"max_{area.id}"))
            for area in funding_round.priority_areas
        ]

    def bounds(self, funding_round: FundingRound) -> dict[int, tuple[int | None, int | None]]:
        return {area.id: (low.data, high.data) for area, low, high in self.pairs(funding_round)}

    def show(self, shares: dict[int, tuple[int | None, int | None]]) -> None:
        for area_id, (low, high) in shares.items():
            if hasattr(self, f"min_{area_id}"):
                getattr(self, f"min_{area_id}").data = low
                getattr(self, f"max_{area_id}").data = high


def area_shares_form(funding_round: FundingRound, **kwargs) -> AreaSharesForm:
    class RoundAreaShares(AreaSharesForm):
        pass

    for area in funding_round.priority_areas:
        setattr(RoundAreaShares, f"min_{area.id}", PercentField(f"Minimum share of {area.name}"))
        setattr(RoundAreaShares, f"max_{area.id}", PercentField(f"Maximum share of {area.name}"))
    return RoundAreaShares(**kwargs)


class ThresholdForm(FlaskForm):
    min_support = WholeNumberField("Minimum support")
    submit = SubmitField("Save the threshold")


def _project_choices(funding_round: FundingRound):
    ordered = sorted(funding_round.projects, key=lambda p: p.title.lower())
    return [(p.id, p.title) for p in ordered]


class DependencyForm(FlaskForm):
    project_id = SelectField(
        "This project may be funded", coerce=database_id, validate_choice=False
    )
    requires_id = SelectField("only together with", coerce=database_id, validate_choice=False)
    submit = SubmitField("Add the dependency")

    def for_round(self, funding_round: FundingRound) -> DependencyForm:
        options = choices([(0, "— choose a project —"), *_project_choices(funding_round)])
        self.project_id.choices = options
        self.requires_id.choices = options
        return self


class IncompatibleForm(FlaskForm):
    projects = SelectMultipleField(
        "At most one of these projects may be funded",
        coerce=database_id,
        validate_choice=False,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    submit = SubmitField("Add the group")

    def for_round(self, funding_round: FundingRound) -> IncompatibleForm:
        self.projects.choices = choices(_project_choices(funding_round))
        return self
