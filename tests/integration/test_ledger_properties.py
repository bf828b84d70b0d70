"""Random lifecycles never break the books.

Hypothesis draws sequences of what residents, organizers and the board do to a round's
pledges — make, confirm, cancel, collect, a material change, reconfirm, refund, close and
allocate, approve (documents signed to quorum), disburse — in any order, sensible or not.
After every step `ledger verify` finds nothing wrong and no resident is over the cap; every
refused step raises a DomainError and leaves the ledger and the pledges as they were.

SQLite only, for speed: the same services run on PostgreSQL in test_pledge_rules.py.
Each example gets a fresh round (the books, the caps and the pledges are all per round) in
one community made once per test, so board members' signing credentials are reused.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from commonpot.errors import DomainError
from commonpot.extensions import db
from commonpot.models import RoundStatus
from commonpot.rounds.services import edit_project, transition
from pooling.allocation import run_allocation
from pooling.grants import add_grant
from pooling.issuing import generate_documents, sign_round
from pooling.ledger import LedgerLine
from pooling.ledger_checks import verify
from pooling.models import (
    LIVE_STATES,
    Condition,
    Instrument,
    OverflowRule,
    PaymentMethod,
    Pledge,
    PledgeState,
    TargetKind,
)
from pooling.pledges import cancel_pledge, confirm_pledge, make_pledge, reconfirm_pledge
from pooling.terms import set_project_funding, set_terms
from pooling.treasury import collect_pledge, disburse_project, refund_pledge
from surveys.services import submit_response
from tests import factories

CAP = 60_000
PROJECTS = (("Garden", 0, 30_000), ("Tutoring", 1, 40_000), ("Safety App", 2, 50_000))
# What a resident may aim at: the pot, an area, one project (Garden's maximum sends the
# excess to the pot; Tutoring's refuses it), or Garden and Safety App together.
TARGETS = ("pot", "area", "garden", "tutoring", "several")
AMOUNTS = (100, 5_000, 12_345, 20_000, 35_000)


@dataclass(frozen=True)
class Op:
    kind: str
    who: int  # a resident (0-3), or which pledge / project, modulo what exists
    pick: int
    amount: int
    target: str
    instrument: Instrument
    all_or_nothing: bool
    wrong_person: bool  # someone else tries it: always refused


ops = st.builds(
    Op,
    kind=st.sampled_from(
        ["pledge"] * 5  # make, then confirm at once: what most residents do
        + ["make"] * 2
        + ["confirm"] * 2
        + ["collect"] * 4
        + ["cancel"] * 2
        + ["disburse"] * 2
        + ["change", "reconfirm", "refund", "close", "approve"]
    ),
    who=st.integers(0, 3),
    pick=st.integers(0, 20),
    amount=st.sampled_from(AMOUNTS),
    target=st.sampled_from(TARGETS),
    instrument=st.sampled_from(list(Instrument)),
    all_or_nothing=st.booleans(),
    wrong_person=st.integers(0, 9).map(lambda n: n == 0),
)

CLOSE = Op("close", 0, 0, 100, "pot", Instrument.DONATION, False, False)
APPROVE = Op("approve", 0, 0, 100, "pot", Instrument.DONATION, False, False)


def test_random_lifecycles_keep_the_books(app):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("the property test runs on SQLite for speed; the rules run on both")
    community, people = factories.community("props", residents=4)
    organizer = people["organizer"][0]
    residents = people["residents"]
    board = people["board"]
    tally = {"examples": 0, "steps": 0, "refused": 0, "approvals": 0}

    def fresh_round():
        r = factories.open_round(community, organizer, projects=PROJECTS)
        set_terms(
            r,
            actor=organizer,
            accepts_donations=True,
            accepts_shares=True,
            accepts_loans=True,
            share_price_cents=2_500,
            loan_rate_bps=250,
            loan_term_months=24,
            min_pledge_cents=100,
            max_pledge_cents=50_000,
            resident_cap_cents=CAP,
        )
        garden, tutoring, _ = r.projects
        for project, rule in ((garden, OverflowRule.POT), (tutoring, OverflowRule.REFUSE)):
            set_project_funding(
                project,
                actor=organizer,
                min_cents=None,
                optimum_cents=None,
                max_cents=40_000,
                overflow=rule,
                hours_needed=None,
            )
        add_grant(
            r,
            name="Seed",
            funder="City",
            amount_cents=15_000,
            priority_area_id=None,
            cap_per_project_cents=10_000,
            actor=organizer,
            match_percent=100,
        )
        ranks = {a.id: i for i, a in enumerate(r.priority_areas, 1)}
        for i, voter in enumerate(residents):
            chosen = {garden.id, tutoring.id} if i % 2 else {garden.id, r.projects[2].id}
            submit_response(r, voter, rankings=ranks, votes=chosen)
        db.session.commit()
        return r

    def snapshot(r):
        lines = db.session.scalar(
            select(func.count()).select_from(LedgerLine).where(LedgerLine.round_id == r.id)
        )
        pledges = db.session.execute(
            select(
                Pledge.id,
                Pledge.state,
                Pledge.amount_cents,
                Pledge.called_cents,
                Pledge.condition,
                Pledge.target_key,
                Pledge.awaiting_reconfirmation,
                Pledge.refund_requested,
            )
            .where(Pledge.round_id == r.id)
            .order_by(Pledge.id)
        ).all()
        return lines, tuple(pledges), r.status

    def check(r):
        assert verify([r.id]).problems == ()
        for resident in residents:
            live = db.session.scalar(
                select(func.coalesce(func.sum(Pledge.amount_cents), 0)).where(
                    Pledge.round_id == r.id,
                    Pledge.user_id == resident.id,
                    Pledge.state.in_(LIVE_STATES),
                    Pledge.refund_requested.is_(False),  # cancelled after payment: not counted
                )
            )
            assert live <= CAP
        if r.status == RoundStatus.APPROVED:  # settled: every pledge had its answer
            for pledge in db.session.scalars(select(Pledge).where(Pledge.round_id == r.id)):
                assert pledge.state != PledgeState.PLEDGED
                if pledge.state == PledgeState.CONFIRMED:
                    assert pledge.called_cents and pledge.called_cents <= pledge.amount_cents

    def act(r, op: Op, made: list[Pledge]):
        garden, tutoring, safety = r.projects
        pledge = made[op.pick % len(made)] if made else None
        owner = pledge.user if pledge is not None else residents[op.who]
        person = residents[(op.who + 1) % 4] if op.wrong_person else owner
        if op.kind in ("make", "pledge"):
            target = {
                "pot": {"target": TargetKind.POT},
                "area": {"target": TargetKind.AREA, "priority_area_id": r.priority_areas[1].id},
                "garden": {"target": TargetKind.PROJECT, "project_ids": [garden.id]},
                "tutoring": {"target": TargetKind.PROJECT, "project_ids": [tutoring.id]},
                "several": {"target": TargetKind.PROJECTS, "project_ids": [garden.id, safety.id]},
            }[op.target]
            new = make_pledge(
                r,
                residents[op.who],
                instrument=op.instrument,
                amount_cents=op.amount,
                shares=max(op.amount // 2_500, 1),
                condition=Condition.ALL_OR_NOTHING if op.all_or_nothing else Condition.KEEP_IT_ALL,
                **target,
            )
            if new not in made:
                made.append(new)
            if op.kind == "pledge":
                confirm_pledge(new, residents[op.who])
        elif op.kind == "close":
            transition(r, RoundStatus.CLOSED, actor=organizer)
            run_allocation(r, "max-welfare", actor=organizer)
        elif op.kind == "approve":
            generate_documents(r, actor=organizer)
            sign_round(r, board[0])
            sign_round(r, board[1])
        elif op.kind == "change":  # a material change: the description
            project = r.projects[op.pick % 3]
            edit_project(
                project,
                title=project.title,
                description=project.description + " (revised)",
                cost_cents=project.cost_cents,
                priority_area_id=project.priority_area_id,
                lead_name=project.lead_name,
                actor=organizer,
            )
        elif op.kind == "disburse":
            disburse_project(r.projects[op.pick % 3], reference="cheque", actor=organizer)
        elif pledge is None:
            return False  # nothing to act on yet
        elif op.kind == "confirm":
            confirm_pledge(pledge, person)
        elif op.kind == "cancel":
            cancel_pledge(pledge, person)
        elif op.kind == "reconfirm":
            reconfirm_pledge(pledge, person)
        elif op.kind == "collect":
            collect_pledge(
                pledge,
                method=PaymentMethod.CASH,
                reference="r",
                actor=person if op.wrong_person else organizer,
            )
        elif op.kind == "refund":
            refund_pledge(
                pledge,
                method=PaymentMethod.BANK_TRANSFER,
                reference="back",
                actor=person if op.wrong_person else organizer,
            )
        return True

    @settings(
        max_examples=15,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        open_steps=st.lists(ops, min_size=6, max_size=20),
        how_far=st.sampled_from(["approved", "closed", "approved", "open"]),
        closed_steps=st.lists(ops, max_size=6),
        approved_steps=st.lists(ops, max_size=15),
    )
    def lifecycle(open_steps, how_far, closed_steps, approved_steps):
        """Random steps while open; then, often, close and random steps; then, often,
        approve and random steps. Close and approve are also among the random steps."""
        steps = list(open_steps)
        if how_far != "open":
            steps += [CLOSE, *closed_steps]
        if how_far == "approved":
            steps += [APPROVE, *approved_steps]
        tally["examples"] += 1
        r = fresh_round()
        made: list[Pledge] = []
        check(r)
        for op in steps:
            before = snapshot(r)
            try:
                if not act(r, op, made):
                    continue
            except DomainError:
                # Refused: nothing written, nothing changed, not even in this session.
                assert snapshot(r) == before, op
                db.session.rollback()
                made[:] = [p for p in made if p.id is not None]
                tally["refused"] += 1
                continue
            db.session.commit()
            tally["steps"] += 1
            tally["approvals"] += op.kind == "approve"
            check(r)

    lifecycle()
    print(tally)
    assert tally["steps"] > tally["examples"] and tally["approvals"]  # they did real work
