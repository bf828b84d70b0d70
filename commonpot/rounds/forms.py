from flask_wtf import FlaskForm
from wtforms import (
    DateTimeLocalField,
    IntegerField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from ..forms import MoneyField


class RoundForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    description = TextAreaField("What this round is for", validators=[Length(max=5000)])
    priority_areas = TextAreaField(
        "Priority areas (one per line)",
        validators=[DataRequired()],
        render_kw={"rows": 5, "placeholder": "Food security\nPlace security\nEducation"},
    )
    opens_at = DateTimeLocalField("Opens (community time)", validators=[Optional()])
    closes_at = DateTimeLocalField("Closes (community time)", validators=[Optional()])
    max_approvals = IntegerField(
        "Most projects a resident may approve (empty: no limit)",
        validators=[Optional(), NumberRange(min=1, max=100)],
    )
    submit = SubmitField("Create round")


class ProjectForm(FlaskForm):
    title = StringField("Project title", validators=[DataRequired(), Length(max=200)])
    description = TextAreaField("Description", validators=[Length(max=5000)])
    priority_area_id = SelectField("Priority area", coerce=int, validators=[DataRequired()])
    cost = MoneyField("Cost", validators=[InputRequired()], maximum=10_000_000_000)
    lead_name = StringField("Project lead", validators=[Length(max=200)])
    submit = SubmitField("Add project")


class TransitionForm(FlaskForm):
    submit = SubmitField()
