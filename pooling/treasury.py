"""The organizers' side of the money: collecting payments, settling the approved
allocation (call in, release), refunds and disbursement. Every movement is a ledger entry."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from commonpot.audit import record
from commonpot.errors import IllegalTransition, ValidationFailed
from commonpot.extensions import db
from commonpot.models import FundingRound, Project, Role, RoundStatus, User, utcnow

from . import ledger
from .allocation import pledge_sources
from .grants import grants_of
from .ledger import Account, Line
from .models import (
    AllocationRun,
    Condition,
    PaymentMethod,
    Pledge,
    PledgeShare,
    PledgeState,
)
from .notices import notify
from .pledges import money, post_for
from .settlement import grant_allocations, pledge_allocations

SETTLED_STATUSES = (RoundStatus.APPROVED, RoundStatus.SETTLED)
CLOSED = "This round's books are closed: no money moves in it any more."


def _organizer(funding_round: FundingRound, actor: User) -> None:
    if not actor.has_role(funding_round.community_id, Role.ORGANIZER):
        raise ValidationFailed([(None, "Only the round's organizers handle its money.")])


def _reference(method: PaymentMethod, reference: str) -> str:
    """A cheque or transfer needs its number; references are kept whole or refused."""
    reference = reference.strip()
    if method != PaymentMethod.CASH and not reference:
        raise ValidationFailed([("reference", "Give the cheque or transfer reference.")])
    if len(reference) > 120:
        raise ValidationFailed([("reference", "A reference has at most 120 characters.")])
    return reference


def _memo(method: PaymentMethod, reference: str) -> str:
    return f"{method.value.replace('_', ' ')} {reference}".strip()


def lock(pledge: Pledge) -> Pledge:
    """Re-read the pledge under a row lock: two organizers recording one payment take turns."""
    locked = db.session.scalar(
        select(Pledge)
        .where(Pledge.id == pledge.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert locked is not None
    return locked


def shares_of(pledge: Pledge) -> list[PledgeShare]:
    return list(
        db.session.scalars(
            select(PledgeShare).filter_by(pledge_id=pledge.id).order_by(PledgeShare.project_id)
        )
    )


def _allocate(pledge: Pledge, shares: Iterable[PledgeShare], actor: User | None) -> int:
    """Move a collected pledge's share for each funded project from the pot to the project."""
    lines: list[Line] = []
    for share in shares:
        lines += ledger.transfer(
            Account.PROJECT,
            Account.POOL,
            share.cents,
            pledge_id=pledge.id,
            project_id=share.project_id,
        )
    if not lines:
        return 0
    post_for(pledge, "allocate", lines, actor=actor, memo=f"pledge {pledge.receipt_code}")
    pledge.state = PledgeState.ALLOCATED
    return sum(line.cents for line in lines if line.cents > 0)


def collect_pledge(pledge: Pledge, *, method: PaymentMethod, reference: str, actor: User) -> Pledge:
    """Record the resident's payment. All-or-nothing pledges are paid only once called in."""
    funding_round = pledge.round
    _organizer(funding_round, actor)
    pledge = lock(pledge)
    # FIX (tests/integration/test_pledge_concurrency.py): read the round's status after the
    # pledge's lock, not before it. A payment recorded while the last board signature
    # settled the round waited for that lock, then still saw the round "allocated", so the
    # paid pledge stayed collected and its share never reached the project.
    status = db.session.scalar(
        select(FundingRound.status).where(FundingRound.id == funding_round.id)
    )
    if status == RoundStatus.SETTLED:
        raise IllegalTransition(CLOSED)
    if pledge.state != PledgeState.CONFIRMED:
        raise IllegalTransition(f"A {pledge.state.value} pledge cannot be collected.")
    if pledge.awaiting_reconfirmation:
        raise IllegalTransition("This pledge waits for the resident to reconfirm it.")
    if status in SETTLED_STATUSES:
        cents = pledge.called_cents or 0
        if cents == 0:
            raise IllegalTransition("The allocation did not call this pledge in.")
    elif pledge.condition == Condition.ALL_OR_NOTHING:
        raise IllegalTransition(
            "All-or-nothing pledges are collected only once the board approves an allocation "
            "that funds their project."
        )
    else:
        cents = pledge.amount_cents
    dims = {"pledge_id": pledge.id, "project_id": pledge.project_id}
    lines = [
        *ledger.transfer(Account.PROMISORS, Account.PROMISED, cents, **dims),
        *ledger.transfer(Account.POOL, Account.RESIDENTS, cents, **dims),
    ]
    post_for(
        pledge,
        "collect",
        lines,
        actor=actor,
        memo=_memo(method, reference),
    )
    pledge.state = PledgeState.COLLECTED
    pledge.payment_method = method
    pledge.payment_reference = reference
    pledge.collected_at = pledge.updated_at = utcnow()
    if status in SETTLED_STATUSES:  # FIX: the status read under the lock, above
        _allocate(pledge, shares_of(pledge), actor)
    db.session.flush()
    record(
        "pledge.collected",
        f"pledge:{pledge.id}",
        community_id=funding_round.community_id,
        actor_id=actor.id,
        cents=cents,
        method=method.value,
    )
    return pledge


def settle(funding_round: FundingRound, run: AllocationRun, *, actor: User | None) -> dict:
    """At approval: call in what the plan uses, release the rest, move grant money."""
    groups = pledge_sources(funding_round)
    counting = {p.id for members in groups.values() for p in members}
    allocations = pledge_allocations(run, groups)
    summary = {"called": 0, "released": 0, "allocated": 0, "refund_due": 0}
    pledges = db.session.scalars(
        select(Pledge).where(Pledge.round_id == funding_round.id).order_by(Pledge.id)
    ).all()
    for pledge in pledges:
        shares = [
            PledgeShare(pledge_id=pledge.id, project_id=pid, run_id=run.id, cents=cents)
            for pid, cents in sorted(allocations.get(pledge.id, {}).items())
        ]
        db.session.add_all(shares)
        used = sum(s.cents for s in shares)
        if pledge.id in counting:
            _settle_counting(pledge, shares, used, actor, summary)
        else:
            _settle_other(pledge, actor, summary)
    for grant in grants_of(funding_round):
        per_project = grant_allocations(run).get(grant.id, {})
        lines: list[Line] = []
        for project_id, cents in sorted(per_project.items()):
            lines += ledger.transfer(
                Account.PROJECT, Account.GRANTS, cents, grant_id=grant.id, project_id=project_id
            )
        rest = grant.amount_cents - sum(per_project.values())
        lines += ledger.transfer(Account.FUNDERS, Account.GRANTS, rest, grant_id=grant.id)
        if any(line.cents for line in lines):
            ledger.post(
                community_id=funding_round.community_id,
                round_id=funding_round.id,
                kind="grant_settle",
                lines=lines,
                memo=f"{grant.name}: used {money(funding_round, grant.amount_cents - rest)}, "
                f"released {money(funding_round, rest)}",
                actor_id=actor.id if actor else None,
            )
    db.session.flush()
    record(
        "pledges.settled",
        f"round:{funding_round.id}",
        community_id=funding_round.community_id,
        actor_id=actor.id if actor else None,
        run=run.id,
        **summary,
    )
    return summary


def _audit(pledge: Pledge, action: str, actor: User | None, **data) -> None:
    record(
        action,
        f"pledge:{pledge.id}",
        community_id=pledge.round.community_id,
        actor_id=actor.id if actor else None,
        **data,
    )


def _settle_counting(
    pledge: Pledge, shares: list[PledgeShare], used: int, actor: User | None, summary: dict
) -> None:
    r = pledge.round
    if pledge.state == PledgeState.COLLECTED:
        summary["allocated"] += _allocate(pledge, shares, actor)
        _audit(pledge, "pledge.allocated" if used else "pledge.unallocated", actor, cents=used)
        notify(
            pledge.user,
            r,
            "allocated",
            f"The board approved the allocation. {money(r, used)} of your pledge "
            f"{pledge.receipt_code} pays for funded projects"
            + (
                f"; {money(r, pledge.amount_cents - used)} stays in the common pot."
                if used < pledge.amount_cents
                else "."
            ),
            pledge=pledge,
        )
        return
    # Confirmed, not yet paid.
    called = used if pledge.condition == Condition.ALL_OR_NOTHING else pledge.amount_cents
    if pledge.shares and 0 < called < pledge.amount_cents:
        # Shares are bought whole: call in whole shares; the few cents over stay in the pot.
        price = pledge.amount_cents // pledge.shares
        called = min(pledge.amount_cents, -(-called // price) * price)
    if called < pledge.amount_cents:
        post_for(
            pledge,
            "release",
            ledger.transfer(
                Account.PROMISORS,
                Account.PROMISED,
                pledge.amount_cents - called,
                pledge_id=pledge.id,
                project_id=pledge.project_id,
            ),
            actor=actor,
            memo="not needed by the approved allocation",
        )
    pledge.called_cents = called
    pledge.updated_at = utcnow()
    if called == 0:
        pledge.state, pledge.closed_at = PledgeState.RELEASED, utcnow()
        summary["released"] += 1
        _audit(pledge, "pledge.released", actor, cents=pledge.amount_cents)
        notify(
            pledge.user,
            r,
            "released",
            f"The approved allocation did not fund the project(s) of your all-or-nothing "
            f"pledge {pledge.receipt_code}; it is released and nothing will be collected.",
            pledge=pledge,
        )
        return
    summary["called"] += 1
    _audit(pledge, "pledge.called", actor, cents=called)
    notify(
        pledge.user,
        r,
        "called",
        f"The board approved the allocation: please pay {money(r, called)} for your pledge "
        f"{pledge.receipt_code} (an organizer records your payment)."
        + (
            f" {money(r, pledge.amount_cents - called)} of it was not needed and is released."
            if called < pledge.amount_cents
            else ""
        ),
        pledge=pledge,
    )


def _settle_other(pledge: Pledge, actor: User | None, summary: dict) -> None:
    """Pledges that did not count: never confirmed, not reconfirmed, or withdrawn."""
    r = pledge.round
    if pledge.state == PledgeState.PLEDGED or (pledge.state == PledgeState.CONFIRMED):
        if pledge.state == PledgeState.CONFIRMED:
            post_for(
                pledge,
                "release",
                ledger.transfer(
                    Account.PROMISORS,
                    Account.PROMISED,
                    pledge.amount_cents,
                    pledge_id=pledge.id,
                    project_id=pledge.project_id,
                ),
                actor=actor,
                memo="did not count (not confirmed or not reconfirmed)",
            )
        pledge.state, pledge.closed_at = PledgeState.RELEASED, utcnow()
        pledge.called_cents = 0
        summary["released"] += 1
        _audit(pledge, "pledge.released", actor, cents=pledge.amount_cents, counted=False)
        notify(
            pledge.user,
            r,
            "released",
            f"Your pledge {pledge.receipt_code} was not confirmed when the round closed, so it "
            "did not count and is released; nothing will be collected.",
            pledge=pledge,
        )
    elif pledge.state == PledgeState.COLLECTED:
        pledge.refund_requested = True  # paid, but the resident did not stand behind it
        summary["refund_due"] += 1
        _audit(pledge, "pledge.refund_due", actor, cents=pledge.amount_cents)
        notify(
            pledge.user,
            r,
            "refund",
            f"Your paid pledge {pledge.receipt_code} did not count in the allocation; an "
            f"organizer will refund {money(r, pledge.amount_cents)}.",
            pledge=pledge,
        )


def refund_pledge(pledge: Pledge, *, method: PaymentMethod, reference: str, actor: User) -> Pledge:
    """Return a collected pledge's unallocated money to the resident."""
    funding_round = pledge.round
    _organizer(funding_round, actor)
    reference = _reference(method, reference)
    pledge = lock(pledge)
    if pledge.state != PledgeState.COLLECTED:
        raise IllegalTransition(f"A {pledge.state.value} pledge cannot be refunded.")
    if not pledge.refund_requested:
        raise IllegalTransition(
            "Only a pledge its resident cancelled, or one that did not count, is refunded; "
            "keep-it-all money the allocation did not use stays in the common pot."
        )
    cents = ledger.balance(pledge.round_id, Account.POOL, pledge_id=pledge.id)
    lines = ledger.transfer(
        Account.REFUNDS, Account.POOL, cents, pledge_id=pledge.id, project_id=pledge.project_id
    )
    post_for(pledge, "refund", lines, actor=actor, memo=_memo(method, reference))
    pledge.state, pledge.closed_at, pledge.updated_at = PledgeState.REFUNDED, utcnow(), utcnow()
    db.session.flush()
    notify(
        pledge.user,
        funding_round,
        "refunded",
        f"{money(funding_round, cents)} of your pledge {pledge.receipt_code} was refunded "
        f"({method.value.replace('_', ' ')}).",
        pledge=pledge,
    )
    record(
        "pledge.refunded",
        f"pledge:{pledge.id}",
        community_id=funding_round.community_id,
        actor_id=actor.id,
        cents=cents,
        method=method.value,
    )
    return pledge


def disburse_project(project: Project, *, reference: str, actor: User) -> int:
    """Pay the project what has been allocated to it so far; returns the cents paid."""
    funding_round = project.round
    _organizer(funding_round, actor)
    if not reference.strip():
        raise ValidationFailed([("reference", "Say how it was paid (cheque number, transfer).")])
    if funding_round.status not in SETTLED_STATUSES:
        raise IllegalTransition("Money is paid out after the board approves the allocation.")
    if funding_round.status == RoundStatus.SETTLED:
        raise IllegalTransition(CLOSED)
    db.session.execute(select(Project.id).where(Project.id == project.id).with_for_update()).all()
    held = ledger.held_by_project(funding_round.id, Account.PROJECT, project.id)
    lines: list[Line] = []
    for (pledge_id, grant_id), cents in sorted(held.items(), key=lambda kv: str(kv[0])):
        lines += ledger.transfer(
            Account.DISBURSED,
            Account.PROJECT,
            cents,
            pledge_id=pledge_id,
            project_id=project.id,
            grant_id=grant_id,
        )
    if not lines:
        raise IllegalTransition("Nothing has been allocated to this project that is not paid.")
    ledger.post(
        community_id=funding_round.community_id,
        round_id=funding_round.id,
        kind="disburse",
        lines=lines,
        memo=f"{project.title}: {reference.strip()}"[:300],
        actor_id=actor.id,
    )
    paid = sum(line.cents for line in lines if line.cents > 0)
    for pledge_id in {pid for pid, _ in held if pid is not None}:
        pledge = db.session.get(Pledge, pledge_id)
        if (
            pledge is not None
            and pledge.state == PledgeState.ALLOCATED
            and (ledger.balance(funding_round.id, Account.PROJECT, pledge_id=pledge_id) == 0)
        ):
            pledge.state = PledgeState.DISBURSED
            pledge.updated_at = utcnow()
    db.session.flush()
    record(
        "project.disbursed",
        f"project:{project.id}",
        community_id=funding_round.community_id,
        actor_id=actor.id,
        cents=paid,
        reference=reference.strip(),
    )
    return paid
