"""A resident's statement of one round: each pledge, what became of it, and its movements.

Read from the same rows as the treasury page and the ledger (`books`), so a statement,
the page and the CSV exports cannot disagree.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import func, select

from commonpot.extensions import db
from commonpot.models import FundingRound, Membership, RoundStatus, User

from .books import MEMO_ACCOUNTS, EntryRow, PledgeRow, ledger_rows, pledge_rows
from .ledger import Account
from .models import Pledge, PledgeState
from .treasury import SETTLED_STATUSES


@dataclass(frozen=True)
class Movement:
    created_at: datetime
    kind: str
    label: str
    cents: int
    detail: str


@dataclass(frozen=True)
class StatementItem:
    row: PledgeRow
    fate: str
    by_project: list[tuple[str, int, int]]  # (title, allocated not paid out, paid out)
    movements: list[Movement]


def _movement(entry: EntryRow, money) -> Movement:
    """What one entry did to one pledge, as a resident reads it."""
    real = [line for line in entry.lines if line.account not in MEMO_ACCOUNTS]
    shown = real or list(entry.lines)
    cents = sum(line.cents for line in shown if line.cents > 0)
    if entry.kind in ("allocate", "disburse"):
        account = Account.PROJECT if entry.kind == "allocate" else Account.DISBURSED
        detail = ", ".join(
            f"{line.project or 'a project'} {money(line.cents)}"
            for line in shown
            if line.account == account and line.cents > 0
        )
    elif entry.kind in ("collect", "refund"):
        detail = entry.memo.replace("_", " ")
    else:
        detail = entry.memo
    return Movement(entry.created_at, entry.kind, entry.kind_label, cents, detail)


def _fate(r: PledgeRow, money, status: RoundStatus) -> str:
    settled = status in SETTLED_STATUSES
    if r.state == PledgeState.PLEDGED:
        return "Not confirmed yet: it does not count until it is confirmed."
    if r.state == PledgeState.CONFIRMED:
        if r.awaiting_reconfirmation:
            return "Its project changed: it does not count until it is reconfirmed."
        if settled and r.called:
            text = f"Called in by the approved allocation: {money(r.called)} to pay."
            if r.called < r.amount:
                text += f" {money(r.amount - r.called)} was not needed and is released."
            return text
        return f"Confirmed: {money(r.amount)} promised, not yet paid."
    if r.state == PledgeState.COLLECTED:
        if r.refund_requested:
            return f"Paid; a refund of {money(r.in_pot)} is due from an organizer."
        if settled:
            return f"Paid; {money(r.in_pot)} stays in the common pot (not allocated)."
        return f"Paid: {money(r.paid)} in the common pot until the allocation."
    if r.state in (PledgeState.ALLOCATED, PledgeState.DISBURSED):
        used = r.allocated + r.disbursed
        text = f"{money(used)} pays for funded projects"
        text += "; paid out to them." if r.state == PledgeState.DISBURSED else "."
        if r.in_pot:
            text += f" {money(r.in_pot)} stays in the common pot."
        return text
    if r.state == PledgeState.CANCELLED:
        return "Cancelled before it was paid; nothing was collected."
    if r.state == PledgeState.RELEASED and r.called:
        return f"Written off when the books closed: the {money(r.called)} called in was never paid."
    if r.state == PledgeState.RELEASED:
        return "Released: the approved allocation did not need it; nothing was collected."
    return f"Refunded: {money(r.refunded)} returned."


def statement(funding_round: FundingRound, user: User, money) -> list[StatementItem]:
    """Every pledge of one resident in the round, its fate and its ledger movements.

    `money` formats cents for the sentences (the page's currency)."""
    rows = pledge_rows(funding_round, user_id=user.id)
    ids = {r.id for r in rows}
    entries = ledger_rows(funding_round, pledge_ids=ids) if ids else []
    per_project: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    movements: dict[int, list[Movement]] = defaultdict(list)
    for entry in entries:
        for pid in sorted({line.pledge_id for line in entry.lines}):
            own = tuple(line for line in entry.lines if line.pledge_id == pid)
            movements[pid].append(_movement(replace(entry, lines=own), money))
            for line in own:
                if line.account == Account.PROJECT:
                    per_project[pid][line.project][0] += line.cents
                elif line.account == Account.DISBURSED:
                    per_project[pid][line.project][1] += line.cents
    items = []
    for r in rows:
        by_project = [
            (title, allocated, paid_out)
            for title, (allocated, paid_out) in sorted(per_project[r.id].items())
            if allocated or paid_out
        ]
        items.append(
            StatementItem(
                row=r,
                fate=_fate(r, money, funding_round.status),
                by_project=by_project,
                movements=movements[r.id],
            )
        )
    return items


def member_of(funding_round: FundingRound, user_id: int) -> User | None:
    """A person of the round's community (or who pledged in it); None for anyone else."""
    user = db.session.get(User, user_id)
    if user is None:
        return None
    member = db.session.scalar(
        select(func.count())
        .select_from(Membership)
        .where(Membership.user_id == user_id, Membership.community_id == funding_round.community_id)
    )
    pledged = db.session.scalar(
        select(func.count())
        .select_from(Pledge)
        .where(Pledge.user_id == user_id, Pledge.round_id == funding_round.id)
    )
    return user if member or pledged else None
