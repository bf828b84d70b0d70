"""Pledges and payments under real concurrency, on PostgreSQL.

Worker threads each push their own app context, so each has its own session and its own
connection from a pool of POOL connections, as concurrent requests do in production.
SQLite is skipped: there, write requests queue on BEGIN IMMEDIATE and never overlap.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from commonpot import create_app
from commonpot.audit_chain import verify_chain
from commonpot.errors import DomainError
from commonpot.extensions import db
from commonpot.models import FundingRound, RoundStatus, User
from commonpot.rounds.services import transition
from pooling import ledger
from pooling.allocation import run_allocation
from pooling.issuing import generate_documents, sign_round
from pooling.ledger import Account, LedgerEntry, LedgerLine
from pooling.ledger_checks import verify
from pooling.models import OverflowRule, PaymentMethod, Pledge, PledgeState, TargetKind
from pooling.pledges import cancel_pledge, confirm_pledge, make_pledge
from pooling.terms import set_project_funding, set_terms
from pooling.treasury import collect_pledge
from surveys.services import submit_response
from tests import factories
from tests.integration.test_pledge_rules import _cli_verify

pytestmark = pytest.mark.postgres

POOL = 24  # connections (and worker threads); the server allows 100 for everyone
RETRYABLE = {"40001", "40P01"}  # serialization failure, deadlock detected
CAP = 50_000


@pytest.fixture
def workers(app):
    """A second app on the same database whose engine pools POOL connections."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("concurrency is proved on PostgreSQL; SQLite serialises writers")
    config = {
        key: app.config[key]
        for key in ("SQLALCHEMY_DATABASE_URI", "SECRET_KEY", "MAIL_SERVER", "SERVER_NAME")
    }
    worker_app = create_app(
        {
            **config,
            "TESTING": True,
            "SQLALCHEMY_ENGINE_OPTIONS": {
                "pool_size": POOL,
                "max_overflow": 0,
                "pool_timeout": 60,
            },
        }
    )
    yield worker_app
    with worker_app.app_context():
        db.engine.dispose()


@dataclass(frozen=True)
class Job:
    user_id: int
    cents: int
    target: TargetKind
    project_ids: tuple[int, ...] = ()
    area_id: int | None = None


@dataclass
class Outcome:
    job: Job
    pledge_id: int | None = None
    refusal: str | None = None
    retries: int = 0


def _in_context(worker_app, work):
    """Run `work()` in a fresh app context (its own session); retry serialization and
    deadlock failures the way a client retries, counting them."""
    retries = 0
    while True:
        with worker_app.app_context():
            try:
                result = work()
                db.session.commit()
                return result, None, retries
            except DomainError as error:
                db.session.rollback()
                return None, error, retries
            except DBAPIError as error:
                db.session.rollback()
                if getattr(error.orig, "sqlstate", None) not in RETRYABLE:
                    raise
                retries += 1
                if retries > 20:
                    raise
                time.sleep(random.random() * 0.01)


def test_two_hundred_pledges_at_once(app, workers):
    """60 residents, cap $500 each. 40 of them submit a $100 pot pledge three times (a
    double click and a retry), $150 to a project and $50 to a priority area; 20 of them
    submit four $200 pledges to four different targets at once: whatever the order,
    exactly two fit under the cap and two are refused."""
    community, people = factories.community("crowd", residents=60)
    organizer = people["organizer"][0]
    r = factories.open_round(community, organizer)
    set_terms(
        r,
        actor=organizer,
        accepts_donations=True,
        accepts_shares=False,
        accepts_loans=False,
        share_price_cents=None,
        loan_rate_bps=None,
        loan_term_months=None,
        min_pledge_cents=100,
        max_pledge_cents=100_000,
        resident_cap_cents=CAP,
    )
    db.session.commit()
    projects = [p.id for p in r.projects]
    areas = [a.id for a in r.priority_areas]
    residents = people["residents"]
    steady, greedy = residents[:40], residents[40:]
    jobs: list[Job] = []
    for i, resident in enumerate(steady):
        jobs += [Job(resident.id, 10_000, TargetKind.POT)] * 3
        jobs.append(Job(resident.id, 15_000, TargetKind.PROJECT, (projects[i % 3],)))
        jobs.append(Job(resident.id, 5_000, TargetKind.AREA, area_id=areas[i % 3]))
    for i, resident in enumerate(greedy):
        jobs += [
            Job(resident.id, 20_000, TargetKind.POT),
            Job(resident.id, 20_000, TargetKind.PROJECT, (projects[i % 3],)),
            Job(resident.id, 20_000, TargetKind.AREA, area_id=areas[(i + 1) % 3]),
            Job(resident.id, 20_000, TargetKind.PROJECTS, tuple(projects[:2])),
        ]
    random.Random(2024).shuffle(jobs)
    assert len(jobs) == 280
    round_id = r.id

    def submit(job: Job) -> Outcome:
        def work():
            funding_round = db.session.get(FundingRound, round_id)
            user = db.session.get(User, job.user_id)
            pledge = make_pledge(
                funding_round,
                user,
                amount_cents=job.cents,
                target=job.target,
                project_ids=list(job.project_ids),
                priority_area_id=job.area_id,
            )
            confirm_pledge(pledge, user)
            return pledge.id

        pledge_id, error, retries = _in_context(workers, work)
        return Outcome(job, pledge_id, str(error) if error else None, retries)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=POOL) as pool:
        outcomes = list(pool.map(submit, jobs))
    elapsed = time.monotonic() - started
    retries = sum(o.retries for o in outcomes)
    print(f"280 submissions in {elapsed:.1f}s, {retries} serialization/deadlock retries")

    db.session.commit()  # a fresh snapshot: everything the workers committed
    pledges = db.session.scalars(select(Pledge).where(Pledge.round_id == round_id)).all()
    assert len(pledges) == 40 * 3 + 20 * 2
    assert {p.state for p in pledges} == {PledgeState.CONFIRMED}
    assert sum(p.amount_cents for p in pledges) == 40 * 30_000 + 20 * 40_000
    per_resident = defaultdict(int)
    for pledge in pledges:
        per_resident[pledge.user_id] += pledge.amount_cents
    assert max(per_resident.values()) <= CAP
    assert {per_resident[u.id] for u in steady} == {30_000}
    assert {per_resident[u.id] for u in greedy} == {40_000}

    # Each retried request is one pledge: the three submissions got the same one.
    for resident in steady:
        pot = {
            o.pledge_id for o in outcomes if o.job.user_id == resident.id and o.job.cents == 10_000
        }
        assert len(pot) == 1 and None not in pot
        assert sum(1 for p in pledges if p.user_id == resident.id and p.target_key == "pot") == 1
    # The over-cap attempts were refused, and nothing else was.
    refusals = [o for o in outcomes if o.refusal]
    assert Counter(o.job.user_id for o in refusals) == {u.id: 2 for u in greedy}
    assert {o.refusal for o in refusals} == {
        "Each resident may pledge at most $500.00 in this round; you can add $100.00."
    }
    assert all(o.pledge_id for o in outcomes if not o.refusal)

    confirms = db.session.scalar(
        select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "confirm")
    )
    assert confirms == len(pledges)
    assert ledger.balance(round_id, Account.PROMISED) == 2_000_000
    assert verify().problems == ()
    assert verify_chain() == []
    code, report = _cli_verify(app)
    assert code == 0 and report["ok"], report


def _confirmed_pledges(count: int, cents: int = 10_000):
    community, people = factories.community("race", residents=count)
    r = factories.open_round(community, people["organizer"][0])
    pledges = []
    for resident in people["residents"]:
        pledge = make_pledge(r, resident, amount_cents=cents)
        confirm_pledge(pledge, resident)
        pledges.append(pledge)
    db.session.commit()
    return r, people, pledges


def _all_at_once(workers, calls):
    """Start every call at the same moment, each in its own app context and thread."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        first = [True]

        def work():
            if first.pop() if first else False:  # a retry does not wait for the others
                barrier.wait(timeout=30)
            return call()

        return _in_context(workers, work)

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def test_one_payment_recorded_ten_times_at_once_is_collected_once(app, workers):
    r, people, (pledge, *_) = _confirmed_pledges(1, cents=12_345)
    organizer_id, pledge_id = people["organizer"][0].id, pledge.id

    def collect():
        return collect_pledge(
            db.session.get(Pledge, pledge_id),
            method=PaymentMethod.CASH,
            reference="receipt 7",
            actor=db.session.get(User, organizer_id),
        ).state

    results = _all_at_once(workers, [collect] * 10)
    assert [state for state, _, _ in results].count(PledgeState.COLLECTED) == 1
    refusals = {str(error) for _, error, _ in results if error}
    assert refusals == {"A collected pledge cannot be collected."}
    db.session.commit()
    collects = db.session.scalar(
        select(func.count(func.distinct(LedgerLine.entry_id)))
        .join(LedgerEntry)
        .where(LedgerLine.pledge_id == pledge_id, LedgerEntry.kind == "collect")
    )
    assert collects == 1
    assert ledger.balance(r.id, Account.RESIDENTS, pledge_id=pledge_id) == -12_345
    assert ledger.balance(r.id, Account.POOL) == 12_345
    assert verify().problems == ()


def test_a_confirmation_sent_ten_times_at_once_promises_once(app, workers):
    """A double click on "confirm" (or two tabs) must not promise the money twice."""
    community, people = factories.community("tabs", residents=1)
    r = factories.open_round(community, people["organizer"][0])
    resident = people["residents"][0]
    pledge = make_pledge(r, resident, amount_cents=7_000)
    db.session.commit()
    pledge_id, user_id = pledge.id, resident.id

    def confirm():
        return confirm_pledge(
            db.session.get(Pledge, pledge_id), db.session.get(User, user_id)
        ).state

    results = _all_at_once(workers, [confirm] * 10)
    assert {state for state, _, _ in results} == {PledgeState.CONFIRMED}
    db.session.commit()
    entries = db.session.scalars(select(LedgerEntry.kind).where(LedgerEntry.round_id == r.id))
    assert list(entries) == ["confirm"]
    assert ledger.balance(r.id, Account.PROMISED, pledge_id=pledge_id) == 7_000
    assert verify().problems == ()


def test_cancel_and_collect_racing_keep_the_books_straight(app, workers):
    """A resident cancels while an organizer records the payment, for ten pledges at once:
    each pledge ends cancelled with nothing paid, or paid and marked for a refund."""
    r, people, pledges = _confirmed_pledges(10)
    organizer_id = people["organizer"][0].id
    calls = []
    for pledge in pledges:

        def cancel(pledge_id=pledge.id, user_id=pledge.user_id):
            return cancel_pledge(
                db.session.get(Pledge, pledge_id), db.session.get(User, user_id)
            ).state

        def collect(pledge_id=pledge.id):
            return collect_pledge(
                db.session.get(Pledge, pledge_id),
                method=PaymentMethod.CASH,
                reference="at the door",
                actor=db.session.get(User, organizer_id),
            ).state

        calls += [cancel, collect]
    results = _all_at_once(workers, calls)
    for _, error, _ in results:
        assert error is None or "cancelled pledge cannot be collected" in str(error), error
    db.session.commit()
    for pledge in pledges:
        db.session.refresh(pledge)
        paid = -ledger.balance(r.id, Account.RESIDENTS, pledge_id=pledge.id)
        promised = ledger.balance(r.id, Account.PROMISED, pledge_id=pledge.id)
        assert (pledge.state, pledge.refund_requested, paid, promised) in (
            (PledgeState.CANCELLED, False, 0, 0),
            (PledgeState.COLLECTED, True, 10_000, 0),
        )
    assert verify().problems == ()


def _wait_for_a_lock_waiter(timeout: float = 20.0) -> None:
    """Until some session of this database waits on a row lock (the one we staged)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = db.session.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
        db.session.commit()
        if waiting:
            return
        time.sleep(0.02)
    raise AssertionError("the staged lock wait never happened")


def test_a_payment_recorded_while_the_board_approves_is_allocated(app, workers):
    """The last board member's signature settles the round while an organizer records a
    payment: the organizer read the round before the approval committed, then waited for
    the pledge. The payment must still follow the approved plan into the project."""
    community, people = factories.community("approve", residents=3)
    organizer = people["organizer"][0]
    r = factories.open_round(
        community, organizer, projects=(("Garden", 0, 30_000), ("Tutoring", 1, 40_000))
    )
    garden = r.projects[0]
    ranks = {a.id: i for i, a in enumerate(r.priority_areas, 1)}
    for voter in people["residents"]:
        submit_response(r, voter, rankings=ranks, votes={garden.id})
    payer = people["residents"][0]
    pledge = make_pledge(r, payer, amount_cents=35_000)
    confirm_pledge(pledge, payer)
    transition(r, RoundStatus.CLOSED, actor=organizer)
    run_allocation(r, "max-welfare", actor=organizer)
    generate_documents(r, actor=organizer)
    sign_round(r, people["board"][0])
    db.session.commit()
    ids = {"round": r.id, "pledge": pledge.id, "organizer": organizer.id}
    last_signer = people["board"][1].id
    settled, go = threading.Event(), threading.Event()

    def approve():
        with workers.app_context():
            sign_round(
                db.session.get(FundingRound, ids["round"]), db.session.get(User, last_signer)
            )
            settled.set()
            go.wait(30)  # hold the approval's locks until the payment waits on them
            db.session.commit()

    def collect():
        with workers.app_context():
            paid = db.session.get(Pledge, ids["pledge"])
            assert paid.round.status == RoundStatus.ALLOCATED  # read before the approval
            try:
                state = collect_pledge(
                    paid,
                    method=PaymentMethod.CASH,
                    reference="envelope",
                    actor=db.session.get(User, ids["organizer"]),
                ).state
                db.session.commit()
                return state
            except DomainError as error:
                db.session.rollback()
                return error

    with ThreadPoolExecutor(max_workers=2) as pool:
        approving = pool.submit(approve)
        assert settled.wait(30)
        collecting = pool.submit(collect)
        _wait_for_a_lock_waiter()
        go.set()
        approving.result(timeout=60)
        outcome = collecting.result(timeout=60)
    db.session.commit()
    db.session.refresh(pledge)
    assert outcome == PledgeState.ALLOCATED, outcome
    assert pledge.state == PledgeState.ALLOCATED
    assert ledger.balance(r.id, Account.PROJECT, project_id=garden.id) == 30_000
    assert ledger.balance(r.id, Account.POOL, pledge_id=pledge.id) == 5_000
    assert verify().problems == ()


def test_a_project_maximum_holds_under_a_rush(app, workers):
    """30 residents pledge $100 to Garden and $100 to Tutoring at once; each has a $1,000
    maximum. Garden refuses the overflow, Tutoring sends it to the pot: exactly ten
    pledges reach each project whatever the order."""
    community, people = factories.community("rush", residents=30)
    organizer = people["organizer"][0]
    r = factories.open_round(community, organizer)
    garden, tutoring, _ = r.projects
    for project, rule in ((garden, OverflowRule.REFUSE), (tutoring, OverflowRule.POT)):
        set_project_funding(
            project,
            actor=organizer,
            min_cents=None,
            optimum_cents=None,
            max_cents=100_000,
            overflow=rule,
            hours_needed=None,
        )
    db.session.commit()
    round_id = r.id
    calls = []
    for resident in people["residents"]:
        for project_id in (garden.id, tutoring.id):

            def pledge(user_id=resident.id, project_id=project_id):
                user = db.session.get(User, user_id)
                made = make_pledge(
                    db.session.get(FundingRound, round_id),
                    user,
                    amount_cents=10_000,
                    target=TargetKind.PROJECT,
                    project_ids=[project_id],
                )
                return confirm_pledge(made, user).target

            calls.append(pledge)
    random.Random(5).shuffle(calls)
    results = _all_at_once(workers, calls)
    print(f"{sum(retries for *_, retries in results)} serialization/deadlock retries")
    refusals = Counter(str(error) for _, error, _ in results if error)
    assert refusals == {
        "“Garden” is close to its maximum of $1,000.00: at most $0.00 more can be pledged "
        "to it.": 20
    }
    db.session.commit()
    rows = db.session.execute(
        select(Pledge.target_key, func.count(), func.sum(Pledge.amount_cents))
        .where(Pledge.round_id == round_id, Pledge.state == PledgeState.CONFIRMED)
        .group_by(Pledge.target_key)
    ).all()
    assert sorted(rows) == sorted(
        [
            (f"project:{garden.id}", 10, 100_000),
            (f"project:{tutoring.id}", 10, 100_000),
            ("pot", 20, 200_000),
        ]
    )
    assert verify().problems == ()
