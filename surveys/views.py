from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user

from commonpot.models import Community, Role, RoundStatus
from commonpot.web import attempt, requires, round_or_404

from . import services
from .forms import ballot_form

bp = Blueprint("surveys", __name__)


@bp.route("/c/<slug>/rounds/<int:round_id>/survey", methods=["GET", "POST"])
@requires(Role.RESIDENT)
def ballot(community: Community, round_id: int):
    funding_round = round_or_404(community, round_id)
    existing = services.response_of(funding_round, current_user)
    if funding_round.status != RoundStatus.OPEN:
        flash("This round is not open for answers.", "info")
        return redirect(url_for("rounds.show", slug=community.slug, round_id=round_id))
    seed = hash((current_user.id, funding_round.id)) & 0xFFFFFFFF
    form = ballot_form(funding_round, seed)
    if not form.is_submitted() and existing:
        for ranking in existing.rankings:
            getattr(form, f"area_{ranking.priority_area_id}").data = ranking.rank
        form.approvals.data = [v.project_id for v in existing.votes]
    if form.validate_on_submit():
        response = attempt(
            form,
            services.submit_response,
            funding_round,
            current_user,
            rankings=form.rankings(),
            approvals=set(form.approvals.data or []),
        )
        if response:
            flash(f"Your answers are saved. Receipt code {response.receipt_code}.", "success")
            return redirect(url_for("pooling.pledge", slug=community.slug, round_id=round_id))
    status = 422 if form.errors or form.form_errors else 200
    return render_template(
        "surveys/ballot.html", round=funding_round, form=form, existing=existing
    ), status


@bp.get("/c/<slug>/rounds/<int:round_id>/results")
@requires(Role.RESIDENT, Role.ORGANIZER, Role.BOARD)
def results(community: Community, round_id: int):
    funding_round = round_or_404(community, round_id)
    organizer = current_user.has_role(community.id, Role.ORGANIZER)
    if funding_round.status in (RoundStatus.DRAFT, RoundStatus.OPEN) and not organizer:
        abort(403)  # tallies stay hidden until the round closes
    approvals = services.approval_counts(funding_round)
    scores = services.priority_scores(funding_round)
    total_score = sum(scores.values()) or 1
    return render_template(
        "surveys/results.html",
        round=funding_round,
        responses=services.response_count(funding_round),
        projects=sorted(funding_round.projects, key=lambda p: (-approvals[p.id], p.title)),
        approvals=approvals,
        scores=scores,
        total_score=total_score,
    )


# Routes kept in their own modules register on this blueprint when it is imported.
from . import exchange_views as _exchange_views  # noqa: E402,F401
from . import roll_views as _roll_views  # noqa: E402,F401
