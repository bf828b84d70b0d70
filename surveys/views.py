from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from commonpot.extensions import db
from commonpot.models import Community, FundingRound, Role, RoundStatus
from commonpot.web import attempt, requires, round_or_404

from . import results as tallies
from . import services
from .forms import BallotSettingsForm, ResetForm, ballot_form

bp = Blueprint("surveys", __name__)


def _closed_on_schedule(funding_round: FundingRound) -> bool:
    """Close a round whose time has come. On a POST the close is committed with the
    request; a GET only reads, so it treats the round as closed without writing."""
    if request.method == "POST":
        return services.close_if_due(funding_round)
    return services.is_due(funding_round)


@bp.route("/c/<slug>/rounds/<int:round_id>/survey", methods=["GET", "POST"])
@requires(Role.RESIDENT, share_round_on_post=True)
def ballot(community: Community, round_id: int):
    funding_round = round_or_404(community, round_id)
    if request.method == "POST" and services.is_due(funding_round):
        # Closing needs the round's exclusive lock: let go of the shared one first, or two
        # ballots arriving together would each wait for the other to let go of theirs.
        db.session.rollback()
        funding_round = round_or_404(community, round_id)
    if _closed_on_schedule(funding_round):
        flash(services.CLOSED_ON_SCHEDULE, "error")
        return redirect(url_for("rounds.show", slug=community.slug, round_id=round_id))
    if funding_round.status != RoundStatus.OPEN:
        flash("This round is not open for answers.", "info")
        return redirect(url_for("rounds.show", slug=community.slug, round_id=round_id))
    seed = hash((current_user.id, funding_round.id)) & 0xFFFFFFFF
    form = ballot_form(funding_round, seed)
    existing = None
    if not form.is_submitted():
        existing = services.response_of(funding_round, current_user)
        if existing:
            form.show(existing)
    elif form.validate_on_submit():
        response = attempt(
            form,
            services.submit_response,
            funding_round,
            current_user,
            rankings=form.rankings(),
            votes=form.choice(),
        )
        if response:
            flash(f"Your answers are saved. Receipt code {response.receipt_code}.", "success")
            return redirect(url_for("pooling.pledge", slug=community.slug, round_id=round_id))
    failed = form.errors or form.form_errors or form.votes.errors or form.priorities.errors
    if form.is_submitted():  # refused: the page says again what is saved
        existing = services.response_of(funding_round, current_user)
    return render_template(
        "surveys/ballot.html", round=funding_round, form=form, existing=existing
    ), (422 if failed else 200)


@bp.route("/c/<slug>/rounds/<int:round_id>/ballot", methods=["GET", "POST"])
@requires(Role.ORGANIZER)
def ballot_settings(community: Community, round_id: int):
    """The round's ballot settings: editable until the first response, then locked."""
    funding_round = round_or_404(community, round_id)
    _closed_on_schedule(funding_round)
    form = BallotSettingsForm()
    if not form.is_submitted():
        form.show_settings(funding_round)
    elif form.validate_on_submit():
        done = attempt(
            form,
            services.update_ballot_settings,
            funding_round,
            form.ballot_settings(),
            actor=current_user,
        )
        if done:
            flash("The ballot settings are saved.", "success")
            return redirect(
                url_for("surveys.ballot_settings", slug=community.slug, round_id=round_id)
            )
    failed = form.errors or form.form_errors
    return _settings_page(funding_round, form, ResetForm(formdata=None)), (422 if failed else 200)


@bp.post("/c/<slug>/rounds/<int:round_id>/ballot/reset")
@requires(Role.ORGANIZER)
def reset_responses(community: Community, round_id: int):
    funding_round = round_or_404(community, round_id)
    _closed_on_schedule(funding_round)
    form = ResetForm()
    if form.validate_on_submit():
        count = attempt(form, services.reset_responses, funding_round, actor=current_user)
        if count is not None:
            flash(f"Deleted {count} responses. The ballot settings can change again.", "success")
            return redirect(
                url_for("surveys.ballot_settings", slug=community.slug, round_id=round_id)
            )
    settings = BallotSettingsForm(formdata=None)
    settings.show_settings(funding_round)
    return _settings_page(funding_round, settings, form), 422


def _settings_page(funding_round: FundingRound, form, reset_form):
    return render_template(
        "surveys/settings.html",
        round=funding_round,
        form=form,
        reset_form=reset_form,
        responses=services.response_count(funding_round),
    )


def _may_see_tallies(community: Community, funding_round: FundingRound) -> bool:
    """Organizers always; everyone else once the round has closed."""
    if current_user.has_role(community.id, Role.ORGANIZER):
        return True
    closed = funding_round.status not in (RoundStatus.DRAFT, RoundStatus.OPEN)
    return closed or services.is_due(funding_round)


@bp.get("/c/<slug>/rounds/<int:round_id>/results")
@requires(Role.RESIDENT, Role.ORGANIZER, Role.BOARD)
def results(community: Community, round_id: int):
    funding_round = round_or_404(community, round_id)
    if not _may_see_tallies(community, funding_round):
        abort(403)  # tallies stay hidden until the round closes
    tally = tallies.tally(funding_round)
    return render_template(
        "surveys/results.html",
        round=funding_round,
        t=tally,
        charts=tallies.charts(tally),
        running=funding_round.status in (RoundStatus.DRAFT, RoundStatus.OPEN)
        and not services.is_due(funding_round),
    )


@bp.get("/c/<slug>/rounds/<int:round_id>/results.csv")
@requires(Role.RESIDENT, Role.ORGANIZER, Role.BOARD)
def results_csv(community: Community, round_id: int):
    funding_round = round_or_404(community, round_id)
    if not _may_see_tallies(community, funding_round):
        abort(403)
    body = tallies.to_csv(tallies.tally(funding_round))
    return Response(
        body,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="round-{round_id}-results.csv"',
            "Cache-Control": "private, no-store",
        },
    )


# Routes kept in their own modules register on this blueprint when it is imported.
from . import exchange_views as _exchange_views  # noqa: E402,F401
from . import roll_views as _roll_views  # noqa: E402,F401
