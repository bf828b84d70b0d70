"""Closing a round's books: approved -> settled, once nothing is left to move.

The board's approval calls pledges in and moves grant money into the funded projects;
organizers then record payments, refund what is owed and pay the projects out. The books
close when no money waits in a project and no refund is owed. A called pledge its
resident never paid would keep them open for ever, so the organizer may write such
pledges off in the same step (each is released, and its project gets that much less than
planned: the closing says which project is short and by how much). What the allocation
did not use stays in the common pot. A settled round takes no payment, refund or pay-out.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select

from commonpot.audit import record
from commonpot.errors import IllegalTransition, ValidationFailed
from commonpot.extensions import db
from commonpot.models import FundingRound, Project, Role, RoundStatus, User, utcnow
from commonpot.rounds.services import transition

from . import ledger
from .allocation import chosen_run
from .ledger import Account
from .models import Pledge, PledgeState
from .notices import notify
from .pledges import money, post_for


@dataclass(frozen=True)
class Closing:
    """What stands between an approved round and its closed books."""

    undisbursed: list[tuple[Project, int]]  # money in a project, not paid out yet
    refunds: list[Pledge]  # refunds owed to residents
    unpaid: list[Pledge]  # called in by the allocation, never paid
    shortfalls: list[tuple[Project, int]]  # planned money a funded project will not get
    pot: int  # collected money the allocation did not use: it stays in the common pot

    @property
    def unpaid_cents(self) -> int:
        return sum(p.called_cents or 0 for p in self.unpaid)


def closing(funding_round: FundingRound) -> Closing:
    """The round's closing as it stands (pledges still unpaid count as short)."""
    pledges = db.session.scalars(
        select(Pledge).where(Pledge.round_id == funding_round.id).order_by(Pledge.id)
    ).all()
    unpaid = [p for p in pledges if p.state == PledgeState.CONFIRMED and p.called_cents]
    refunds = [
        p
        for p in pledges
        if p.state == PledgeState.COLLECTED
        and p.refund_requested
        and ledger.balance(funding_round.id, Account.POOL, pledge_id=p.id) > 0
    ]
    held = ledger.balances_by(funding_round.id, "project_id")
    by_id = {p.id: p for p in funding_round.projects}
    undisbursed = sorted(
        (
            (by_id[pid], cents)
            for (pid, account), cents in held.items()
            if account == Account.PROJECT and pid in by_id and cents > 0
        ),
        key=lambda item: item[0].title.lower(),
    )
    run = chosen_run(funding_round)
    planned: dict[int, int] = defaultdict(int)
    for line in run.lines if run else ():
        planned[line.project_id] += line.cents
    received = {
        pid: held.get((pid, Account.PROJECT), 0) + held.get((pid, Account.DISBURSED), 0)
        for pid in planned
    }
    shortfalls = sorted(
        (
            (by_id[pid], cents - received[pid])
            for pid, cents in planned.items()
            if pid in by_id and cents > received[pid]
        ),
        key=lambda item: item[0].title.lower(),
    )
    pot = sum(cents for (_, account), cents in held.items() if account == Account.POOL)
    return Closing(undisbursed, refunds, unpaid, shortfalls, pot)


def close_books(funding_round: FundingRound, *, write_off: bool, actor: User) -> Closing:
    """Settle an approved round; `write_off` releases the called pledges never paid."""
    if not actor.has_role(funding_round.community_id, Role.ORGANIZER):
        raise ValidationFailed([(None, "Only the round's organizers close its books.")])
    # The round row first, then the unpaid pledges: a payment recorded at the same time
    # either committed before (and is seen below) or waits and then finds them released.
    status = db.session.scalar(
        select(FundingRound.status).where(FundingRound.id == funding_round.id).with_for_update()
    )
    if status != RoundStatus.APPROVED:
        raise IllegalTransition("Only an approved round's books are closed.")
    db.session.scalars(
        select(Pledge)
        .where(Pledge.round_id == funding_round.id, Pledge.state == PledgeState.CONFIRMED)
        .order_by(Pledge.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    before = closing(funding_round)
    problems: list[tuple[str | None, str]] = []
    if before.undisbursed:
        problems.append((None, _undisbursed(funding_round, before)))
    if before.refunds:
        codes = ", ".join(p.receipt_code for p in before.refunds)
        problems.append((None, f"Refund these pledges first: {codes}."))
    if before.unpaid and not write_off:
        count, cents = len(before.unpaid), money(funding_round, before.unpaid_cents)
        what = (
            f"1 called pledge ({cents}) is"
            if count == 1
            else f"{count} called pledges ({cents}) are"
        )
        problems.append(("write_off", f"{what} not paid: record the payments, or write them off."))
    if problems:
        raise ValidationFailed(problems)
    for pledge in before.unpaid:
        _write_off(pledge, actor)
    db.session.flush()
    after = closing(funding_round)
    transition(
        funding_round,
        RoundStatus.SETTLED,
        actor=actor,
        written_off=len(before.unpaid),
        written_off_cents=before.unpaid_cents,
        shortfalls={str(p.id): cents for p, cents in after.shortfalls},
        pot=after.pot,
    )
    return after


def _undisbursed(funding_round: FundingRound, state: Closing) -> str:
    names = ", ".join(
        f"“{p.title}” ({money(funding_round, cents)})" for p, cents in state.undisbursed
    )
    return f"Pay out the money waiting in projects first: {names}."


def _write_off(pledge: Pledge, actor: User) -> None:
    called = pledge.called_cents or 0
    post_for(
        pledge,
        "write_off",
        ledger.transfer(
            Account.PROMISORS,
            Account.PROMISED,
            called,
            pledge_id=pledge.id,
            project_id=pledge.project_id,
        ),
        actor=actor,
        memo="written off when the books closed: never paid",
    )
    pledge.state, pledge.closed_at = PledgeState.RELEASED, utcnow()
    pledge.updated_at = utcnow()
    record(
        "pledge.written_off",
        f"pledge:{pledge.id}",
        community_id=pledge.round.community_id,
        actor_id=actor.id,
        cents=called,
    )
    notify(
        pledge.user,
        pledge.round,
        "written_off",
        f"The round's books are closed. Your pledge {pledge.receipt_code} "
        f"({money(pledge.round, called)} called in) was never paid and is written off: "
        "nothing more will be asked.",
        pledge=pledge,
    )
