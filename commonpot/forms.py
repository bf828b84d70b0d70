"""Form pieces shared by every blueprint."""

from __future__ import annotations

import email_validator
import wtforms
from wtforms import Field, SelectChoice
from wtforms.validators import ValidationError
from wtforms.widgets import TextInput

from .money import format_cents, parse_cents

# The demo uses RFC 2606's .example addresses and the tests .test ones; email-validator
# refuses those special-use domains unless they are taken off its documented list.
email_validator.SPECIAL_USE_DOMAIN_NAMES = [
    d for d in email_validator.SPECIAL_USE_DOMAIN_NAMES if d not in ("example", "test")
]


class MoneyField(Field):
    """Typed as dollars and cents, held as integer cents."""

    widget = TextInput()

    def __init__(
        self, label=None, validators=None, minimum: int = 1, maximum: int | None = None, **kwargs
    ):
        super().__init__(label, validators, **kwargs)
        self.minimum, self.maximum = minimum, maximum
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
        if valuelist and valuelist[0].strip():
            try:
                self.data = parse_cents(valuelist[0])
            except ValueError as error:
                raise ValueError(str(error)) from None

    def pre_validate(self, form):
        if self.data is None:
            return
        if self.data < self.minimum:
            raise ValidationError(f"The amount must be at least {format_cents(self.minimum)}.")
        if self.maximum is not None and self.data > self.maximum:
            raise ValidationError(f"The amount must be at most {format_cents(self.maximum)}.")


DATABASE_INT = (-(2**31), 2**31 - 1)  # what an Integer column (and every id) holds


def database_int(value: int) -> int:
    """An id or count the database can hold; ValueError (a field message) beyond."""
    if not DATABASE_INT[0] <= value <= DATABASE_INT[1]:
        raise ValueError("This number is too large.")
    return value


def database_id(value) -> int:
    """`coerce` for choices not checked against a list (validate_choice=False)."""
    return database_int(int(value))


class IntegerField(wtforms.IntegerField):
    """WTForms' IntegerField, bounded to a database integer: a huge number is a message
    next to the field, not an OverflowError in NumberRange or a query PostgreSQL refuses."""

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if self.data is not None:
            try:
                database_int(self.data)
            except ValueError:
                self.data = None
                raise


def choices(pairs) -> list[SelectChoice]:
    """(value, label) pairs as WTForms 3.3 wants them."""
    return [SelectChoice(value, label) for value, label in pairs]


class ErrorSlot:
    """Where a form shows messages about a group of fields (e.g. a whole ranking)."""

    def __init__(self) -> None:
        self.errors: list[str] = []
