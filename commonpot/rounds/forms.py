from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from ..forms import IntegerField, MoneyField, choices
from ..models import BallotType

BALLOT_TYPE_LABELS = {
    BallotType.APPROVAL: "Approval: tick projects",
    BallotType.KNAPSACK: "Budget: pick what fits",
    BallotType.CUMULATIVE: "Points: spread N points",
    BallotType.RANKED: "Ranked: order the top k",
}

# Which settings belong to which ballot; the others are cleared when a type is chosen.
SETTINGS_OF_TYPE = {
    BallotType.APPROVAL: ("min_approvals", "max_approvals"),
    BallotType.KNAPSACK: ("budget_cents", "min_spend_percent"),
    BallotType.CUMULATIVE: ("points_total", "points_exact", "points_cap"),
    BallotType.RANKED: ("rank_limit",),
}


def _count(label: str, maximum: int = 1000):
    return IntegerField(label, validators=[Optional(), NumberRange(min=1, max=maximum)])


class BallotSettingsFields:
    """The round's ballot settings, shared by the new-round form and the surveys' settings
    page. The surveys package checks the full rules (surveys.ballots.check_settings) when
    they are changed; this form refuses the settings that make no ballot at all."""

    ballot_type = SelectField(
        "Project ballot",
        choices=choices((t.value, label) for t, label in BALLOT_TYPE_LABELS.items()),
        default=BallotType.APPROVAL.value,
    )
    min_approvals = _count("Fewest projects a resident must approve (empty: 1)")
    max_approvals = _count("Most projects a resident may approve (empty: no limit)", 100)
    budget = MoneyField(
        "Budget residents spend",
        validators=[Optional()],
        maximum=10_000_000_000,
    )
    min_spend_percent = _count("Spend at least this % of the budget (empty: no minimum)", 100)
    points_total = _count("Points each resident spreads", 10_000)
    points_exact = BooleanField("Residents must spend every point", default=True)
    points_cap = _count("Most points on one project (empty: no limit)", 10_000)
    rank_limit = _count("How many projects a resident ranks (empty: all)", 100)
    priority_rank_limit = _count("How many priority areas a resident ranks (empty: all)", 100)

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        kind, problems = self.ballot_type.data, []
        if self.min_approvals.data and self.max_approvals.data:
            if self.min_approvals.data > self.max_approvals.data:
                problems.append(
                    (
                        self.min_approvals,
                        "The minimum number of projects cannot exceed the maximum.",
                    )
                )
        if kind == BallotType.KNAPSACK and not self.budget.data and not self.budget.errors:
            problems.append((self.budget, "A knapsack ballot needs the budget residents spend."))
        if kind == BallotType.CUMULATIVE and not self.points_total.errors:
            if not self.points_total.data:
                problems.append(
                    (self.points_total, "A cumulative ballot needs the number of points.")
                )
            elif self.points_cap.data and self.points_cap.data > self.points_total.data:
                problems.append(
                    (
                        self.points_cap,
                        "The most points per project cannot exceed the points to spread.",
                    )
                )
        for field, message in problems:
            field.errors = [*field.errors, message]
        return ok and not problems

    def ballot_settings(self) -> dict:
        """The settings as FundingRound columns; those of other ballot types cleared."""
        kind = BallotType(self.ballot_type.data)
        values = {
            "min_approvals": self.min_approvals.data,
            "max_approvals": self.max_approvals.data,
            "budget_cents": self.budget.data,
            "min_spend_percent": self.min_spend_percent.data,
            "points_total": self.points_total.data,
            "points_exact": bool(self.points_exact.data),
            "points_cap": self.points_cap.data,
            "rank_limit": self.rank_limit.data,
        }
        kept = SETTINGS_OF_TYPE[kind]
        settings = {
            name: (value if name in kept else (True if name == "points_exact" else None))
            for name, value in values.items()
        }
        settings["ballot_type"] = kind.value
        settings["priority_rank_limit"] = self.priority_rank_limit.data
        return settings

    def show_settings(self, funding_round) -> None:
        """Fill the fields from a round (on GET)."""
        self.ballot_type.data = funding_round.ballot_type.value
        for name in (
            "min_approvals",
            "max_approvals",
            "min_spend_percent",
            "points_total",
            "points_exact",
            "points_cap",
            "rank_limit",
            "priority_rank_limit",
        ):
            getattr(self, name).data = getattr(funding_round, name)
        self.budget.data = funding_round.budget_cents


class RoundForm(BallotSettingsFields, FlaskForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    description = TextAreaField("What this round is for", validators=[Length(max=5000)])
    priority_areas = TextAreaField(
        "Priority areas (one per line)",
        validators=[DataRequired()],
        render_kw={"rows": 5, "placeholder": "Food security\nPlace security\nEducation"},
    )
    opens_at = DateTimeLocalField("Opens (community time)", validators=[Optional()])
    closes_at = DateTimeLocalField("Closes (community time)", validators=[Optional()])
    min_age = IntegerField(
        "Minimum age to answer (empty: none; checked against the member roll's birth years)",
        validators=[Optional(), NumberRange(min=1, max=120)],
    )
    submit = SubmitField("Create round")


class ProjectForm(FlaskForm):
    title = StringField("Project title", validators=[DataRequired(), Length(max=200)])
    description = TextAreaField("Description", validators=[Length(max=5000)])
    priority_area_id = SelectField("Priority area", coerce=int, validators=[DataRequired()])
    cost = MoneyField("Cost", validators=[InputRequired()], maximum=10_000_000_000)
    lead_id = SelectField(
        "Project lead (a member: signs the term sheet to accept it)", coerce=int, default=0
    )
    lead_name = StringField(
        "Lead's name as shown (optional: the member's name by default)",
        validators=[Length(max=200)],
    )
    submit = SubmitField("Add project")


class TransitionForm(FlaskForm):
    submit = SubmitField()
