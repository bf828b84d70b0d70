from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    DateField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from commonpot.forms import IntegerField, MoneyField, choices

from .allocation import RULES


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


class AllocateForm(FlaskForm):
    rule = RadioField("Rule", choices=choices(RULES.items()), default="max-welfare")
    submit = SubmitField("Run the allocation")


class ActionForm(FlaskForm):
    submit = SubmitField()


class VerifyForm(FlaskForm):
    pdf = FileField("Signed PDF", validators=[FileRequired("Choose a PDF file.")])
    submit = SubmitField("Verify")
