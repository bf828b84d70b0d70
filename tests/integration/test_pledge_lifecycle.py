"""A round's money from pledge to disbursement, with the books checked at every step."""

from __future__ import annotations

from commonpot.extensions import db
from commonpot.models import RoundStatus
from commonpot.rounds.services import transition
from pooling import ledger, treasury
from pooling.allocation import run_allocation
from pooling.grants import add_grant
from pooling.issuing import generate_documents, sign_round
from pooling.ledger import Account
from pooling.ledger_checks import verify
from pooling.models import Condition, Instrument, PaymentMethod, PledgeState, TargetKind
from pooling.pledges import confirm_pledge, make_pledge
from pooling.terms import set_terms
from surveys.services import submit_response
from tests import factories


def _ok() -> None:
    report = verify()
    assert report.problems == ()


def test_pledges_from_promise_to_disbursement(app):
    """Garden costs $3,000, Tutoring $4,000, Safety App $5,000; every resident approves
    Garden and Tutoring. Money: pot $1,000 (r1, collected early), an all-or-nothing $500
    for Safety App (r2: not funded, so released), a $2,000 loan to Tutoring (r3), and a
    $4,000 city grant matching... not used here: the grant covers the rest of both."""
    community, people = factories.community()
    organizer = people["organizer"][0]
    r1, r2, r3 = people["residents"][:3]
    r = factories.open_round(community, organizer)
    garden, tutoring, safety = r.projects
    set_terms(
        r,
        actor=organizer,
        accepts_donations=True,
        accepts_shares=False,
        accepts_loans=True,
        share_price_cents=None,
        loan_rate_bps=300,
        loan_term_months=24,
        min_pledge_cents=100,
        max_pledge_cents=500_000,
        resident_cap_cents=300_000,
    )
    add_grant(
        r,
        name="City seed",
        funder="City",
        amount_cents=400_000,
        priority_area_id=None,
        cap_per_project_cents=None,
        actor=organizer,
    )
    ranks = {a.id: i for i, a in enumerate(r.priority_areas, 1)}
    for resident in people["residents"]:
        submit_response(r, resident, rankings=ranks, votes={garden.id, tutoring.id})
    pot = make_pledge(r, r1, amount_cents=100_000)
    aon = make_pledge(
        r,
        r2,
        amount_cents=50_000,
        target=TargetKind.PROJECT,
        project_ids=[safety.id],
        condition=Condition.ALL_OR_NOTHING,
    )
    loan = make_pledge(
        r,
        r3,
        instrument=Instrument.LOAN,
        amount_cents=200_000,
        target=TargetKind.PROJECT,
        project_ids=[tutoring.id],
    )
    unconfirmed = make_pledge(r, people["residents"][3], amount_cents=7_500)
    for pledge, who in ((pot, r1), (aon, r2), (loan, r3)):
        confirm_pledge(pledge, who)
    assert (loan.loan_rate_bps, loan.loan_term_months) == (300, 24)
    treasury.collect_pledge(pot, method=PaymentMethod.CASH, reference="R-1", actor=organizer)
    db.session.commit()
    _ok()
    assert ledger.balance(r.id, Account.POOL) == 100_000

    transition(r, RoundStatus.CLOSED, actor=organizer)
    run = run_allocation(r, "max-welfare", actor=organizer)
    funded = {o.project.title for o in run.outcomes if o.funded}
    assert funded == {"Garden", "Tutoring"}
    generate_documents(r, actor=organizer)
    for member in people["board"][:2]:
        sign_round(r, member)
    db.session.commit()
    assert r.status == RoundStatus.APPROVED
    _ok()

    assert aon.state == PledgeState.RELEASED and aon.called_cents == 0
    assert unconfirmed.state == PledgeState.RELEASED
    assert loan.state == PledgeState.CONFIRMED and loan.called_cents == 200_000
    assert pot.state == PledgeState.ALLOCATED
    # The loan is earmarked to Tutoring and used there in full; the grant pays the rest.
    treasury.collect_pledge(
        loan, method=PaymentMethod.BANK_TRANSFER, reference="T-9", actor=organizer
    )
    db.session.commit()
    assert loan.state == PledgeState.ALLOCATED
    _ok()
    allocated = {
        p.title: ledger.balance(r.id, Account.PROJECT, project_id=p.id) for p in (garden, tutoring)
    }
    assert allocated == {"Garden": 300_000, "Tutoring": 400_000}
    assert treasury.disburse_project(tutoring, reference="cheque 12", actor=organizer) == 400_000
    db.session.commit()
    assert loan.state == PledgeState.DISBURSED
    _ok()
