from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired, FileSize
from wtforms import (
    DateField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from commonpot.forms import IntegerField, MoneyField, choices

from .allocation import COMPLETIONS, DEFAULT_COMPLETION, RULES


class GrantForm(FlaskForm):
    name = StringField("Grant name", validators=[DataRequired(), Length(max=200)])
    funder = StringField("Funder", validators=[Length(max=200)])
    amount = MoneyField("Amount", validators=[InputRequired()], maximum=10_000_000_000)
    priority_area_id = SelectField("Only for projects in", coerce=int)
    cap = MoneyField(
        "At most per project (optional)", validators=[Optional()], maximum=10_000_000_000
    )
    projects = SelectMultipleField(
        "Only these projects (optional)",
        coerce=int,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    match_percent = IntegerField(
        "Matching ratio, percent of residents' money (optional)", validators=[Optional()]
    )
    expires_on = DateField("Usable until (optional)", validators=[Optional()])
    submit = SubmitField("Add grant")


def _completion_field():
    return RadioField(
        "Equal shares' completion",
        choices=choices(COMPLETIONS.items()),
        default=DEFAULT_COMPLETION,
        validate_choice=False,  # the service names a bad choice next to the field
    )


class AllocateForm(FlaskForm):
    rule = RadioField(
        "Rule", choices=choices(RULES.items()), default="max-welfare", validate_choice=False
    )
    completion = _completion_field()
    submit = SubmitField("Run the allocation")


class CompareForm(FlaskForm):
    completion = _completion_field()
    submit = SubmitField("Compare the rules")


class ActionForm(FlaskForm):
    submit = SubmitField()


class VerifyForm(FlaskForm):
    pdf = FileField("Signed PDF", validators=[FileRequired("Choose a PDF file.")])
    submit = SubmitField("Verify")


KEY_FILE_BYTES = 256 * 1024  # a PKCS#12 file with a few certificates is a few kilobytes


class SignForm(FlaskForm):
    """Sign (or accept terms) with the certificate the app issues, or with one's own file."""

    p12 = FileField(
        "Your own certificate (PKCS#12 file, .p12 or .pfx; optional)",
        validators=[Optional(), FileSize(KEY_FILE_BYTES, message="That file is too large.")],
    )
    password = PasswordField("Its password", validators=[Length(max=200)])
    submit = SubmitField("Sign")


class CorrectionForm(FlaskForm):
    reason = TextAreaField(
        "What does the new version correct?",
        validators=[DataRequired("Say what the new version corrects."), Length(max=1000)],
        render_kw={"rows": 2},
    )
    submit = SubmitField("Make a new version")


class AuthorityForm(FlaskForm):
    p12 = FileField(
        "The authority's PKCS#12 file (.p12 or .pfx)",
        validators=[
            FileRequired("Choose the authority's PKCS#12 file."),
            FileSize(KEY_FILE_BYTES, message="That file is too large."),
        ],
    )
    password = PasswordField("Its password", validators=[Length(max=200)])
    submit = SubmitField("Use this authority")
