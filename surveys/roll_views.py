"""The member roll: import, printable access codes, and residents claiming membership."""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import EmailField, PasswordField, StringField, SubmitField
from wtforms.validators import Email, Length, NumberRange, Optional

from commonpot.errors import ValidationFailed
from commonpot.forms import IntegerField
from commonpot.models import Community, Role, RoundStatus
from commonpot.web import attempt, community_or_404, requires, round_or_404

from . import eligibility, services
from .forms import ballot_form
from .models import ResponseSource
from .views import bp


class RollUploadForm(FlaskForm):
    file = FileField("Member roll (CSV)", validators=[FileRequired("Choose a CSV file.")])
    submit = SubmitField("Import the roll")


class CodesForm(FlaskForm):
    submit = SubmitField("Print access codes for unclaimed members")


class JoinForm(FlaskForm):
    code = StringField(
        "Access code",
        validators=[Optional(), Length(max=20)],
        render_kw={"autocomplete": "off", "placeholder": "ABCDE-FGHJK"},
    )
    member_number = StringField("Member number", validators=[Optional(), Length(max=40)])
    member_name = StringField("Name as on the roll", validators=[Optional(), Length(max=200)])
    birth_year = IntegerField("Birth year", validators=[Optional(), NumberRange(1880, 2100)])
    # For a person without an account yet.
    name = StringField("Your name", validators=[Optional(), Length(max=200)])
    email = EmailField("Email", validators=[Optional(), Email()])
    password = PasswordField("Choose a password", validators=[Optional()])
    submit = SubmitField("Claim my membership")


@bp.route("/c/<slug>/roll", methods=["GET", "POST"])
@requires(Role.ORGANIZER)
def roll(community: Community):
    form = RollUploadForm()
    if form.validate_on_submit():
        done = attempt(
            form, eligibility.import_roll, community, form.file.data.read(), actor=current_user
        )
        if done:
            flash(f"Roll imported: {done.added} members added, {done.updated} updated.", "success")
            return redirect(url_for("surveys.roll", slug=community.slug))
    members = eligibility.roll_of(community)
    status = 422 if form.errors or form.form_errors else 200
    return render_template(
        "surveys/roll.html", form=form, members=members, codes_form=CodesForm()
    ), status


@bp.post("/c/<slug>/roll/codes")
@requires(Role.ORGANIZER)
def access_codes(community: Community):
    """Codes are shown once, on this printable sheet; only their hashes are stored."""
    form = CodesForm()
    if not form.validate_on_submit():
        return redirect(url_for("surveys.roll", slug=community.slug))
    issued = eligibility.issue_access_codes(community, actor=current_user)
    join_url = url_for("surveys.join", slug=community.slug, _external=True)
    return render_template("surveys/roll_codes.html", issued=issued, join_url=join_url)


@bp.route("/c/<slug>/join", methods=["GET", "POST"])
def join(slug: str):
    g.community = community = community_or_404(slug)
    form = JoinForm()
    if form.validate_on_submit():
        member = attempt(form, _join, community, form)
        if member:
            flash(f"Welcome! You are member {member.member_number} of {community.name}.", "success")
            return redirect(url_for("rounds.community", slug=community.slug))
    status = 422 if form.errors or form.form_errors else 200
    return render_template("surveys/join.html", form=form), status


def _join(community: Community, form: JoinForm):
    """Sign up (when needed) and claim a roll line, in one transaction."""
    by_code = bool((form.code.data or "").strip())
    if not by_code and not (form.member_number.data and form.member_name.data):
        raise ValidationFailed(
            [(None, "Enter your access code, or your member number and name as on the roll.")]
        )
    user = current_user if current_user.is_authenticated else None
    if user is None:
        missing = [
            (f, "Needed to create your account.")
            for f in ("name", "email", "password")
            if not (getattr(form, f).data or "").strip()
        ]
        if missing:
            raise ValidationFailed(missing)
        user = eligibility.new_account(
            name=form.name.data, email=form.email.data, password=form.password.data
        )
    if by_code:
        member = eligibility.claim_with_code(community, user, form.code.data)
    else:
        member = eligibility.claim_by_matching(
            community,
            user,
            member_number=form.member_number.data,
            name=form.member_name.data,
            birth_year=form.birth_year.data,
        )
    if not current_user.is_authenticated:
        login_user(user)
    return member


class PickMemberForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form that only looks a member up

    member = StringField("Member number", validators=[Optional(), Length(max=40)])


@bp.route("/c/<slug>/rounds/<int:round_id>/paper", methods=["GET", "POST"])
@requires(Role.ORGANIZER)
def paper_ballot(community: Community, round_id: int):
    """An organizer enters a listed member's paper ballot on their behalf."""
    funding_round = round_or_404(community, round_id)
    if services.close_if_due(funding_round) or funding_round.status != RoundStatus.OPEN:
        flash("Paper ballots are entered while the round is open.", "info")
        return redirect(url_for("rounds.show", slug=community.slug, round_id=round_id))
    pick = PickMemberForm(request.args)
    member = eligibility.find_member(community, pick.member.data) if pick.member.data else None
    if member is None:
        if pick.member.data:
            pick.member.errors = [f"No member {pick.member.data} on the roll."]
        return render_template(
            "surveys/paper_pick.html",
            round=funding_round,
            form=pick,
            count=services.paper_count(funding_round),
        ), (404 if pick.member.data else 200)
    existing = services.paper_response_of(funding_round, member)
    form = ballot_form(funding_round, seed=member.id)
    if not form.is_submitted() and existing:
        form.show(existing)
    if form.validate_on_submit():
        response = attempt(
            form,
            services.submit_response,
            funding_round,
            None,
            rankings=form.rankings(),
            votes=form.choice(),
            source=ResponseSource.PAPER,
            member=member,
            entered_by=current_user,
        )
        if response:
            flash(
                f"Paper ballot saved for {member.name} (receipt {response.receipt_code}).",
                "success",
            )
            return redirect(url_for("surveys.paper_ballot", slug=community.slug, round_id=round_id))
    failed = form.errors or form.form_errors or form.votes.errors or form.priorities.errors
    return render_template(
        "surveys/paper.html", round=funding_round, form=form, existing=existing, member=member
    ), (422 if failed else 200)
