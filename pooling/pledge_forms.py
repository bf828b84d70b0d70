"""The residents' pledge forms: how much, through which instrument, towards what.

The forms only read the input; the round's terms and limits are checked by
`pooling.pledges`, whose messages land next to these fields (same names).
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    widgets,
)
from wtforms.validators import Length, StopValidation, ValidationError

from commonpot.forms import IntegerField, MoneyField, choices, database_id, database_int
from commonpot.money import format_cents

from .models import Condition, Instrument, TargetKind
from .pledges import MAX_PLEDGE_CENTS

TARGETS = {
    TargetKind.POT: "The common pot",
    TargetKind.AREA: "A priority area",
    TargetKind.PROJECT: "One project",
    TargetKind.PROJECTS: "Several projects",
}
CONDITIONS = {
    Condition.KEEP_IT_ALL: "Keep it all",
    Condition.ALL_OR_NOTHING: "All or nothing",
}
PICK_ONE = "Choose one of the options."


def optional_int(value) -> int | None:
    """'' (nothing chosen) -> None; '12' -> 12; anything else is refused by the field."""
    if value is None or value == "":
        return None
    return database_int(int(value))


class WholeNumberField(IntegerField):
    """An integer with a message a resident understands ('1,000' is accepted)."""

    def __init__(self, label=None, validators=None, message="Enter a whole number.", **kwargs):
        super().__init__(label, validators, **kwargs)
        self.message = message
        self.render_kw = {"inputmode": "numeric", **(self.render_kw or {})}

    def process_formdata(self, valuelist):
        self.data = None
        if valuelist and valuelist[0].strip():
            try:
                number = int(valuelist[0].strip().replace(",", ""))
            except ValueError:
                raise ValueError(self.message) from None
            self.data = database_int(number)


class PledgeAmountField(MoneyField):
    """Money within the round's limits, told in the community's currency."""

    currency = "USD"

    def pre_validate(self, form):
        if self.data is None:
            return
        if self.data <= 0:
            raise ValidationError("Pledge a positive amount.")
        if self.data < self.minimum:
            raise ValidationError(
                f"The smallest pledge is {format_cents(self.minimum, self.currency)}."
            )
        if self.maximum is not None and self.data > self.maximum:
            raise ValidationError(
                f"One pledge can hold at most {format_cents(self.maximum, self.currency)}."
            )


class CheckboxesField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class PledgeForm(FlaskForm):
    instrument = RadioField(
        "How you pledge",
        choices=choices((i.value, i.value) for i in Instrument),
        default=Instrument.DONATION.value,
        invalid_choice_message="Choose one of the ways this round takes pledges.",
    )
    amount = PledgeAmountField("Amount", minimum=1, maximum=MAX_PLEDGE_CENTS)
    shares = WholeNumberField("Number of shares", message="Enter a whole number of shares.")
    target = RadioField(
        "Towards",
        choices=choices((t.value, label) for t, label in TARGETS.items()),
        default=TargetKind.POT.value,
        invalid_choice_message=PICK_ONE,
    )
    priority_area = SelectField(
        "Which priority area",
        coerce=optional_int,
        validate_choice=False,  # the service says which areas the round has
        invalid_value_message="Choose one of this round's priority areas.",
    )
    project = SelectField(
        "Which project",
        coerce=optional_int,
        validate_choice=False,
        invalid_value_message="Choose a project of this round.",
    )
    projects = CheckboxesField(
        "Which projects",
        coerce=database_id,
        validate_choice=False,
        invalid_value_message="Choose projects of this round.",
    )
    condition = RadioField(
        "If it is not funded",
        choices=choices((c.value, label) for c, label in CONDITIONS.items()),
        default=Condition.KEEP_IT_ALL.value,
        invalid_choice_message=PICK_ONE,
    )
    submit = SubmitField("Review my pledge")
    share_price_cents: int | None = None

    def set_limits(self, terms, currency: str) -> None:
        """The round's smallest and largest pledge, checked here so every message shows at
        once (the service checks them again)."""
        self.amount.minimum = terms.min_pledge_cents
        self.amount.maximum = min(terms.max_pledge_cents, MAX_PLEDGE_CENTS)
        self.amount.currency = currency
        self.share_price_cents = terms.share_price_cents

    def validate_amount(self, field):
        if self.instrument.data != Instrument.SHARES and field.data is None and not field.errors:
            raise StopValidation("Enter the amount you pledge, like 25 or 25.50.")

    def validate_shares(self, field):
        if self.instrument.data != Instrument.SHARES or field.errors:
            return
        if field.data is None:
            raise StopValidation("Enter how many shares you take, at least one.")
        if field.data <= 0:
            raise StopValidation("Choose how many shares, at least one.")
        price, currency = self.share_price_cents, self.amount.currency
        if not price:
            return
        fewest = -(-self.amount.minimum // price)
        most = self.amount.maximum // price if self.amount.maximum is not None else None
        if field.data < fewest:
            raise ValidationError(
                f"The smallest pledge is {format_cents(self.amount.minimum, currency)}: "
                f"at least {fewest} shares."
            )
        if most is not None and field.data > most:
            raise ValidationError(
                f"One pledge can hold at most {format_cents(self.amount.maximum, currency)}: "
                f"at most {most} shares."
            )

    def _check_target(self) -> None:
        target = self.target.data
        if target == TargetKind.AREA and self.priority_area.data is None:
            if not self.priority_area.errors:
                self.priority_area.errors = ["Choose a priority area."]
        elif target == TargetKind.PROJECT and self.project.data is None:
            if not self.project.errors:
                self.project.errors = ["Choose a project."]
        elif target == TargetKind.PROJECTS and len(set(self.projects.data or [])) < 2:
            if not self.projects.errors:
                self.projects.errors = [
                    "Tick at least two projects, or choose “One project” above."
                ]

    def irrelevant(self) -> list:
        """The fields the chosen instrument and target do not use (hidden on the page)."""
        shares = self.instrument.data == Instrument.SHARES
        target = self.target.data
        return [
            self.shares if not shares else self.amount,
            *([self.priority_area] if target != TargetKind.AREA else []),
            *([self.project] if target != TargetKind.PROJECT else []),
            *([self.projects] if target != TargetKind.PROJECTS else []),
            *([self.condition] if target == TargetKind.POT else []),
        ]

    def validate(self, extra_validators=None) -> bool:
        super().validate(extra_validators)
        self._check_target()
        for field in self.irrelevant():  # a stray value in a hidden field is not an error
            field.errors = []
        return not self.errors

    def service_args(self) -> dict:
        """The keyword arguments of `pledges.make_pledge` for what the resident chose."""
        instrument = Instrument(self.instrument.data)
        target = TargetKind(self.target.data)
        project_ids = {
            TargetKind.PROJECT: [self.project.data] if self.project.data else [],
            TargetKind.PROJECTS: list(self.projects.data or []),
        }.get(target, [])
        return {
            "instrument": instrument,
            "amount_cents": None if instrument == Instrument.SHARES else self.amount.data,
            "shares": self.shares.data if instrument == Instrument.SHARES else None,
            "target": target,
            "project_ids": project_ids,
            "priority_area_id": self.priority_area.data if target == TargetKind.AREA else None,
            "condition": Condition(self.condition.data),
        }

    def place_service_errors(self) -> None:
        """The service names one field, `projects`, for both ways of choosing projects."""
        if self.target.data == TargetKind.PROJECT and self.projects.errors:
            self.project.errors = [*self.project.errors, *self.projects.errors]
            self.projects.errors = []


class ConfirmForm(FlaskForm):
    """Confirming a pledge; shares and loans also ask the resident to accept the risk."""

    understood = BooleanField("I have read the risks: I could lose some or all of this money.")
    submit = SubmitField("Confirm my pledge")


class HoursForm(FlaskForm):
    project = IntegerField(widget=widgets.HiddenInput())
    hours = WholeNumberField(
        "Hours you offer",
        render_kw={"placeholder": "e.g. 10"},
        message="Enter a whole number of hours (0 withdraws your offer).",
    )
    skills = StringField(
        "Skills you bring (optional)",
        render_kw={"placeholder": "e.g. carpentry, driving, Spanish"},
        validators=[Length(max=200, message="At most 200 characters.")],
    )
    submit = SubmitField("Offer my hours")

    def validate_hours(self, field):
        if field.data is None and not field.errors:
            raise StopValidation("Enter how many hours you offer (0 withdraws your offer).")
