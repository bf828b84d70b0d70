"""The residents' side of pledging: the pledge form, reviewing and confirming a pledge,
cancelling or reconfirming it, the receipt page with notices, and volunteer hours.

The figures the pages show (each project's money bar, loan payments) are in
`pledge_figures`.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from commonpot.extensions import db
from commonpot.forms import choices
from commonpot.models import Community, FundingRound, Project, Role, RoundStatus, User
from commonpot.money import format_cents
from commonpot.web import attempt, requires, round_or_404
from surveys.services import close_if_due, is_due, response_of

from . import pledge_tallies, pledges
from .forms import ActionForm
from .hours import hours_by_project, pledge_hours
from .models import (
    HoursPledge,
    Instrument,
    Notice,
    OverflowRule,
    Pledge,
    PledgeState,
    PledgeTerms,
    TargetKind,
)
from .notices import dismiss, notices_for
from .pledge_figures import monthly_payment, percent_rate, repayment, round_money
from .pledge_forms import ConfirmForm, HoursForm, PledgeForm
from .terms import funding_of, terms_of
from .views import bp

CLOSED = "This round closed at its scheduled time; pledges are no longer taken."
RISKY = (Instrument.SHARES, Instrument.LOAN)


@bp.app_context_processor
def _pledge_helpers() -> dict:
    """The figures' helpers for every template (the round page, a kernel template, too)."""
    return {
        "round_money": round_money,
        "percent_rate": percent_rate,
    }


# ---- helpers -------------------------------------------------------------------------


def _closed_on_schedule(funding_round: FundingRound) -> bool:
    """A round past its closing time: a POST closes it (committed), a GET only reads."""
    if request.method == "POST":
        return close_if_due(funding_round)
    return is_due(funding_round)


def _taking_pledges(funding_round: FundingRound) -> bool:
    return funding_round.status == RoundStatus.OPEN and not is_due(funding_round)


def _mine_url(community: Community, round_id: int, **kw) -> str:
    return url_for("pooling.mine", slug=community.slug, round_id=round_id, **kw)


def _review_url(community: Community, pledge: Pledge, **kw) -> str:
    return url_for(
        "pooling.pledge_review",
        slug=community.slug,
        round_id=pledge.round_id,
        pledge_id=pledge.id,
        **kw,
    )


def _own_or_404(funding_round: FundingRound, pledge_id: int) -> Pledge:
    pledge = pledge_tallies.own_pledge(funding_round, current_user, pledge_id)
    if pledge is None:  # someone else's pledge is not there, as far as this resident knows
        abort(404)
    return pledge


def _money(funding_round: FundingRound, cents: int) -> str:
    return format_cents(cents, funding_round.community.currency)


def _instrument_label(instrument: Instrument, terms: PledgeTerms, funding_round) -> str:
    if instrument == Instrument.SHARES:
        price = _money(funding_round, terms.share_price_cents or 0)
        return f"Member shares at {price} a share"
    if instrument == Instrument.LOAN:
        return (
            f"A community loan at {percent_rate(terms.loan_rate_bps)} a year, "
            f"repaid over {terms.loan_term_months} months"
        )
    return "A donation"


def _project_label(project: Project, funding_round: FundingRound) -> str:
    funding = funding_of(project)
    label = f"{project.title} ({_money(funding_round, project.cost_cents)})"
    if funding.max_cents is not None:
        room = max(funding.max_cents - pledge_tallies.project_pledged(project), 0)
        if room == 0:
            label += (
                " — full: pledges go to the common pot"
                if funding.overflow == OverflowRule.POT
                else " — full"
            )
        else:
            label += f" — room for {_money(funding_round, room)} more"
    return label


def _offer_choices(form: PledgeForm, funding_round: FundingRound, terms: PledgeTerms) -> list:
    accepted = [i for i in Instrument if terms.accepts(i)]
    form.instrument.choices = choices(
        (i.value, _instrument_label(i, terms, funding_round)) for i in accepted
    )
    projects = sorted(funding_round.projects, key=lambda p: p.title.lower())
    form.priority_area.choices = choices(
        [("", "Choose a priority area")] + [(a.id, a.name) for a in funding_round.priority_areas]
    )
    form.project.choices = choices(
        [("", "Choose a project")] + [(p.id, _project_label(p, funding_round)) for p in projects]
    )
    form.projects.choices = choices(
        (p.id, f"{p.title} ({_money(funding_round, p.cost_cents)})") for p in projects
    )
    return accepted


def _show(form: PledgeForm, pledge: Pledge) -> None:
    form.instrument.data = pledge.instrument.value
    form.amount.data = pledge.amount_cents if pledge.instrument != Instrument.SHARES else None
    form.shares.data = pledge.shares
    form.target.data = pledge.target.value
    form.priority_area.data = pledge.priority_area_id
    form.project.data = pledge.project_id
    form.projects.data = pledge.target_project_ids if pledge.target == TargetKind.PROJECTS else []
    form.condition.data = pledge.condition.value


def _make_or_replace(
    funding_round: FundingRound, user: User, replacing: Pledge | None, **kwargs
) -> Pledge:
    """Make the pledge; when it replaces an unconfirmed one of another target, drop that."""
    made = pledges.make_pledge(funding_round, user, **kwargs)
    if (
        replacing is not None
        and replacing.id != made.id
        and replacing.state == PledgeState.PLEDGED
        and pledges.can_cancel(replacing)
    ):
        pledges.cancel_pledge(replacing, user)
    return made


# ---- the pledge form -----------------------------------------------------------------


@bp.route("/c/<slug>/rounds/<int:round_id>/pledge", methods=["GET", "POST"])
@requires(Role.RESIDENT)
def pledge(community: Community, round_id: int):
    funding_round = round_or_404(community, round_id)
    if _closed_on_schedule(funding_round):
        flash(CLOSED, "error")
        return redirect(_mine_url(community, round_id))
    if funding_round.status != RoundStatus.OPEN:
        flash("Pledges are taken while the round is open.", "info")
        return redirect(_mine_url(community, round_id))
    terms = terms_of(funding_round)
    form = PledgeForm()
    form.set_limits(terms, community.currency)
    accepted = _offer_choices(form, funding_round, terms)
    change_id = request.args.get("change", type=int)
    replacing = (
        pledge_tallies.own_pledge(funding_round, current_user, change_id) if change_id else None
    )
    if replacing is not None and replacing.state != PledgeState.PLEDGED:
        replacing = None  # a confirmed pledge is cancelled first, then made again
    if not form.is_submitted():
        if replacing is not None:
            _show(form, replacing)
        elif Instrument(form.instrument.data) not in accepted:
            form.instrument.data = accepted[0].value
    if form.validate_on_submit():
        made = attempt(
            form, _make_or_replace, funding_round, current_user, replacing, **form.service_args()
        )
        if made:
            asked = form.service_args()
            redirected = asked["target"] == TargetKind.PROJECT and made.target == TargetKind.POT
            if made.state == PledgeState.PLEDGED:
                flash(
                    "Saved. Read the terms and confirm: your pledge counts only once you "
                    "confirm it.",
                    "info",
                )
            else:
                flash("You had already confirmed this pledge; nothing changed.", "info")
            extra = {"redirected_from": asked["project_ids"][0]} if redirected else {}
            return redirect(_review_url(community, made, **extra))
        form.place_service_errors()
    mine = pledge_tallies.pledges_of(funding_round, current_user)
    live = pledge_tallies.live_total(funding_round, current_user)
    return render_template(
        "pooling/pledge.html",
        round=funding_round,
        form=form,
        terms=terms,
        accepted=accepted,
        replacing=replacing,
        live_pledges=[p for p in mine if p.state in (PledgeState.PLEDGED, PledgeState.CONFIRMED)],
        live_total=live,
        room=(max(terms.resident_cap_cents - live, 0) if terms.resident_cap_cents else None),
        max_pledge=min(terms.max_pledge_cents, pledges.MAX_PLEDGE_CENTS),
        example_loan=monthly_payment(100_000, terms.loan_rate_bps, terms.loan_term_months),
    ), (422 if form.errors else 200)


# ---- one pledge: review, confirm, cancel, reconfirm ------------------------------------


def _review_page(funding_round: FundingRound, pledge: Pledge, confirm_form: ConfirmForm):
    redirected_from = None
    asked = request.args.get("redirected_from", type=int)
    if asked and pledge.target == TargetKind.POT:
        redirected_from = next((p for p in funding_round.projects if p.id == asked), None)
    terms = terms_of(funding_round)
    return render_template(
        "pooling/pledge_review.html",
        round=funding_round,
        pledge=pledge,
        terms=terms,
        confirm_form=confirm_form,
        action_form=ActionForm(formdata=None),
        risky=pledge.instrument in RISKY,
        open_now=_taking_pledges(funding_round),
        can_cancel=pledges.can_cancel(pledge) and not is_due(funding_round),
        deadline=pledges.cancel_deadline(funding_round),
        repaid=repayment(pledge.amount_cents, pledge.loan_rate_bps, pledge.loan_term_months),
        redirected_from=redirected_from,
        redirected_funding=funding_of(redirected_from) if redirected_from else None,
        notices=[n for n in notices_for(current_user, funding_round) if n.pledge_id == pledge.id],
    )


@bp.get("/c/<slug>/rounds/<int:round_id>/pledges/<int:pledge_id>")
@requires(Role.RESIDENT)
def pledge_review(community: Community, round_id: int, pledge_id: int):
    funding_round = round_or_404(community, round_id)
    pledge = _own_or_404(funding_round, pledge_id)
    return _review_page(funding_round, pledge, ConfirmForm(formdata=None))


@bp.post("/c/<slug>/rounds/<int:round_id>/pledges/<int:pledge_id>/confirm")
@requires(Role.RESIDENT)
def confirm(community: Community, round_id: int, pledge_id: int):
    funding_round = round_or_404(community, round_id)
    pledge = _own_or_404(funding_round, pledge_id)
    if _closed_on_schedule(funding_round):
        flash(CLOSED, "error")
        return redirect(_review_url(community, pledge))
    form = ConfirmForm()
    if form.validate_on_submit():
        if pledge.instrument in RISKY and not form.understood.data:
            form.understood.errors = [
                "Tick this box to say you have read the risks before you confirm."
            ]
        elif attempt(form, pledges.confirm_pledge, pledge, current_user):
            flash(
                f"Confirmed: your pledge of {_money(funding_round, pledge.amount_cents)} counts "
                f"towards the round. Receipt code {pledge.receipt_code}.",
                "success",
            )
            return redirect(_mine_url(community, round_id))
    if form.errors:
        return _review_page(funding_round, pledge, form), 422
    return redirect(_review_url(community, pledge))


@bp.post("/c/<slug>/rounds/<int:round_id>/pledges/<int:pledge_id>/cancel")
@requires(Role.RESIDENT)
def cancel(community: Community, round_id: int, pledge_id: int):
    funding_round = round_or_404(community, round_id)
    pledge = _own_or_404(funding_round, pledge_id)
    _closed_on_schedule(funding_round)
    form = ActionForm()
    if form.validate_on_submit():
        done = attempt(form, pledges.cancel_pledge, pledge, current_user)
        for message in form.form_errors:
            flash(message, "error")
        if done is not None:
            if done.refund_requested:
                flash(
                    f"Your pledge {done.receipt_code} no longer counts. You had paid it: an "
                    f"organizer will refund {_money(funding_round, done.amount_cents)}.",
                    "success",
                )
            else:
                flash(f"Your pledge {done.receipt_code} is cancelled.", "success")
            return redirect(_mine_url(community, round_id))
    return redirect(_review_url(community, pledge))


@bp.post("/c/<slug>/rounds/<int:round_id>/pledges/<int:pledge_id>/reconfirm")
@requires(Role.RESIDENT)
def reconfirm(community: Community, round_id: int, pledge_id: int):
    funding_round = round_or_404(community, round_id)
    pledge = _own_or_404(funding_round, pledge_id)
    if _closed_on_schedule(funding_round):
        flash(CLOSED, "error")
        return redirect(_review_url(community, pledge))
    form = ActionForm()
    if form.validate_on_submit():
        done = attempt(form, pledges.reconfirm_pledge, pledge, current_user)
        for message in form.form_errors:
            flash(message, "error")
        if done is not None:
            flash(f"Reconfirmed: your pledge {done.receipt_code} counts again.", "success")
            return redirect(_mine_url(community, round_id))
    return redirect(_review_url(community, pledge))


# ---- the resident's page -------------------------------------------------------------


def _attention(pledge: Pledge) -> tuple[int, int]:
    """What needs the resident first: reconfirmations, then unconfirmed, live, closed."""
    if pledge.awaiting_reconfirmation and pledge.state in (
        PledgeState.CONFIRMED,
        PledgeState.COLLECTED,
    ):
        rank = 0
    elif pledge.state == PledgeState.PLEDGED:
        rank = 1
    elif pledge.state in (PledgeState.CANCELLED, PledgeState.RELEASED, PledgeState.REFUNDED):
        rank = 3
    else:
        rank = 2
    return rank, -pledge.id


@bp.get("/c/<slug>/rounds/<int:round_id>/mine")
@requires(Role.RESIDENT)
def mine(community: Community, round_id: int):
    """The resident's receipt: their own answers, pledges, hours and notices; nobody else's."""
    funding_round = round_or_404(community, round_id)
    terms = terms_of(funding_round)
    offers = db.session.scalars(
        select(HoursPledge)
        .filter_by(round_id=funding_round.id, user_id=current_user.id)
        .order_by(HoursPledge.id)
    ).all()
    own = pledge_tallies.pledges_of(funding_round, current_user)
    return render_template(
        "pooling/mine.html",
        round=funding_round,
        response=response_of(funding_round, current_user),
        pledges=sorted(own, key=_attention),
        counting=sum(p.amount_cents for p in own if p.counts),
        unconfirmed=sum(p.amount_cents for p in own if p.state == PledgeState.PLEDGED),
        live_total=pledge_tallies.live_total(funding_round, current_user),
        cap=terms.resident_cap_cents,
        notices=notices_for(current_user, funding_round),
        offers=offers,
        open_now=_taking_pledges(funding_round),
        can_cancel={p.id: pledges.can_cancel(p) for p in own},
        deadline=pledges.cancel_deadline(funding_round),
        action_form=ActionForm(formdata=None),
    )


@bp.post("/c/<slug>/rounds/<int:round_id>/notices/<int:notice_id>/dismiss")
@requires(Role.RESIDENT)
def dismiss_notice(community: Community, round_id: int, notice_id: int):
    funding_round = round_or_404(community, round_id)
    notice = db.session.get(Notice, notice_id)
    if notice is None or notice.round_id != funding_round.id or notice.user_id != current_user.id:
        abort(404)
    if ActionForm().validate_on_submit():
        dismiss(notice, current_user)
    return redirect(_mine_url(community, round_id))


# ---- volunteer hours -----------------------------------------------------------------


@bp.route("/c/<slug>/rounds/<int:round_id>/hours", methods=["GET", "POST"])
@requires(Role.RESIDENT)
def hours(community: Community, round_id: int):
    """One offer of volunteer hours per project: a time bank, not money."""
    funding_round = round_or_404(community, round_id)
    if _closed_on_schedule(funding_round):
        flash("This round closed at its scheduled time; hours are no longer offered.", "error")
        return redirect(_mine_url(community, round_id))
    if funding_round.status != RoundStatus.OPEN:
        flash("Hours are offered while the round is open.", "info")
        return redirect(_mine_url(community, round_id))
    submitted = HoursForm() if request.method == "POST" else None
    failed_for = None
    if submitted is not None and submitted.validate_on_submit():
        project = next((p for p in funding_round.projects if p.id == submitted.project.data), None)
        if project is None:
            submitted.project.errors = ["Choose a project of this round."]
        else:
            offer = attempt(
                submitted,
                pledge_hours,
                funding_round,
                current_user,
                project,
                hours=submitted.hours.data,
                skills=submitted.skills.data or "",
            )
            if not submitted.errors:
                if offer is None:
                    flash(f"You withdrew your offer of hours to “{project.title}”.", "success")
                else:
                    flash(
                        f"Thank you: you offer {offer.hours} hours to “{project.title}”.",
                        "success",
                    )
                return redirect(url_for("pooling.hours", slug=community.slug, round_id=round_id))
    if submitted is not None:
        failed_for = submitted.project.data
    offers = {
        o.project_id: o
        for o in db.session.scalars(
            select(HoursPledge).filter_by(round_id=funding_round.id, user_id=current_user.id)
        )
    }
    forms = {}
    for project in funding_round.projects:
        if failed_for == project.id:
            forms[project.id] = submitted
            continue
        form = HoursForm(formdata=None)
        form.project.data = project.id
        offer = offers.get(project.id)
        form.hours.data = offer.hours if offer else None
        form.skills.data = offer.skills if offer else ""
        forms[project.id] = form
    return render_template(
        "pooling/hours.html",
        round=funding_round,
        forms=forms,
        offers=offers,
        needed={p.id: funding_of(p).hours_needed for p in funding_round.projects},
        offered=hours_by_project(funding_round),
        general_errors=(
            [
                *(
                    ["The page was open too long; please send it again."]
                    if submitted.csrf_token.errors
                    else []
                ),
                *submitted.project.errors,
                *(submitted.form_errors if failed_for not in forms else []),
            ]
            if submitted is not None
            else []
        ),
    ), (422 if submitted is not None and submitted.errors else 200)
