from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, g, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from ..errors import ValidationFailed
from ..extensions import db
from ..forms import choices
from ..models import BallotType, Community, FundingRound, Project, Role, RoundStatus
from ..web import attempt, community_or_404, requires, roles, round_or_404
from . import services
from .forms import ProjectForm, RoundForm, TransitionForm

bp = Blueprint("rounds", __name__)


@bp.get("/")
def home():
    communities = db.session.scalars(select(Community).order_by(Community.name)).all()
    open_rounds = db.session.scalars(
        select(FundingRound)
        .where(FundingRound.status == RoundStatus.OPEN)
        .order_by(FundingRound.id)
    ).all()
    by_community: dict[int, list[FundingRound]] = {}
    for r in open_rounds:
        by_community.setdefault(r.community_id, []).append(r)
    return render_template("rounds/home.html", communities=communities, open_rounds=by_community)


@bp.get("/c/<slug>/")
def community(slug: str):
    g.community = c = community_or_404(slug)
    visible = roles(c)
    query = select(FundingRound).where(FundingRound.community_id == c.id)
    if Role.ORGANIZER not in visible:
        query = query.where(FundingRound.status != RoundStatus.DRAFT)
    rounds = db.session.scalars(query.order_by(FundingRound.id.desc())).all()
    return render_template("rounds/community.html", rounds=rounds)


@bp.get("/c/<slug>/rounds/<int:round_id>")
def show(slug: str, round_id: int):
    g.community = c = community_or_404(slug)
    funding_round = round_or_404(c, round_id)
    if funding_round.status == RoundStatus.DRAFT and Role.ORGANIZER not in roles(c):
        abort(404)
    form = _project_form(funding_round)
    return render_template(
        "rounds/show.html", round=funding_round, project_form=form, action_form=TransitionForm()
    )


def _to_utc(value, community: Community):
    if value is None:
        return None
    return value.replace(tzinfo=ZoneInfo(community.timezone)).astimezone(ZoneInfo("UTC"))


def _create_round(community: Community, form: RoundForm, actor) -> FundingRound:
    """create_round, then the ballot settings chosen on the same form (checked by the form;
    the surveys' settings page checks them again against the projects once they exist)."""
    settings = form.ballot_settings()
    funding_round = services.create_round(
        community,
        title=form.title.data,
        description=form.description.data or "",
        priority_areas=form.priority_areas.data.splitlines(),
        opens_at=_to_utc(form.opens_at.data, community),
        closes_at=_to_utc(form.closes_at.data, community),
        max_approvals=settings.pop("max_approvals"),
        actor=actor,
    )
    settings["ballot_type"] = BallotType(settings["ballot_type"])
    areas = len(funding_round.priority_areas)
    if settings["priority_rank_limit"] and settings["priority_rank_limit"] > areas:
        raise ValidationFailed(
            [("priority_rank_limit", f"The round has only {areas} priority areas.")]
        )
    for name, value in settings.items():
        setattr(funding_round, name, value)
    funding_round.min_age = form.min_age.data  # who may answer: see surveys.eligibility
    db.session.flush()
    return funding_round


@bp.route("/c/<slug>/rounds/new", methods=["GET", "POST"])
@requires(Role.ORGANIZER)
def create(community: Community):
    form = RoundForm()
    if form.validate_on_submit():
        funding_round = attempt(form, _create_round, community, form, current_user)
        if funding_round:
            flash("Round created. Add its projects and seed grants, then open it.", "success")
            return redirect(url_for("rounds.show", slug=community.slug, round_id=funding_round.id))
    status = 422 if form.errors or form.form_errors else 200
    return render_template("rounds/new.html", form=form), status


def _project_form(funding_round: FundingRound) -> ProjectForm:
    form = ProjectForm()
    form.priority_area_id.choices = choices((a.id, a.name) for a in funding_round.priority_areas)
    form.lead_id.choices = choices(
        [(0, "— none yet —")]
        + [(u.id, f"{u.name} ({u.email})") for u in services.members_of(funding_round.community)]
    )
    return form


def _project_fields(form: ProjectForm) -> dict:
    """The service's keyword arguments from a filled project form."""
    return {
        "title": form.title.data,
        "description": form.description.data or "",
        "cost_cents": form.cost.data,
        "priority_area_id": form.priority_area_id.data,
        "lead_name": form.lead_name.data or "",
        "lead_id": form.lead_id.data or None,
        "actor": current_user,
    }


@bp.post("/c/<slug>/rounds/<int:round_id>/projects")
@requires(Role.ORGANIZER)
def add_project(community: Community, round_id: int):
    funding_round = round_or_404(community, round_id)
    form = _project_form(funding_round)
    if form.validate_on_submit():
        project = attempt(
            form,
            services.add_project,
            funding_round,
            **_project_fields(form),
        )
        if project:
            flash(f"Added “{project.title}”.", "success")
            return redirect(url_for("rounds.show", slug=community.slug, round_id=round_id))
    return render_template(
        "rounds/show.html", round=funding_round, project_form=form, action_form=TransitionForm()
    ), 422


@bp.route("/c/<slug>/rounds/<int:round_id>/projects/<int:project_id>/edit", methods=["GET", "POST"])
@requires(Role.ORGANIZER)
def edit_project(community: Community, round_id: int, project_id: int):
    """Correct a project; once pledges exist, a new cost or description asks them again."""
    funding_round = round_or_404(community, round_id)
    project = db.session.get(Project, project_id)
    if project is None or project.round_id != funding_round.id:
        abort(404)
    form = _project_form(funding_round)
    if not form.is_submitted():
        form.title.data, form.description.data = project.title, project.description
        form.priority_area_id.data, form.cost.data = project.priority_area_id, project.cost_cents
        form.lead_name.data, form.lead_id.data = project.lead_name, project.lead_id or 0
    if form.validate_on_submit():
        changes = attempt(
            form,
            services.edit_project,
            project,
            **_project_fields(form),
        )
        if changes is not None and not form.form_errors and not form.errors:
            flash(
                f"Saved “{project.title}”." if changes else "Nothing changed.",
                "success" if changes else "info",
            )
            return redirect(url_for("rounds.show", slug=community.slug, round_id=round_id))
    status = 422 if form.errors or form.form_errors else 200
    return render_template(
        "rounds/edit_project.html", round=funding_round, project=project, form=form
    ), status


@bp.post("/c/<slug>/rounds/<int:round_id>/projects/<int:project_id>/delete")
@requires(Role.ORGANIZER)
def remove_project(community: Community, round_id: int, project_id: int):
    funding_round = round_or_404(community, round_id)
    project = db.session.get(Project, project_id)
    form = TransitionForm()
    if project is None or project.round_id != funding_round.id:
        abort(404)
    if form.validate_on_submit():
        attempt(form, services.remove_project, project, actor=current_user)
        for message in form.form_errors:
            flash(message, "error")
    return redirect(url_for("rounds.show", slug=community.slug, round_id=round_id))


@bp.post("/c/<slug>/rounds/<int:round_id>/<any(open, close):action>")
@requires(Role.ORGANIZER)
def change_status(community: Community, round_id: int, action: str):
    funding_round = round_or_404(community, round_id)
    form = TransitionForm()
    target = RoundStatus.OPEN if action == "open" else RoundStatus.CLOSED
    if form.validate_on_submit():
        attempt(form, services.transition, funding_round, target, actor=current_user)
        for message in form.form_errors:
            flash(message, "error")
        if not form.form_errors:
            flash(f"The round is now {target.value}.", "success")
    return redirect(url_for("rounds.show", slug=community.slug, round_id=round_id))
