"""Every rule of docs/pledges.md, proved through the services on SQLite and PostgreSQL.

Each test states the rule it proves and asserts the outcome: the pledge's fields, the
optimizer's input (`build_input`), the funding plan (`FundingLine`s), the pledge shares,
the ledger's balances and `ledger verify`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from commonpot.audit import AuditEvent
from commonpot.errors import IllegalTransition, ValidationFailed
from commonpot.extensions import db
from commonpot.models import RoundStatus, utcnow
from commonpot.rounds.services import edit_project, transition
from pooling import ledger
from pooling.allocation import build_input, run_allocation
from pooling.grants import add_grant
from pooling.issuing import generate_documents, sign_round
from pooling.ledger import Account, LedgerEntry, LedgerLine
from pooling.ledger_checks import verify
from pooling.models import (
    Condition,
    FundingLine,
    Instrument,
    Notice,
    OverflowRule,
    PaymentMethod,
    Pledge,
    PledgeShare,
    PledgeState,
    SourceKind,
    TargetKind,
)
from pooling.pledge_tallies import pledge_totals
from pooling.pledges import (
    cancel_pledge,
    confirm_pledge,
    make_pledge,
    reconfirm_pledge,
)
from pooling.settlement import apportion, pledge_allocations
from pooling.terms import set_project_funding, set_terms
from pooling.treasury import collect_pledge, disburse_project, refund_pledge
from surveys.services import submit_response
from tests import factories

COMMONPOT = shutil.which("commonpot", path=str(Path(sys.executable).parent)) or "commonpot"
CASH = PaymentMethod.CASH

# Three projects, one per priority area: Garden $300, Tutoring $400, Safety App $500.
GARDEN, TUTORING, SAFETY = 30_000, 40_000, 50_000
PROJECTS = (("Garden", 0, GARDEN), ("Tutoring", 1, TUTORING), ("Safety App", 2, SAFETY))


# --------------------------------------------------------------------------- helpers


def _round(residents: int = 8, **terms):
    community, people = factories.community(residents=residents)
    organizer = people["organizer"][0]
    r = factories.open_round(community, organizer, projects=PROJECTS)
    if terms:
        _terms(r, organizer, **terms)
    return r, people


def _terms(r, organizer, **overrides):
    values = {
        "accepts_donations": True,
        "accepts_shares": False,
        "accepts_loans": False,
        "share_price_cents": None,
        "loan_rate_bps": None,
        "loan_term_months": None,
        "min_pledge_cents": 100,
        "max_pledge_cents": 10_000_000,
        "resident_cap_cents": None,
    }
    values.update(overrides)
    terms = set_terms(r, actor=organizer, **values)
    db.session.commit()
    return terms


def _vote(r, people, *projects):
    ranks = {a.id: i for i, a in enumerate(r.priority_areas, 1)}
    for voter in people["residents"]:
        submit_response(r, voter, rankings=ranks, votes={p.id for p in projects})
    db.session.commit()


def _pledge(r, who, cents, *, confirm=True, **kw):
    pledge = make_pledge(r, who, amount_cents=cents, **kw)
    if confirm:
        confirm_pledge(pledge, who)
    db.session.commit()
    return pledge


def _close_and_allocate(r, people):
    organizer = people["organizer"][0]
    transition(r, RoundStatus.CLOSED, actor=organizer)
    run = run_allocation(r, "max-welfare", actor=organizer)
    db.session.commit()
    return run


def _approve(r, people):
    """Documents generated, signed by a quorum of the board: settle runs at approval."""
    generate_documents(r, actor=people["organizer"][0])
    for member in people["board"][:2]:
        sign_round(r, member)
    db.session.commit()
    assert r.status == RoundStatus.APPROVED


def _sources(r, **kw) -> dict:
    instance, _ = build_input(r, **kw)
    return {s.id: s for s in instance.sources}


def _plan(run) -> dict[str, dict[int, int]]:
    """{source id: {project id: cents}} of a run's funding plan."""
    out: dict[str, dict[int, int]] = {}
    for line in db.session.scalars(select(FundingLine).filter_by(run_id=run.id)):
        slot = out.setdefault(line.source, {})
        slot[line.project_id] = slot.get(line.project_id, 0) + line.cents
    return out


def _shares(pledge) -> dict[int, int]:
    return {
        s.project_id: s.cents
        for s in db.session.scalars(select(PledgeShare).filter_by(pledge_id=pledge.id))
    }


def _lines() -> int:
    return db.session.scalar(select(func.count()).select_from(LedgerLine))


def _ok() -> None:
    assert verify().problems == ()


def _refused(error, call, *args, match: str, **kw):
    """The call is refused with `error` whose message says `match`, and changes nothing."""
    before = _lines()
    with pytest.raises(error) as raised:
        call(*args, **kw)
    assert match in str(raised.value), str(raised.value)
    assert _lines() == before
    db.session.rollback()
    return raised.value


def _cli_verify(app, *args):
    """`commonpot ledger verify --json` as a treasurer runs it, on the test's database."""
    env = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "SECRET_KEY": app.config["SECRET_KEY"],
    }
    result = subprocess.run(
        [COMMONPOT, "ledger", "verify", "--json", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    return result.returncode, json.loads(result.stdout)


# --------------------------------------------------------------------------- instruments


def test_shares_cost_count_times_price_and_loans_copy_the_offer(app):
    r, people = _round(
        accepts_shares=True,
        share_price_cents=2_500,
        accepts_loans=True,
        loan_rate_bps=350,
        loan_term_months=36,
    )
    r1, r2 = people["residents"][:2]
    shares = make_pledge(r, r1, instrument=Instrument.SHARES, shares=7, amount_cents=1)
    assert (shares.instrument, shares.shares, shares.amount_cents) == (
        Instrument.SHARES,
        7,
        7 * 2_500,
    )
    loan = make_pledge(r, r2, instrument=Instrument.LOAN, amount_cents=120_000)
    assert (loan.loan_rate_bps, loan.loan_term_months, loan.shares) == (350, 36, None)
    donation = make_pledge(r, r2, amount_cents=5_000)
    assert donation.loan_rate_bps is None and donation.shares is None
    db.session.commit()
    _refused(
        ValidationFailed,
        make_pledge,
        r,
        r1,
        instrument=Instrument.SHARES,
        shares=0,
        match="Choose how many shares",
    )
    db.session.commit()
    # The terms are fixed once anyone has pledged.
    _refused(
        IllegalTransition,
        set_terms,
        r,
        actor=people["organizer"][0],
        accepts_donations=True,
        accepts_shares=True,
        accepts_loans=True,
        share_price_cents=1_000,
        loan_rate_bps=0,
        loan_term_months=12,
        min_pledge_cents=100,
        max_pledge_cents=10_000_000,
        resident_cap_cents=None,
        match="can no longer change",
    )
    assert db.session.get(Pledge, loan.id).loan_rate_bps == 350


def test_an_instrument_the_round_does_not_accept_is_refused(app):
    r, people = _round()  # unconfigured: donations only
    r1 = people["residents"][0]
    for instrument in (Instrument.SHARES, Instrument.LOAN):
        _refused(
            ValidationFailed,
            make_pledge,
            r,
            r1,
            instrument=instrument,
            amount_cents=10_000,
            shares=2,
            match="does not take that kind of pledge",
        )
    _refused(
        ValidationFailed,
        make_pledge,
        r,
        r1,
        amount_cents=1_000,
        target=TargetKind.PROJECT,
        project_ids=[r.projects[0].id],
        instrument=Instrument.LOAN,
        match="does not take that kind of pledge",
    )
    assert db.session.scalar(select(func.count()).select_from(Pledge)) == 0


# --------------------------------------------------------------------------- limits


def test_smallest_and_largest_pledge(app):
    r, people = _round(min_pledge_cents=500, max_pledge_cents=100_000)
    r1 = people["residents"][0]
    _refused(
        ValidationFailed, make_pledge, r, r1, amount_cents=499, match="smallest pledge is $5.00"
    )
    _refused(ValidationFailed, make_pledge, r, r1, amount_cents=0, match="positive amount")
    _refused(
        ValidationFailed,
        make_pledge,
        r,
        r1,
        amount_cents=100_001,
        match="at most $1,000.00",
    )
    assert make_pledge(r, r1, amount_cents=500).amount_cents == 500
    assert (
        make_pledge(
            r,
            r1,
            amount_cents=100_000,
            target=TargetKind.AREA,
            priority_area_id=r.priority_areas[0].id,
        ).amount_cents
        == 100_000
    )
    # Whatever the terms say, one pledge holds at most $100,000.
    r2 = factories.open_round(r.community, people["organizer"][0], projects=PROJECTS)
    _refused(
        ValidationFailed,
        make_pledge,
        r2,
        r1,
        amount_cents=10_000_001,
        match="at most $100,000.00",
    )


def test_cap_per_resident_across_the_round(app):
    r, people = _round(resident_cap_cents=30_000)
    r1, r2 = people["residents"][:2]
    garden, tutoring, _ = r.projects
    pot = _pledge(r, r1, 10_000)
    _pledge(r, r1, 15_000, target=TargetKind.PROJECT, project_ids=[garden.id])
    error = _refused(
        ValidationFailed,
        make_pledge,
        r,
        r1,
        amount_cents=10_000,
        target=TargetKind.AREA,
        priority_area_id=r.priority_areas[1].id,
        match="Each resident may pledge at most $300.00 in this round; you can add $50.00.",
    )
    assert error.errors[0][0] == "amount"
    # Unconfirmed pledges count towards the cap too.
    pending = _pledge(
        r, r1, 5_000, confirm=False, target=TargetKind.PROJECT, project_ids=[tutoring.id]
    )
    _refused(
        ValidationFailed,
        make_pledge,
        r,
        r1,
        amount_cents=100,
        target=TargetKind.AREA,
        priority_area_id=r.priority_areas[1].id,
        match="you can add $0.00",
    )
    # Changing an unconfirmed pledge is measured without its old amount.
    assert (
        _pledge(
            r, r1, 4_000, confirm=False, target=TargetKind.PROJECT, project_ids=[tutoring.id]
        ).id
        == pending.id
    )
    # A cancelled pledge frees its room; another resident has their own cap.
    cancel_pledge(pot, r1)
    db.session.commit()
    _pledge(r, r1, 11_000, target=TargetKind.AREA, priority_area_id=r.priority_areas[1].id)
    _pledge(r, r2, 30_000)
    live = db.session.scalar(
        select(func.sum(Pledge.amount_cents)).where(
            Pledge.user_id == r1.id, Pledge.state != PledgeState.CANCELLED
        )
    )
    assert live == 30_000
    _ok()


def test_project_maximum_refuses_or_sends_to_the_pot(app):
    r, people = _round()
    organizer = people["organizer"][0]
    r1, r2, r3, r4 = people["residents"][:4]
    garden, tutoring, safety = r.projects
    set_project_funding(
        garden,
        actor=organizer,
        min_cents=None,
        optimum_cents=None,
        max_cents=20_000,
        overflow=OverflowRule.REFUSE,
        hours_needed=None,
    )
    set_project_funding(
        tutoring,
        actor=organizer,
        min_cents=None,
        optimum_cents=None,
        max_cents=10_000,
        overflow=OverflowRule.POT,
        hours_needed=None,
    )
    db.session.commit()
    _pledge(r, r1, 15_000, target=TargetKind.PROJECT, project_ids=[garden.id])
    _refused(
        ValidationFailed,
        make_pledge,
        r,
        r2,
        amount_cents=10_000,
        target=TargetKind.PROJECT,
        project_ids=[garden.id],
        match="“Garden” is close to its maximum of $200.00: at most $50.00 more can be "
        "pledged to it.",
    )
    exact = _pledge(r, r2, 5_000, target=TargetKind.PROJECT, project_ids=[garden.id])
    assert exact.project_id == garden.id
    _refused(
        ValidationFailed,
        make_pledge,
        r,
        r3,
        amount_cents=100,
        target=TargetKind.PROJECT,
        project_ids=[garden.id],
        match="at most $0.00 more",
    )
    # Several-project pledges do not count towards one project's maximum.
    several = _pledge(r, r4, 50_000, target=TargetKind.PROJECTS, project_ids=[garden.id, safety.id])
    assert several.state == PledgeState.CONFIRMED
    # Overflow "pot": the pledge lands in the common pot, keep-it-all.
    redirected = _pledge(
        r,
        r3,
        15_000,
        target=TargetKind.PROJECT,
        project_ids=[tutoring.id],
        condition=Condition.ALL_OR_NOTHING,
    )
    assert (redirected.target, redirected.target_key, redirected.project_id) == (
        TargetKind.POT,
        "pot",
        None,
    )
    assert redirected.condition == Condition.KEEP_IT_ALL
    made = db.session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "pledge.made", AuditEvent.subject == f"pledge:{redirected.id}"
        )
    )
    assert json.loads(made.data)["redirected_to_pot"] is True
    pool, earmarked, _ = pledge_totals(r)
    assert pool == 15_000 and earmarked == {garden.id: 20_000}
    _ok()


# --------------------------------------------------------------------------- targets


def test_targets_and_the_cap_across_several_projects(app):
    """Garden $3,000 (area 0) and Tutoring $4,000 (area 1) are everyone's choice. A $200
    pledge to both may pay at most $200 across them, however the plan splits it."""
    r, people = _round()
    r1, r2, r3, r4 = people["residents"][:4]
    garden, tutoring, safety = r.projects
    _vote(r, people, garden, tutoring)
    pot = _pledge(r, r1, 25_000)
    area = _pledge(r, r2, 20_000, target=TargetKind.AREA, priority_area_id=r.priority_areas[2].id)
    one = _pledge(r, r3, 30_000, target=TargetKind.PROJECT, project_ids=[tutoring.id])
    several = _pledge(
        r, r4, 20_000, target=TargetKind.PROJECTS, project_ids=[tutoring.id, garden.id]
    )
    assert (pot.target_key, area.target_key, one.target_key, several.target_key) == (
        "pot",
        f"area:{r.priority_areas[2].id}",
        f"project:{tutoring.id}",
        f"projects:{garden.id},{tutoring.id}",
    )
    assert area.priority_area_id == r.priority_areas[2].id and area.project_id is None
    assert one.project_id == tutoring.id and several.project_id is None
    assert several.target_project_ids == sorted([garden.id, tutoring.id])
    _refused(
        ValidationFailed,
        make_pledge,
        r,
        r4,
        amount_cents=100,
        target=TargetKind.PROJECTS,
        project_ids=[garden.id],
        match="at least two projects",
    )
    _refused(
        ValidationFailed,
        make_pledge,
        r,
        r4,
        amount_cents=100,
        target=TargetKind.PROJECT,
        project_ids=[garden.id, tutoring.id],
        match="Choose one project",
    )
    _refused(
        ValidationFailed,
        make_pledge,
        r,
        r4,
        amount_cents=100,
        target=TargetKind.AREA,
        priority_area_id=None,
        match="priority areas",
    )

    sources = _sources(r)
    assert sources["pool"].amount == 25_000 and sources["pool"].kind == "pool"
    # Categories are priority-area names (the optimizer's texts name areas by them).
    assert sources[f"earmark:area:{r.priority_areas[2].id}"].categories == frozenset(
        {r.priority_areas[2].name}
    )
    assert sources[f"earmark:project:{tutoring.id}"].projects == frozenset({str(tutoring.id)})
    capped = sources[f"pledge:{several.id}"]
    assert capped.amount == 20_000 and capped.kind == "earmark"
    assert capped.projects == frozenset({str(garden.id), str(tutoring.id)})

    run = _close_and_allocate(r, people)
    plan = _plan(run)
    funded = {o.project_id for o in run.outcomes if o.funded}
    assert funded == {garden.id, tutoring.id}
    for project in r.projects:  # a selected project is always funded at its full cost
        got = sum(per.get(project.id, 0) for per in plan.values())
        assert got == (project.cost_cents if project.id in funded else 0)
    assert sum(plan[f"pledge:{several.id}"].values()) <= 20_000  # the cap across both
    assert set(plan[f"pledge:{several.id}"]) <= {garden.id, tutoring.id}
    assert plan[f"earmark:project:{tutoring.id}"] == {tutoring.id: 30_000}
    assert f"earmark:area:{r.priority_areas[2].id}" not in plan  # Safety is not funded

    _approve(r, people)
    assert sum(_shares(several).values()) == sum(plan[f"pledge:{several.id}"].values())
    collect_pledge(several, method=CASH, reference="S", actor=people["organizer"][0])
    db.session.commit()
    into = {
        pid: ledger.balance(r.id, Account.PROJECT, pledge_id=several.id, project_id=pid)
        for pid in (garden.id, tutoring.id, safety.id)
    }
    assert sum(into.values()) <= 20_000 and into[safety.id] == 0
    assert into == {pid: _shares(several).get(pid, 0) for pid in into}
    _ok()


# --------------------------------------------------------------------------- the settlement


def test_settlement_at_approval(app):
    """Garden $3,000 and Tutoring $4,000 are chosen; Safety $5,000 is not.

    a: all-or-nothing $400 to Garden -> called for the $300 used, $100 released
    b: all-or-nothing $100 to Safety -> released, nothing collectable
    c: keep-it-all $100 to Safety -> called in full; paid, it stays in the pot
    d, e, f: pot $200 (paid early), $200, $50 -> pay Tutoring's $400 pro rata
    g: an unconfirmed pot pledge -> does not count, released
    """
    r, people = _round(residents=8)
    organizer = people["organizer"][0]
    ra, rb, rc, rd, re_, rf, rg = people["residents"][:7]
    garden, tutoring, safety = r.projects
    _vote(r, people, garden, tutoring)
    a = _pledge(
        r,
        ra,
        40_000,
        target=TargetKind.PROJECT,
        project_ids=[garden.id],
        condition=Condition.ALL_OR_NOTHING,
    )
    b = _pledge(
        r,
        rb,
        10_000,
        target=TargetKind.PROJECT,
        project_ids=[safety.id],
        condition=Condition.ALL_OR_NOTHING,
    )
    c = _pledge(r, rc, 10_000, target=TargetKind.PROJECT, project_ids=[safety.id])
    d = _pledge(r, rd, 20_000)
    e = _pledge(r, re_, 20_000)
    f = _pledge(r, rf, 5_000)
    g = _pledge(r, rg, 7_500, confirm=False, condition=Condition.ALL_OR_NOTHING)
    assert g.condition == Condition.KEEP_IT_ALL  # a pot pledge is never conditional
    # Keep-it-all can be paid once confirmed; all-or-nothing only after approval.
    collect_pledge(d, method=CASH, reference="D", actor=organizer)
    db.session.commit()
    _refused(
        IllegalTransition,
        collect_pledge,
        a,
        method=CASH,
        reference="A",
        actor=organizer,
        match="only once the board approves",
    )
    assert ledger.balance(r.id, Account.POOL) == 20_000
    assert ledger.balance(r.id, Account.PROMISED) == 40_000 + 10_000 + 10_000 + 20_000 + 5_000

    sources = _sources(r)
    assert sources["pool"].amount == 45_000  # d, e, f; not the unconfirmed g
    run = _close_and_allocate(r, people)
    plan = _plan(run)
    assert plan[f"earmark:project:{garden.id}"] == {garden.id: GARDEN}
    assert plan["pool"] == {tutoring.id: TUTORING}
    assert not any(safety.id in per for per in plan.values())
    _approve(r, people)

    # Pro rata over the pot's pledges, largest remainder: 40,000 x (20,000, 20,000, 5,000)
    # / 45,000 = 17,777.8, 17,777.8, 4,444.4 -> 17,778, 17,778, 4,444.
    assert [_shares(p) for p in (d, e, f)] == [
        {tutoring.id: 17_778},
        {tutoring.id: 17_778},
        {tutoring.id: 4_444},
    ]
    assert _shares(a) == {garden.id: 30_000} and _shares(b) == {} == _shares(c)
    states = {p.id: (p.state, p.called_cents) for p in (a, b, c, d, e, f, g)}
    assert states == {
        a.id: (PledgeState.CONFIRMED, 30_000),
        b.id: (PledgeState.RELEASED, 0),
        c.id: (PledgeState.CONFIRMED, 10_000),
        d.id: (PledgeState.ALLOCATED, None),
        e.id: (PledgeState.CONFIRMED, 20_000),
        f.id: (PledgeState.CONFIRMED, 5_000),
        g.id: (PledgeState.RELEASED, 0),
    }
    assert ledger.balance(r.id, Account.PROMISED, pledge_id=a.id) == 30_000  # $100 released
    assert ledger.balance(r.id, Account.PROMISED, pledge_id=b.id) == 0
    assert ledger.balance(r.id, Account.PROJECT, pledge_id=d.id) == 17_778
    _ok()
    # Each resident got a notice (and, once the approval committed, a mail).
    notices = {
        n.pledge_id: n.kind
        for n in db.session.scalars(select(Notice).where(Notice.kind != "reconfirm"))
    }
    assert notices == {
        a.id: "called",
        b.id: "released",
        c.id: "called",
        d.id: "allocated",
        e.id: "called",
        f.id: "called",
        g.id: "released",
    }
    mailed = {m["To"] for m in app.extensions["outbox"]}
    assert mailed == {who.email for who in (ra, rb, rc, rd, re_, rf, rg)}
    _refused(
        IllegalTransition,
        collect_pledge,
        b,
        method=CASH,
        reference="B",
        actor=organizer,
        match="released pledge cannot be collected",
    )
    _refused(
        IllegalTransition,
        collect_pledge,
        g,
        method=CASH,
        reference="G",
        actor=organizer,
        match="released pledge cannot be collected",
    )
    for pledge in (a, c, e, f):
        collect_pledge(pledge, method=CASH, reference="pay", actor=organizer)
    db.session.commit()
    _ok()
    assert ledger.balance(r.id, Account.RESIDENTS, pledge_id=a.id) == -30_000  # only the call
    assert {p.id: p.state for p in (a, c, e, f)} == {
        a.id: PledgeState.ALLOCATED,
        c.id: PledgeState.COLLECTED,  # keep-it-all, unused: it stays in the pot
        e.id: PledgeState.ALLOCATED,
        f.id: PledgeState.ALLOCATED,
    }
    assert ledger.balance(r.id, Account.POOL, pledge_id=c.id) == 10_000
    assert ledger.balance(r.id, Account.POOL) == 10_000 + 2_222 + 2_222 + 556
    assert ledger.balance(r.id, Account.PROJECT, project_id=garden.id) == GARDEN
    assert ledger.balance(r.id, Account.PROJECT, project_id=tutoring.id) == TUTORING

    assert disburse_project(garden, reference="cheque 1", actor=organizer) == 30_000
    assert disburse_project(tutoring, reference="cheque 2", actor=organizer) == 40_000
    db.session.commit()
    _refused(
        IllegalTransition,
        disburse_project,
        tutoring,
        reference="again",
        actor=organizer,
        match="Nothing has been allocated",
    )
    assert {p.state for p in (a, d, e, f)} == {PledgeState.DISBURSED}
    assert ledger.balance(r.id, Account.DISBURSED) == 70_000
    assert ledger.balance(r.id, Account.POOL) == 15_000
    _ok()
    code, report = _cli_verify(app)
    assert code == 0 and report["ok"] and report["broken"] is None, report
    # A paid pledge whose share never reached its project is caught too.
    db.session.add(PledgeShare(pledge_id=c.id, project_id=safety.id, run_id=run.id, cents=1))
    db.session.flush()
    assert [(p.invariant, p.detail) for p in verify().problems] == [
        (
            "allocations follow the approved plan",
            f"pledge {c.id} is paid but allocated 0 cents of its share of 1",
        )
    ]
    db.session.rollback()


def test_unconfirmed_pledges_do_not_count(app):
    r, people = _round()
    r1, r2 = people["residents"][:2]
    garden = r.projects[0]
    _pledge(r, r1, 12_000, confirm=False)
    _pledge(r, r2, 8_000, confirm=False, target=TargetKind.PROJECT, project_ids=[garden.id])
    assert set(_sources(r)) == {"pool"} and _sources(r)["pool"].amount == 0
    assert pledge_totals(r) == (0, {}, 0)
    assert ledger.balance(r.id, Account.PROMISED) == 0
    confirmed = _pledge(r, r1, 12_000)
    assert _sources(r)["pool"].amount == 12_000
    assert ledger.balance(r.id, Account.PROMISED, pledge_id=confirmed.id) == 12_000


# --------------------------------------------------------------------------- idempotency


def test_the_same_submission_twice_is_one_pledge(app):
    r, people = _round()
    r1 = people["residents"][0]
    garden = r.projects[0]
    kw = {"target": TargetKind.PROJECT, "project_ids": [garden.id]}
    first = make_pledge(r, r1, amount_cents=10_000, **kw)
    db.session.commit()
    again = make_pledge(r, r1, amount_cents=10_000, **kw)
    db.session.commit()
    assert again.id == first.id
    changed = make_pledge(r, r1, amount_cents=12_000, **kw)  # unconfirmed: changes it
    db.session.commit()
    assert changed.id == first.id and changed.amount_cents == 12_000
    confirm_pledge(changed, r1)
    confirm_pledge(changed, r1)  # confirming twice is confirming once
    db.session.commit()
    assert make_pledge(r, r1, amount_cents=12_000, **kw).id == first.id
    db.session.commit()
    error = _refused(
        ValidationFailed,
        make_pledge,
        r,
        r1,
        amount_cents=15_000,
        match="You already confirmed a donation pledge of $120.00 to this target. Cancel it "
        "first to pledge a different amount.",
        **kw,
    )
    assert error.errors[0][0] == "amount"
    _refused(
        ValidationFailed,
        make_pledge,
        r,
        r1,
        amount_cents=12_000,
        condition=Condition.ALL_OR_NOTHING,
        match="Cancel it first",
        **kw,
    )
    assert db.session.scalar(select(func.count()).select_from(Pledge)) == 1
    assert db.session.get(Pledge, first.id).amount_cents == 12_000
    entries = db.session.scalars(select(LedgerEntry.kind)).all()
    assert entries == ["confirm"]
    actions = db.session.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.subject == f"pledge:{first.id}")
        .order_by(AuditEvent.seq)
    ).all()
    assert actions == ["pledge.made", "pledge.changed", "pledge.confirmed"]
    # After a cancel the same target takes a new pledge.
    cancel_pledge(changed, r1)
    db.session.commit()
    fresh = _pledge(r, r1, 15_000, **kw)
    assert fresh.id != first.id
    _ok()


# --------------------------------------------------------------------------- cancel


def test_cancel_until_48_hours_before_the_close(app):
    r, people = _round()
    r1, r2, r3 = people["residents"][:3]
    early = _pledge(r, r1, 10_000)
    pending = _pledge(r, r2, 10_000, confirm=False)
    late = _pledge(r, r3, 10_000)
    r.closes_at = utcnow() + timedelta(hours=49)
    db.session.commit()
    cancel_pledge(early, r1)
    cancel_pledge(pending, r2)
    db.session.commit()
    assert early.state == pending.state == PledgeState.CANCELLED
    assert ledger.balance(r.id, Account.PROMISED, pledge_id=early.id) == 0  # promise reversed
    r.closes_at = utcnow() + timedelta(hours=47)
    db.session.commit()
    _refused(
        IllegalTransition, cancel_pledge, late, r3, match="until 48 hours before the round closes"
    )
    assert db.session.get(Pledge, late.id).state == PledgeState.CONFIRMED
    _refused(ValidationFailed, cancel_pledge, late, r1, match="not your pledge")
    # No close scheduled: while the round is open.
    r.closes_at = None
    db.session.commit()
    cancel_pledge(late, r3)
    db.session.commit()
    assert late.state == PledgeState.CANCELLED
    another = _pledge(r, r3, 5_000)
    transition(r, RoundStatus.CLOSED, actor=people["organizer"][0])
    db.session.commit()
    _refused(IllegalTransition, cancel_pledge, another, r3, match="48 hours")
    _ok()


def test_cancelling_a_paid_pledge_asks_for_a_refund(app):
    r, people = _round()
    organizer = people["organizer"][0]
    r1, r2 = people["residents"][:2]
    paid = _pledge(r, r1, 25_000)
    other = _pledge(r, r2, 5_000)
    for pledge in (paid, other):
        collect_pledge(pledge, method=PaymentMethod.BANK_TRANSFER, reference="T", actor=organizer)
    db.session.commit()
    _refused(
        IllegalTransition,
        refund_pledge,
        other,
        method=CASH,
        reference="x",
        actor=organizer,
        match="Only a pledge its resident cancelled",
    )
    cancel_pledge(paid, r1)
    db.session.commit()
    assert (paid.state, paid.refund_requested, paid.counts) == (PledgeState.COLLECTED, True, False)
    assert _sources(r)["pool"].amount == 5_000  # it no longer counts
    assert pledge_totals(r)[0] == 5_000
    assert cancel_pledge(paid, r1).state == PledgeState.COLLECTED  # asking twice is once
    refund_pledge(paid, method=CASH, reference="R-1", actor=organizer)
    db.session.commit()
    assert paid.state == PledgeState.REFUNDED
    assert ledger.balance(r.id, Account.REFUNDS, pledge_id=paid.id) == 25_000
    assert ledger.balance(r.id, Account.POOL, pledge_id=paid.id) == 0
    assert ledger.balance(r.id, Account.POOL) == 5_000
    _refused(
        IllegalTransition,
        refund_pledge,
        paid,
        method=CASH,
        reference="again",
        actor=organizer,
        match="refunded pledge cannot be refunded",
    )
    assert any("refunded" in n.text for n in db.session.scalars(select(Notice)))
    _ok()


def test_a_pledge_waiting_for_its_refund_no_longer_counts_against_the_limits(app):
    """Cancelled after payment, a pledge "no longer counts": like a cancelled unpaid pledge,
    it frees the resident's room under the cap and the project's room under its maximum."""
    r, people = _round(resident_cap_cents=30_000)
    organizer = people["organizer"][0]
    r1, r2 = people["residents"][:2]
    garden = r.projects[0]
    set_project_funding(
        garden,
        actor=organizer,
        min_cents=None,
        optimum_cents=None,
        max_cents=25_000,
        overflow=OverflowRule.REFUSE,
        hours_needed=None,
    )
    paid = _pledge(r, r1, 25_000, target=TargetKind.PROJECT, project_ids=[garden.id])
    collect_pledge(paid, method=CASH, reference="P", actor=organizer)
    db.session.commit()
    cancel_pledge(paid, r1)
    db.session.commit()
    assert paid.refund_requested and paid.state == PledgeState.COLLECTED
    again = _pledge(r, r1, 30_000)  # the whole cap is free again
    theirs = _pledge(r, r2, 25_000, target=TargetKind.PROJECT, project_ids=[garden.id])
    assert again.state == theirs.state == PledgeState.CONFIRMED
    refund_pledge(paid, method=CASH, reference="R", actor=organizer)
    db.session.commit()
    _ok()


# --------------------------------------------------------------------------- material change


def test_material_change_needs_reconfirmation(app):
    r, people = _round()
    organizer = people["organizer"][0]
    r1, r2, r3, r4 = people["residents"][:4]
    garden, tutoring, safety = r.projects
    _vote(r, people, garden, tutoring)
    one = _pledge(r, r1, 30_000, target=TargetKind.PROJECT, project_ids=[garden.id])
    several = _pledge(r, r2, 20_000, target=TargetKind.PROJECTS, project_ids=[garden.id, safety.id])
    paid = _pledge(r, r3, 10_000, target=TargetKind.PROJECT, project_ids=[garden.id])
    collect_pledge(paid, method=CASH, reference="P", actor=organizer)
    elsewhere = _pledge(r, r4, 40_000, target=TargetKind.PROJECT, project_ids=[tutoring.id])
    db.session.commit()

    def edit(project, **changes):
        values = {
            "title": project.title,
            "description": project.description,
            "cost_cents": project.cost_cents,
            "priority_area_id": project.priority_area_id,
            "lead_name": project.lead_name,
        }
        values.update(changes)
        return edit_project(project, actor=organizer, **values)

    edit(garden, title="Community Garden")  # not material
    db.session.commit()
    assert not any(p.awaiting_reconfirmation for p in (one, several, paid))
    outbox = app.extensions["outbox"]
    outbox.clear()
    edit(garden, cost_cents=25_000)
    assert outbox == []  # the mail leaves only once the change commits
    db.session.commit()
    assert {p.id for p in (one, several, paid) if p.awaiting_reconfirmation} == {
        one.id,
        several.id,
        paid.id,
    }
    assert not elsewhere.awaiting_reconfirmation
    assert len(outbox) == 3
    sources = _sources(r)
    assert f"earmark:project:{garden.id}" not in sources and f"pledge:{several.id}" not in sources
    assert sources[f"earmark:project:{tutoring.id}"].amount == 40_000
    assert pledge_totals(r)[1] == {tutoring.id: 40_000}
    _refused(
        IllegalTransition,
        collect_pledge,
        one,
        method=CASH,
        reference="x",
        actor=organizer,
        match="waits for the resident to reconfirm",
    )
    reconfirm_pledge(one, r1)
    db.session.commit()
    sources = _sources(r)
    assert sources[f"earmark:project:{garden.id}"].amount == 30_000
    assert f"pledge:{several.id}" not in sources
    # Not reconfirmed by the approval: released, or (if paid) marked for a refund.
    _close_and_allocate(r, people)
    _refused(IllegalTransition, reconfirm_pledge, several, r2, match="round has closed")
    _approve(r, people)
    assert several.state == PledgeState.RELEASED
    assert ledger.balance(r.id, Account.PROMISED, pledge_id=several.id) == 0
    assert (paid.state, paid.refund_requested) == (PledgeState.COLLECTED, True)
    assert one.state == PledgeState.CONFIRMED and one.called_cents == 30_000
    refund_pledge(paid, method=CASH, reference="back", actor=organizer)
    db.session.commit()
    assert paid.state == PledgeState.REFUNDED
    _ok()


# --------------------------------------------------------------------------- grants


def test_an_expired_grant_is_not_used(app):
    r, people = _round()
    grant = add_grant(
        r,
        name="Spring fund",
        funder="City",
        amount_cents=100_000,
        priority_area_id=None,
        cap_per_project_cents=None,
        actor=people["organizer"][0],
        expires_on=date.today(),
    )
    db.session.commit()
    assert f"grant:{grant.id}" in _sources(r, on=date.today())
    assert f"grant:{grant.id}" not in _sources(r, on=date.today() + timedelta(days=1))
    _refused(
        ValidationFailed,
        add_grant,
        r,
        name="Old",
        funder="x",
        amount_cents=1_000,
        priority_area_id=None,
        cap_per_project_cents=None,
        actor=people["organizer"][0],
        expires_on=date.today() - timedelta(days=1),
        match="This date has passed",
    )


def test_grants_in_the_plan_and_at_approval(app):
    """Listed projects, a 1:1 matching grant and an expired grant, through to settlement."""
    r, people = _round()
    organizer = people["organizer"][0]
    r1, r2 = people["residents"][:2]
    garden, tutoring, safety = r.projects
    _vote(r, people, garden, tutoring, safety)
    listed = add_grant(
        r,
        name="Schools",
        funder="Board of Ed",
        amount_cents=40_000,
        priority_area_id=None,
        cap_per_project_cents=None,
        actor=organizer,
        project_ids=[tutoring.id],
    )
    matching = add_grant(
        r,
        name="Match",
        funder="Foundation",
        amount_cents=30_000,
        priority_area_id=None,
        cap_per_project_cents=None,
        actor=organizer,
        match_percent=100,
    )
    expired = add_grant(
        r,
        name="Last year",
        funder="City",
        amount_cents=100_000,
        priority_area_id=None,
        cap_per_project_cents=None,
        actor=organizer,
        expires_on=date.today(),
    )
    garden_only = add_grant(
        r,
        name="Food bank",
        funder="Co-op",
        amount_cents=20_000,
        priority_area_id=r.priority_areas[0].id,
        cap_per_project_cents=5_000,
        actor=organizer,
    )
    db.session.commit()
    assert ledger.balance(r.id, Account.GRANTS) == 190_000
    _pledge(r, r1, 30_000)
    _pledge(r, r2, 20_000, target=TargetKind.PROJECT, project_ids=[safety.id])
    expired.expires_on = date.today() - timedelta(days=1)  # time passes before the run
    db.session.commit()

    run = _close_and_allocate(r, people)
    plan = _plan(run)
    assert f"grant:{expired.id}" not in plan
    assert set(plan[f"grant:{listed.id}"]) == {tutoring.id}
    assert set(plan.get(f"grant:{garden_only.id}", {})) <= {garden.id}  # its area only
    assert all(c <= 5_000 for c in plan.get(f"grant:{garden_only.id}", {}).values())
    funded = {o.project_id for o in run.outcomes if o.funded}
    assert funded == {garden.id, tutoring.id, safety.id}
    for project in r.projects:
        assert sum(per.get(project.id, 0) for per in plan.values()) == project.cost_cents
        residents = sum(
            per.get(project.id, 0) for src, per in plan.items() if not src.startswith("grant:")
        )
        assert plan[f"grant:{matching.id}"].get(project.id, 0) <= residents  # 100 % match
    kinds = {line.source: line.kind for line in db.session.scalars(select(FundingLine))}
    assert kinds[f"grant:{listed.id}"] == SourceKind.GRANT and kinds["pool"] == SourceKind.POOL

    _approve(r, people)
    for grant in (listed, matching, expired, garden_only):
        used = plan.get(f"grant:{grant.id}", {})
        for project in r.projects:
            assert ledger.balance(
                r.id, Account.PROJECT, grant_id=grant.id, project_id=project.id
            ) == used.get(project.id, 0)
        assert ledger.balance(r.id, Account.GRANTS, grant_id=grant.id) == 0
        assert ledger.balance(r.id, Account.FUNDERS, grant_id=grant.id) == -sum(used.values())
    assert ledger.balance(r.id, Account.FUNDERS, grant_id=expired.id) == 0  # all released
    settles = db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.kind == "grant_settle").order_by(LedgerEntry.id)
    ).all()
    assert len(settles) == 4
    assert [e.memo for e in settles if e.memo.startswith("Last year")] == [
        "Last year: used $0.00, released $1,000.00"
    ]
    _ok()


# --------------------------------------------------------------------------- illegal moves


def test_illegal_transitions_are_refused_and_change_nothing(app):
    r, people = _round()
    organizer = people["organizer"][0]
    r1, r2, r3 = people["residents"][:3]
    garden = r.projects[0]
    _vote(r, people, garden)
    pledged = _pledge(r, r1, 10_000, confirm=False)
    cancelled = _pledge(r, r2, 10_000)
    cancel_pledge(cancelled, r2)
    confirmed = _pledge(r, r3, 300_000)
    db.session.commit()
    _refused(
        IllegalTransition,
        collect_pledge,
        pledged,
        method=CASH,
        reference="x",
        actor=organizer,
        match="A pledged pledge cannot be collected",
    )
    _refused(
        IllegalTransition,
        confirm_pledge,
        cancelled,
        r2,
        match="A cancelled pledge cannot be confirmed",
    )
    _refused(
        IllegalTransition,
        disburse_project,
        garden,
        reference="x",
        actor=organizer,
        match="after the board approves",
    )
    _refused(
        IllegalTransition,
        refund_pledge,
        confirmed,
        method=CASH,
        reference="x",
        actor=organizer,
        match="A confirmed pledge cannot be refunded",
    )
    _refused(
        ValidationFailed,
        collect_pledge,
        confirmed,
        method=CASH,
        reference="x",
        actor=r1,
        match="Only the round's organizers",
    )
    _refused(ValidationFailed, confirm_pledge, pledged, r2, match="not your pledge")
    stranger = factories.user("stranger@elsewhere.test")
    _refused(
        ValidationFailed,
        make_pledge,
        r,
        stranger,
        amount_cents=5_000,
        match="Only members of this community can pledge",
    )
    _refused(IllegalTransition, sign_round, r, people["board"][0], match="allocated round")
    _refused(
        IllegalTransition,
        transition,
        r,
        RoundStatus.APPROVED,
        actor=organizer,
        match="cannot become approved",
    )
    transition(r, RoundStatus.CLOSED, actor=organizer)
    db.session.commit()
    _refused(
        IllegalTransition,
        make_pledge,
        r,
        r1,
        amount_cents=5_000,
        match="only be made while the round is open",
    )
    _refused(
        IllegalTransition,
        confirm_pledge,
        pledged,
        r1,
        match="only be confirmed while the round is open",
    )
    _refused(IllegalTransition, cancel_pledge, confirmed, r3, match="48 hours")
    run_allocation(r, "max-welfare", actor=organizer)
    db.session.commit()
    _approve(r, people)
    assert pledged.state == PledgeState.RELEASED and cancelled.state == PledgeState.CANCELLED
    _refused(
        IllegalTransition, cancel_pledge, pledged, r1, match="A released pledge cannot be cancelled"
    )
    _refused(IllegalTransition, sign_round, r, people["board"][2], match="allocated round")
    _refused(
        IllegalTransition,
        disburse_project,
        garden,
        reference="x",
        actor=organizer,
        match="Nothing has been allocated",
    )
    collect_pledge(confirmed, method=CASH, reference="x", actor=organizer)
    db.session.commit()
    _refused(
        IllegalTransition,
        collect_pledge,
        confirmed,
        method=CASH,
        reference="again",
        actor=organizer,
        match="allocated pledge cannot be collected",
    )
    _refused(
        IllegalTransition,
        refund_pledge,
        confirmed,
        method=CASH,
        reference="x",
        actor=organizer,
        match="allocated pledge cannot be refunded",
    )
    assert disburse_project(garden, reference="x", actor=organizer) == GARDEN
    db.session.commit()
    _ok()


# --------------------------------------------------------------------------- the books


def test_the_ledger_is_append_only(app):
    r, people = _round()
    _pledge(r, people["residents"][0], 10_000)
    before = [
        (line.id, line.account, line.cents)
        for line in db.session.scalars(select(LedgerLine).order_by(LedgerLine.id))
    ]
    assert len(before) == 2
    for statement in (
        "UPDATE ledger_line SET cents = cents * 2",
        "DELETE FROM ledger_line",
        "UPDATE ledger_entry SET memo = 'changed'",
        "DELETE FROM ledger_entry",
    ):
        with pytest.raises(DBAPIError) as raised, db.engine.begin() as conn:
            conn.execute(text(statement))
        assert "append-only" in str(raised.value), statement
    line = db.session.scalars(select(LedgerLine)).first()
    line.cents += 1
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.scalars(select(LedgerLine)).first())
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.flush()
    db.session.rollback()
    entry = db.session.scalars(select(LedgerEntry)).first()
    entry.memo = "rewritten"
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.commit()
    db.session.rollback()
    after = [
        (line.id, line.account, line.cents)
        for line in db.session.scalars(select(LedgerLine).order_by(LedgerLine.id))
    ]
    assert after == before
    _ok()


def test_ledger_verify_catches_tampering(app):
    """Three rounds tampered with three ways; the CLI names each round's broken invariant."""
    community, people = factories.community()
    organizer = people["organizer"][0]
    r1, r2 = people["residents"][:2]
    rounds = [factories.open_round(community, organizer) for _ in range(4)]
    paid: list[Pledge] = []
    for r in rounds:
        p = _pledge(r, r1, 10_000)
        collect_pledge(p, method=CASH, reference="x", actor=organizer)
        paid.append(p)
        _pledge(r, r2, 5_000)
    db.session.commit()
    _ok()
    unbalanced, overdrawn, misstated, clean = rounds
    # 1. A line slipped into an existing entry: the entry no longer sums to zero.
    entry = db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.round_id == unbalanced.id)
    ).first()
    db.session.add(
        LedgerLine(entry_id=entry.id, round_id=unbalanced.id, account=Account.POOL, cents=500)
    )
    # 2. A balanced entry that takes more out of the pot than was ever paid in.
    ledger.post(
        community_id=community.id,
        round_id=overdrawn.id,
        kind="disburse",
        lines=ledger.transfer(Account.DISBURSED, Account.POOL, 10_001),
        actor_id=organizer.id,
    )
    # 3. A pledge's state changed behind the ledger's back.
    db.session.execute(
        text("UPDATE pledge SET state = 'cancelled' WHERE id = :id"), {"id": paid[2].id}
    )
    db.session.commit()
    problems = verify().problems
    first = {}
    for problem in problems:
        first.setdefault(problem.round_id, problem.invariant)
    expected = {
        unbalanced.id: "entries balance",
        overdrawn.id: "no negative pool",
        misstated.id: "pledge states match the ledger",
    }
    assert first == expected
    assert verify([clean.id]).problems == ()

    code, report = _cli_verify(app)
    assert code == 1 and not report["ok"]
    assert report["broken"]["invariant"] == "entries balance"
    assert report["broken"]["round"] == unbalanced.id
    named = {}
    for problem in report["all"]:
        named.setdefault(problem["round"], problem["invariant"])
    assert named == expected
    assert f"pledge {paid[2].id}" in next(
        p["detail"] for p in report["all"] if p["round"] == misstated.id
    )


# --------------------------------------------------------------------------- apportion


def test_apportion_exact_cases():
    assert apportion(100, [(1, 1), (2, 1), (3, 1)]) == {1: 34, 2: 33, 3: 33}
    assert apportion(100, [(3, 1), (2, 1), (1, 1)]) == {1: 34, 2: 33, 3: 33}  # ties: lower id
    assert apportion(2, [(7, 1), (4, 1), (9, 1)]) == {4: 1, 7: 1, 9: 0}
    # 5 x (3, 3, 4) / 10 = 1.5, 1.5, 2: the half cent goes to the lower of the tied ids.
    assert apportion(5, [(1, 3), (2, 3), (3, 4)]) == {1: 2, 2: 1, 3: 2}
    assert apportion(2, [(1, 2), (2, 1)]) == {1: 1, 2: 1}  # remainder 2/3 beats 1/3
    assert apportion(0, [(1, 5), (2, 5)]) == {1: 0, 2: 0}
    assert apportion(7, [(1, 0), (2, 0)]) == {1: 0, 2: 0}
    assert apportion(40_000, [(1, 20_000), (2, 20_000), (3, 5_000)]) == {
        1: 17_778,
        2: 17_778,
        3: 4_444,
    }


weights_st = st.dictionaries(
    st.integers(1, 10_000), st.integers(0, 10_000_000), min_size=1, max_size=12
)


@settings(max_examples=300, deadline=None)
@given(weights=weights_st, data=st.data())
def test_apportion_properties(weights, data):
    whole = sum(weights.values())
    total = data.draw(st.integers(0, whole), label="total")
    pairs = list(weights.items())
    shares = apportion(total, pairs)
    assert set(shares) == set(weights)
    if whole == 0:
        assert set(shares.values()) == {0}
        return
    assert sum(shares.values()) == total  # exact
    for key, weight in pairs:
        assert 0 <= shares[key] <= weight
        assert abs(shares[key] * whole - total * weight) < whole  # within one cent of quota
    # The order pledges arrive in does not matter; among equal weights the lower id never
    # gets less.
    assert apportion(total, list(reversed(pairs))) == shares
    for a, wa in pairs:
        for b, wb in pairs:
            if wa == wb and a < b:
                assert shares[a] >= shares[b]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_pledge_allocations_properties(data):
    """Whatever the plan, each source's pledges pay exactly what the plan takes from it,
    each project gets exactly its plan, and no pledge pays more than its amount."""
    projects = data.draw(st.lists(st.integers(1, 50), min_size=1, max_size=5, unique=True))
    groups, lines, next_id = {}, [], 1
    for source in data.draw(
        st.lists(st.sampled_from(["pool", "a", "b", "c"]), unique=True, min_size=1)
    ):
        amounts = data.draw(st.lists(st.integers(1, 100_000), min_size=1, max_size=6))
        members = [SimpleNamespace(id=next_id + i, amount_cents=a) for i, a in enumerate(amounts)]
        next_id += len(amounts) + data.draw(st.integers(0, 3))
        groups[source] = members
        left = sum(amounts)
        for project in data.draw(st.lists(st.sampled_from(projects), unique=True)):
            if left == 0:
                break
            cents = data.draw(st.integers(1, left))
            left -= cents
            lines.append(SimpleNamespace(source=source, project_id=project, cents=cents))
    lines.append(SimpleNamespace(source="grant:1", project_id=projects[0], cents=999))
    out = pledge_allocations(SimpleNamespace(lines=lines), groups)
    plan: dict[str, dict[int, int]] = {}
    for line in lines:
        if line.source in groups:
            plan.setdefault(line.source, {})[line.project_id] = line.cents
    for source, members in groups.items():
        per_project: dict[int, int] = {}
        for pledge in members:
            for project, cents in out.get(pledge.id, {}).items():
                assert cents > 0
                per_project[project] = per_project.get(project, 0) + cents
        assert per_project == plan.get(source, {})
        expected = apportion(
            sum(plan.get(source, {}).values()), [(p.id, p.amount_cents) for p in members]
        )
        for pledge in members:
            paid = sum(out.get(pledge.id, {}).values())
            assert paid == expected[pledge.id] <= pledge.amount_cents
    assert set(out) <= {p.id for members in groups.values() for p in members}


def test_all_or_nothing_shares_are_called_in_whole(app):
    """Shares at $50. Garden ($300) is funded only from its earmarks: Alice's 8 shares
    ($400, all or nothing) and Bob's 1 share ($50, keep it all). Pro rata, Alice pays
    30,000 x 400/450 = 26,666.67 cents -> 26,667 (largest remainder), Bob 3,333. Alice is
    called in for whole shares: 6 shares = $300; the $33.33 over her share stays in the
    pot, unallocated, and the other 2 shares are released."""
    r, people = _round(
        accepts_shares=True,
        share_price_cents=5_000,
        accepts_donations=True,
        resident_cap_cents=None,
    )
    garden = r.projects[0]
    alice, bob = people["residents"][:2]
    _vote(r, people, garden)
    shares = make_pledge(
        r,
        alice,
        instrument=Instrument.SHARES,
        shares=8,
        target=TargetKind.PROJECT,
        project_ids=[garden.id],
        condition=Condition.ALL_OR_NOTHING,
    )
    confirm_pledge(shares, alice)
    one = make_pledge(
        r,
        bob,
        instrument=Instrument.SHARES,
        shares=1,
        target=TargetKind.PROJECT,
        project_ids=[garden.id],
    )
    confirm_pledge(one, bob)
    db.session.commit()
    _close_and_allocate(r, people)
    _approve(r, people)
    assert _shares(shares) == {garden.id: 26_667}
    assert shares.called_cents == 30_000  # 6 whole shares, not $266.67
    collect_pledge(shares, method=CASH, reference="S-1", actor=people["organizer"][0])
    db.session.commit()
    assert ledger.balance(r.id, Account.POOL, pledge_id=shares.id) == 30_000 - 26_667
    assert ledger.balance(r.id, Account.PROJECT, pledge_id=shares.id) == 26_667
    _ok()


def test_unused_keep_it_all_money_stays_in_the_pot(app):
    """Keep-it-all money the allocation did not use is not refunded: it stays in the pot."""
    r, people = _round()
    garden, _, safety = r.projects
    _vote(r, people, garden)
    kept = _pledge(
        r, people["residents"][0], 10_000, target=TargetKind.PROJECT, project_ids=[safety.id]
    )
    organizer = people["organizer"][0]
    collect_pledge(kept, method=CASH, reference="K", actor=organizer)
    db.session.commit()
    _close_and_allocate(r, people)
    _approve(r, people)
    assert kept.state == PledgeState.COLLECTED
    _refused(
        IllegalTransition,
        refund_pledge,
        kept,
        method=CASH,
        reference="no",
        actor=organizer,
        match="stays in the common pot",
    )
    assert ledger.balance(r.id, Account.POOL, pledge_id=kept.id) == 10_000
