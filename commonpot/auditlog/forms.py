from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, StringField
from wtforms.validators import Length, Optional, ValidationError


class AuditFilterForm(FlaskForm):
    """Filters read from the address (GET): nothing changes, so no CSRF token."""

    class Meta:
        csrf = False

    action = StringField(
        "Action starts with",
        validators=[Optional(), Length(max=60)],
        render_kw={"placeholder": "pledge.", "list": "audit-actions", "autocomplete": "off"},
    )
    actor = StringField("Done by (name or email)", validators=[Optional(), Length(max=254)])
    since = DateField("From", validators=[Optional()])
    until = DateField("To (inclusive)", validators=[Optional()])

    def validate_until(self, field: DateField) -> None:
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError("The end date is before the start date.")

    def value(self, name: str):
        """A filter's value when it was given and is valid, else None."""
        field = self[name]
        if field.errors or field.data in (None, ""):
            return None
        return field.data.strip() if isinstance(field.data, str) else field.data
