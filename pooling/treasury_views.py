"""The organizers' and the treasurer's pages: pledge terms, project targets, the treasury
(payments, refunds, pay-outs), the ledger, CSV exports and residents' statements."""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from commonpot.models import Community, FundingRound, Role, RoundStatus
from commonpot.money import format_cents
from commonpot.web import attempt, requires, round_or_404

from . import books, closing, exports, ledger, statements, terms, treasury
from .ledger import Account
from .ledger_checks import verify
from .models import OverflowRule, PaymentMethod
from .treasury_forms import (
    INSTRUMENT_LABELS,
    METHOD_LABELS,
    CloseForm,
    DisburseForm,
    PaymentForm,
    PledgeFilterForm,
    TargetsForm,
    TermsForm,
)
from .views import bp

ROUND = "/c/<slug>/rounds/<int:round_id>"


def _money(community: Community):
    return lambda cents: format_cents(cents, community.currency)


def _csv(body: str, filename: str) -> Response:
    return Response(
        body.encode("utf-8"),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )


# -- pledge terms and project targets ------------------------------------------------


@bp.route(f"{ROUND}/terms", methods=["GET", "POST"])
@requires(Role.ORGANIZER)
def round_terms(community: Community, round_id: int):
    funding_round = round_or_404(community, round_id)
    form = TermsForm()
    if not form.is_submitted():
        now = terms.terms_of(funding_round)
        form.accepts_donations.data = now.accepts_donations
        form.accepts_shares.data = now.accepts_shares
        form.accepts_loans.data = now.accepts_loans
        form.share_price.data = now.share_price_cents
        form.loan_rate.data = now.loan_rate_bps
        form.loan_term_months.data = now.loan_term_months
        form.min_pledge.data = now.min_pledge_cents
        form.max_pledge.data = now.max_pledge_cents
        form.resident_cap.data = now.resident_cap_cents
    if form.validate_on_submit():
        saved = attempt(
            form,
            terms.set_terms,
            funding_round,
            actor=current_user,
            accepts_donations=form.accepts_donations.data,
            accepts_shares=form.accepts_shares.data,
            accepts_loans=form.accepts_loans.data,
            share_price_cents=form.share_price.data,
            loan_rate_bps=form.loan_rate.data,
            loan_term_months=form.loan_term_months.data,
            min_pledge_cents=form.min_pledge.data,
            max_pledge_cents=form.max_pledge.data,
            resident_cap_cents=form.resident_cap.data,
        )
        if saved:
            flash("The round's pledge terms are saved.", "success")
            return redirect(url_for("pooling.round_terms", slug=community.slug, round_id=round_id))
    status = 422 if form.errors or form.form_errors else 200
    projects = sorted(funding_round.projects, key=lambda p: p.title.lower())
    return render_template(
        "pooling/terms.html",
        round=funding_round,
        form=form,
        locked=books.terms_locked(funding_round),
        targets=[(p, terms.funding_of(p)) for p in projects],
    ), status


@bp.route(f"{ROUND}/projects/<int:project_id>/targets", methods=["GET", "POST"])
@requires(Role.ORGANIZER)
def project_targets(community: Community, round_id: int, project_id: int):
    funding_round = round_or_404(community, round_id)
    project = books.project_in(funding_round, project_id)
    if project is None:
        abort(404)
    form = TargetsForm()
    if not form.is_submitted():
        now = terms.funding_of(project)
        form.min_target.data = now.min_cents
        form.optimum_target.data = now.optimum_cents
        form.max_target.data = now.max_cents
        form.overflow.data = (now.overflow or OverflowRule.REFUSE).value
        form.hours_needed.data = now.hours_needed
    if form.validate_on_submit():
        saved = attempt(
            form,
            terms.set_project_funding,
            project,
            actor=current_user,
            min_cents=form.min_target.data,
            optimum_cents=form.optimum_target.data,
            max_cents=form.max_target.data,
            overflow=OverflowRule(form.overflow.data),
            hours_needed=form.hours_needed.data,
        )
        if saved:
            flash(f"Saved the targets of “{project.title}”.", "success")
            return redirect(url_for("pooling.round_terms", slug=community.slug, round_id=round_id))
    status = 422 if form.errors or form.form_errors else 200
    open_ = funding_round.status in (RoundStatus.DRAFT, RoundStatus.OPEN)
    return render_template(
        "pooling/targets.html",
        round=funding_round,
        project=project,
        form=form,
        locked=None if open_ else "The round has closed: its projects' targets are fixed.",
    ), status


# -- the treasury ------------------------------------------------------------------------


def _filters(funding_round: FundingRound) -> PledgeFilterForm:
    projects = sorted(funding_round.projects, key=lambda p: p.title.lower())
    form = PledgeFilterForm(formdata=request.args, projects=projects)
    form.validate()
    return form


def _treasury_page(community: Community, funding_round: FundingRound, failed=None):
    """The treasury page; `failed` is (action, id, form) when an action was refused."""
    filters = _filters(funding_round)
    chosen = filters.values()
    rows = books.pledge_rows(
        funding_round,
        state=chosen.get("state", ""),
        instrument=chosen.get("instrument", ""),
        target=chosen.get("target", ""),
        search=chosen.get("q", ""),
    )
    report = verify([funding_round.id])
    return render_template(
        "pooling/treasury.html",
        round=funding_round,
        books=books.balances(funding_round),
        rows=rows,
        filters=filters,
        chosen=chosen,
        report=report,
        organizer=current_user.has_role(community.id, Role.ORGANIZER),
        payment_form=PaymentForm(formdata=None),
        disburse_form=DisburseForm(formdata=None),
        close_form=CloseForm(formdata=None),
        closing=closing.closing(funding_round)
        if funding_round.status.value == "approved"
        else None,
        failed=failed,
        methods=METHOD_LABELS,
        instruments=INSTRUMENT_LABELS,
    )


def _back_to_treasury(community: Community, funding_round: FundingRound, anchor: str):
    """Back to the page as it was: the same filters, scrolled to the row acted on."""
    return redirect(
        url_for(
            "pooling.treasury_view",
            slug=community.slug,
            round_id=funding_round.id,
            _anchor=anchor,
            **_filters(funding_round).values(),
        )
    )


@bp.get(f"{ROUND}/treasury")
@requires(Role.ORGANIZER)
def treasury_view(community: Community, round_id: int):
    return _treasury_page(community, round_or_404(community, round_id))


@bp.post(f"{ROUND}/treasury/pledges/<int:pledge_id>/collect")
@requires(Role.ORGANIZER)
def treasury_collect(community: Community, round_id: int, pledge_id: int):
    funding_round = round_or_404(community, round_id)
    pledge = books.pledge_in(funding_round, pledge_id)
    if pledge is None:
        abort(404)
    form = PaymentForm()
    if form.validate_on_submit():
        done = attempt(
            form,
            treasury.collect_pledge,
            pledge,
            method=PaymentMethod(form.method.data),
            reference=form.reference.data or "",
            actor=current_user,
        )
        if done:
            paid = -ledger.balance(round_id, Account.RESIDENTS, pledge_id=done.id)
            flash(
                f"Recorded {format_cents(paid, community.currency)} from {done.user.name} "
                f"({METHOD_LABELS[done.payment_method].lower()}) for pledge {done.receipt_code}.",
                "success",
            )
            return _back_to_treasury(community, funding_round, f"pledge-{pledge_id}")
    return _treasury_page(community, funding_round, ("collect", pledge_id, form)), 422


@bp.post(f"{ROUND}/treasury/pledges/<int:pledge_id>/refund")
@requires(Role.ORGANIZER)
def treasury_refund(community: Community, round_id: int, pledge_id: int):
    funding_round = round_or_404(community, round_id)
    pledge = books.pledge_in(funding_round, pledge_id)
    if pledge is None:
        abort(404)
    form = PaymentForm()
    if form.validate_on_submit():
        done = attempt(
            form,
            treasury.refund_pledge,
            pledge,
            method=PaymentMethod(form.method.data),
            reference=form.reference.data or "",
            actor=current_user,
        )
        if done:
            cents = ledger.balance(round_id, Account.REFUNDS, pledge_id=done.id)
            flash(
                f"Refunded {format_cents(cents, community.currency)} to {done.user.name} "
                f"for pledge {done.receipt_code}.",
                "success",
            )
            return _back_to_treasury(community, funding_round, f"pledge-{pledge_id}")
    return _treasury_page(community, funding_round, ("refund", pledge_id, form)), 422


@bp.post(f"{ROUND}/treasury/projects/<int:project_id>/disburse")
@requires(Role.ORGANIZER)
def treasury_disburse(community: Community, round_id: int, project_id: int):
    funding_round = round_or_404(community, round_id)
    project = books.project_in(funding_round, project_id)
    if project is None:
        abort(404)
    form = DisburseForm()
    if form.validate_on_submit():
        paid = attempt(
            form,
            treasury.disburse_project,
            project,
            reference=form.reference.data,
            actor=current_user,
        )
        if paid:
            flash(
                f"Paid {format_cents(paid, community.currency)} out to “{project.title}”.",
                "success",
            )
            return _back_to_treasury(community, funding_round, f"project-{project_id}")
    return _treasury_page(community, funding_round, ("disburse", project_id, form)), 422


@bp.post(f"{ROUND}/treasury/close")
@requires(Role.ORGANIZER)
def treasury_close(community: Community, round_id: int):
    """Close the round's books (approved -> settled), writing off unpaid pledges if asked."""
    funding_round = round_or_404(community, round_id)
    form = CloseForm()
    if form.validate_on_submit():
        done = attempt(
            form,
            closing.close_books,
            funding_round,
            write_off=form.write_off.data,
            actor=current_user,
        )
        if done:
            flash("The books are closed: the round is settled.", "success")
            if done.pot:
                flash(
                    f"{format_cents(done.pot, community.currency)} the allocation did not use "
                    "stays in the common pot.",
                    "success",
                )
            return _back_to_treasury(community, funding_round, "closing")
    return _treasury_page(community, funding_round, ("close", 0, form)), 422


@bp.get(f"{ROUND}/treasury/pledges.csv")
@requires(Role.ORGANIZER)
def pledges_csv(community: Community, round_id: int):
    funding_round = round_or_404(community, round_id)
    chosen = _filters(funding_round).values()
    rows = books.pledge_rows(
        funding_round,
        state=chosen.get("state", ""),
        instrument=chosen.get("instrument", ""),
        target=chosen.get("target", ""),
        search=chosen.get("q", ""),
    )
    return _csv(exports.pledges_csv(rows, community.currency), f"round-{round_id}-pledges.csv")


# -- the ledger ----------------------------------------------------------------------------


@bp.get(f"{ROUND}/ledger")
@requires(Role.ORGANIZER)
def ledger_view(community: Community, round_id: int):
    funding_round = round_or_404(community, round_id)
    return render_template(
        "pooling/ledger.html",
        round=funding_round,
        entries=books.ledger_rows(funding_round),
        report=verify([funding_round.id]),
    )


@bp.get(f"{ROUND}/ledger.csv")
@requires(Role.ORGANIZER)
def ledger_csv(community: Community, round_id: int):
    funding_round = round_or_404(community, round_id)
    body = exports.ledger_csv(books.ledger_rows(funding_round), community.currency)
    return _csv(body, f"round-{round_id}-ledger.csv")


# -- statements ----------------------------------------------------------------------------


def _statement_page(community: Community, funding_round: FundingRound, person, own: bool):
    return render_template(
        "pooling/statement.html",
        round=funding_round,
        person=person,
        own=own,
        items=statements.statement(funding_round, person, _money(community)),
        instruments=INSTRUMENT_LABELS,
        methods=METHOD_LABELS,
    )


@bp.get(f"{ROUND}/statement")
@requires(Role.RESIDENT, Role.ORGANIZER, Role.BOARD)
def my_statement(community: Community, round_id: int):
    funding_round = round_or_404(community, round_id)
    return _statement_page(community, funding_round, current_user, own=True)


@bp.get(f"{ROUND}/statement/<int:user_id>")
@requires(Role.RESIDENT, Role.ORGANIZER, Role.BOARD)
def statement_of(community: Community, round_id: int, user_id: int):
    """An organizer reads any member's statement; anyone else only their own (else 404)."""
    funding_round = round_or_404(community, round_id)
    if user_id == current_user.id:
        return _statement_page(community, funding_round, current_user, own=True)
    if not current_user.has_role(community.id, Role.ORGANIZER):
        abort(404)  # not 403: whether that person pledged is not the asker's business
    person = statements.member_of(funding_round, user_id)
    if person is None:
        abort(404)
    return _statement_page(community, funding_round, person, own=False)
