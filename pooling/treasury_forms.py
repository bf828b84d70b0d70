"""Forms of the organizers' money pages: pledge terms, project targets, the treasury."""

from __future__ import annotations

import re

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    Field,
    RadioField,
    SearchField,
    SelectField,
    StringField,
    SubmitField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError
from wtforms.widgets import TextInput

from commonpot.forms import IntegerField, MoneyField, choices

from .books import STATE_LABELS, TO_COLLECT, TO_REFUND
from .models import Instrument, OverflowRule, PaymentMethod
from .pledges import MAX_PLEDGE_CENTS

METHOD_LABELS = {
    PaymentMethod.CASH: "Cash",
    PaymentMethod.CHEQUE: "Cheque",
    PaymentMethod.BANK_TRANSFER: "Bank transfer",
}
INSTRUMENT_LABELS = {
    Instrument.DONATION: "Donation",
    Instrument.SHARES: "Member shares",
    Instrument.LOAN: "Community loan",
}


RATE = re.compile(r"([0-9]{1,6})(?:\.([0-9]{0,12}))?")  # plain digits: no 1e309, no NaN


class PercentField(Field):
    """A yearly rate typed in percent with at most two decimals, held as basis points."""

    widget = TextInput()

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.render_kw = {"inputmode": "decimal", **(self.render_kw or {})}

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        if self.data is None:
            return ""
        whole, part = divmod(self.data, 100)
        return f"{whole}.{part:02d}"

    def process_formdata(self, valuelist):
        self.data = None
        text = valuelist[0].strip().rstrip("%").strip() if valuelist else ""
        if not text:
            return
        if "," in text and "." not in text:
            text = text.replace(",", ".")  # 3,25 is how much of Europe writes 3.25
        found = RATE.fullmatch(text)
        if not found:
            raise ValueError("Enter a rate like 3 or 3.25 (percent a year).")
        whole, part = found.group(1), found.group(2) or ""
        if len(part.rstrip("0")) > 2:
            raise ValueError("A rate has at most two decimals, e.g. 3.25.")
        self.data = int(whole) * 100 + int((part + "00")[:2])


class TermsForm(FlaskForm):
    accepts_donations = BooleanField("Donations")
    accepts_shares = BooleanField("Member shares")
    accepts_loans = BooleanField("Community loans")
    share_price = MoneyField(
        "Price of one share", validators=[Optional()], maximum=MAX_PLEDGE_CENTS
    )
    loan_rate = PercentField("Loan rate, percent a year", validators=[Optional()])
    loan_term_months = IntegerField("Loan term in months", validators=[Optional()])
    min_pledge = MoneyField(
        "Smallest pledge", validators=[InputRequired()], maximum=MAX_PLEDGE_CENTS
    )
    max_pledge = MoneyField(
        "Largest pledge", validators=[InputRequired()], maximum=MAX_PLEDGE_CENTS
    )
    resident_cap = MoneyField(
        "At most per resident across the round", validators=[Optional()], maximum=MAX_PLEDGE_CENTS
    )
    submit = SubmitField("Save the terms")


class TargetsForm(FlaskForm):
    min_target = MoneyField("Minimum", validators=[Optional()], maximum=10_000_000_000)
    optimum_target = MoneyField("Optimum", validators=[Optional()], maximum=10_000_000_000)
    max_target = MoneyField("Maximum", validators=[Optional()], maximum=10_000_000_000)
    overflow = RadioField(
        "A pledge beyond the maximum",
        choices=choices(
            [
                (OverflowRule.REFUSE.value, "is refused (the resident sees how much room is left)"),
                (OverflowRule.POT.value, "goes into the common pot (the resident is told first)"),
            ]
        ),
        default=OverflowRule.REFUSE.value,
    )
    hours_needed = IntegerField("Volunteer hours needed", validators=[Optional()])
    submit = SubmitField("Save the targets")


class PaymentForm(FlaskForm):
    """Record a payment, or a refund: how the money moved and its reference."""

    method = SelectField(
        "Method",
        choices=choices((m.value, label) for m, label in METHOD_LABELS.items()),
        default=PaymentMethod.BANK_TRANSFER.value,
    )
    reference = StringField("Reference", validators=[Length(max=100)])
    submit = SubmitField()

    def validate_reference(self, field) -> None:
        if self.method.data != PaymentMethod.CASH.value and not (field.data or "").strip():
            raise ValidationError("Give the cheque number or the bank transfer's reference.")


class DisburseForm(FlaskForm):
    reference = StringField(
        "Payment reference",
        validators=[DataRequired("Give the payment's reference."), Length(max=200)],
    )
    submit = SubmitField("Pay out")


class CloseForm(FlaskForm):
    write_off = BooleanField("Write off the called pledges that were never paid")
    submit = SubmitField("Close the books")


class PledgeFilterForm(FlaskForm):
    """The pledges table's filters: a GET form, so no CSRF token."""

    class Meta:
        csrf = False

    state = SelectField("State", default="")
    instrument = SelectField(
        "Kind",
        choices=choices(
            [("", "Any kind")] + [(i.value, label) for i, label in INSTRUMENT_LABELS.items()]
        ),
        default="",
    )
    target = SelectField("Towards", default="")
    q = SearchField("Resident or receipt code", validators=[Length(max=100)])

    def __init__(self, *args, projects=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.state.choices = choices(
            [("", "Any state"), (TO_COLLECT, "Payment to record"), (TO_REFUND, "Refund due")]
            + [(s.value, label.capitalize()) for s, label in STATE_LABELS.items()]
        )
        self.target.choices = choices(
            [
                ("", "Anything"),
                ("pot", "The common pot"),
                ("area", "A priority area"),
                ("project", "One project"),
                ("projects", "Several projects"),
            ]
            + [(f"project:{p.id}", p.title) for p in projects]
        )

    def values(self) -> dict[str, str]:
        """The valid, non-empty filters (as query arguments); an unknown value is ignored."""
        out = {}
        for name in ("state", "instrument", "target"):
            field = getattr(self, name)
            if field.data and field.data in {c.value for c in field.choices}:
                out[name] = field.data
        q = (self.q.data or "").strip()[:100]
        if q:
            out["q"] = q
        return out
