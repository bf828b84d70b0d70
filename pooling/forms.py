from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import RadioField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from commonpot.forms import MoneyField, choices

from .allocation import RULES
from .pledges import MAX_PLEDGE_CENTS


class PledgeForm(FlaskForm):
    amount = MoneyField(
        "Amount", validators=[InputRequired()], minimum=100, maximum=MAX_PLEDGE_CENTS
    )
    target = SelectField("Towards", coerce=int)
    submit = SubmitField("Pledge")


class GrantForm(FlaskForm):
    name = StringField("Grant name", validators=[DataRequired(), Length(max=200)])
    funder = StringField("Funder", validators=[Length(max=200)])
    amount = MoneyField("Amount", validators=[InputRequired()], maximum=10_000_000_000)
    priority_area_id = SelectField("Only for projects in", coerce=int)
    cap = MoneyField(
        "At most per project (optional)", validators=[Optional()], maximum=10_000_000_000
    )
    submit = SubmitField("Add grant")


class AllocateForm(FlaskForm):
    rule = RadioField("Rule", choices=choices(RULES.items()), default="max-welfare")
    submit = SubmitField("Run the allocation")


class ActionForm(FlaskForm):
    submit = SubmitField()


class VerifyForm(FlaskForm):
    pdf = FileField("Signed PDF", validators=[FileRequired("Choose a PDF file.")])
    submit = SubmitField("Verify")
