"""Every invariant the books must keep, checked from the entries alone.

`verify()` returns the problems in a fixed order (round by round, invariant by invariant),
so "the first broken one" is always the same one.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select

from commonpot.extensions import db
from commonpot.models import FundingRound

from .ledger import Account, LedgerEntry, LedgerLine
from .models import Grant, Pledge, PledgeShare, PledgeState

PAID_STATES = (PledgeState.COLLECTED, PledgeState.ALLOCATED, PledgeState.DISBURSED)


@dataclass(frozen=True)
class Problem:
    invariant: str
    round_id: int | None
    detail: str


@dataclass(frozen=True)
class Report:
    rounds: int
    entries: int
    lines: int
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(round_ids: list[int] | None = None) -> Report:
    query = select(FundingRound.id).order_by(FundingRound.id)
    if round_ids is not None:
        query = query.where(FundingRound.id.in_(round_ids))
    rounds = list(db.session.scalars(query))
    problems: list[Problem] = []
    for round_id in rounds:
        problems += _check_round(round_id)
    entries_query = select(func.count()).select_from(LedgerEntry)
    lines_query = select(func.count()).select_from(LedgerLine)
    if round_ids is not None:
        entries_query = entries_query.where(LedgerEntry.round_id.in_(rounds))
        lines_query = lines_query.where(LedgerLine.round_id.in_(rounds))
    entries = db.session.scalar(entries_query) or 0
    lines = db.session.scalar(lines_query) or 0
    return Report(len(rounds), entries, lines, tuple(problems))


def _check_round(round_id: int) -> list[Problem]:
    out: list[Problem] = []

    def broken(invariant: str, detail: str) -> None:
        out.append(Problem(invariant, round_id, detail))

    # 1. Every entry balances, and its lines belong to its round.
    for entry_id, total in db.session.execute(
        select(LedgerLine.entry_id, func.sum(LedgerLine.cents))
        .where(LedgerLine.round_id == round_id)
        .group_by(LedgerLine.entry_id)
        .having(func.sum(LedgerLine.cents) != 0)
        .order_by(LedgerLine.entry_id)
    ):
        broken("entries balance", f"entry {entry_id} is off by {total} cents")
    for (entry_id,) in db.session.execute(
        select(LedgerLine.entry_id)
        .join(LedgerEntry, LedgerEntry.id == LedgerLine.entry_id)
        .where(LedgerLine.round_id == round_id, LedgerEntry.round_id != round_id)
        .distinct()
    ):
        broken("entries balance", f"entry {entry_id} has lines in another round")

    # Balances by (pledge, account) and (grant, project, account), in two queries.
    per_pledge: dict[int | None, dict[Account, int]] = defaultdict(lambda: defaultdict(int))
    per_grant: dict[int, dict[tuple[int | None, Account], int]] = defaultdict(
        lambda: defaultdict(int)
    )
    round_totals: dict[Account, int] = defaultdict(int)
    for pledge_id, grant_id, project_id, account, cents in db.session.execute(
        select(
            LedgerLine.pledge_id,
            LedgerLine.grant_id,
            LedgerLine.project_id,
            LedgerLine.account,
            func.sum(LedgerLine.cents),
        )
        .where(LedgerLine.round_id == round_id)
        .group_by(
            LedgerLine.pledge_id, LedgerLine.grant_id, LedgerLine.project_id, LedgerLine.account
        )
    ):
        cents = int(cents)
        round_totals[account] += cents
        if pledge_id is not None:
            per_pledge[pledge_id][account] += cents
        if grant_id is not None:
            per_grant[grant_id][(project_id, account)] += cents

    # 2. Nothing held is negative.
    if round_totals[Account.POOL] < 0:
        broken("no negative pool", f"the round's pot is {round_totals[Account.POOL]} cents")
    for account in (Account.PROJECT, Account.GRANTS, Account.PROMISED):
        if round_totals[account] < 0:
            broken("no negative balance", f"{account.value} is {round_totals[account]} cents")

    # 3. Collected = allocated + refunded + unallocated: per pledge, per project, per round.
    pledges = {
        p.id: p for p in db.session.scalars(select(Pledge).where(Pledge.round_id == round_id))
    }
    shares: dict[int, int] = defaultdict(int)
    for pledge_id, cents in db.session.execute(
        select(PledgeShare.pledge_id, func.sum(PledgeShare.cents))
        .join(Pledge)
        .where(Pledge.round_id == round_id)
        .group_by(PledgeShare.pledge_id)
    ):
        shares[pledge_id] = int(cents)
    by_project: dict[int | None, list[int]] = defaultdict(lambda: [0, 0])
    for pledge_id in sorted(per_pledge, key=lambda k: (k is None, k or 0)):
        if pledge_id is None:
            continue
        bal = per_pledge[pledge_id]
        collected = -bal[Account.RESIDENTS]
        allocated = bal[Account.PROJECT] + bal[Account.DISBURSED]
        refunded, unallocated = bal[Account.REFUNDS], bal[Account.POOL]
        if unallocated < 0:
            broken("no negative pool", f"pledge {pledge_id} took {-unallocated} cents too many")
        if collected != allocated + refunded + unallocated:
            broken(
                "collected = allocated + refunded + unallocated",
                f"pledge {pledge_id}: collected {collected}, allocated {allocated}, "
                f"refunded {refunded}, unallocated {unallocated}",
            )
        pledge = pledges.get(pledge_id)
        if pledge is None:
            broken("lines name real pledges", f"pledge {pledge_id} is not in this round")
            continue
        key = pledge.project_id
        by_project[key][0] += collected
        by_project[key][1] += allocated + refunded + unallocated
        if allocated > shares.get(pledge_id, 0):
            broken(
                "allocations follow the approved plan",
                f"pledge {pledge_id} allocated {allocated} cents, its share is "
                f"{shares.get(pledge_id, 0)}",
            )
        # FIX: the other direction was not checked: a paid pledge whose share never reached
        # its project (what the collect-during-approval race left behind) looked fine.
        elif collected and pledge.state in PAID_STATES and allocated < shares.get(pledge_id, 0):
            broken(
                "allocations follow the approved plan",
                f"pledge {pledge_id} is paid but allocated {allocated} cents of its share "
                f"of {shares[pledge_id]}",
            )
    for project_id, (collected, accounted) in sorted(by_project.items(), key=lambda kv: kv[0] or 0):
        if collected != accounted:
            broken(
                "collected = allocated + refunded + unallocated",
                f"project {project_id}: collected {collected}, accounted for {accounted}",
            )
    resident_lines = {a: 0 for a in Account}
    for bal in per_pledge.values():
        for account, cents in bal.items():
            resident_lines[account] += cents
    if -resident_lines[Account.RESIDENTS] != (
        resident_lines[Account.PROJECT]
        + resident_lines[Account.DISBURSED]
        + resident_lines[Account.REFUNDS]
        + resident_lines[Account.POOL]
    ):
        broken("collected = allocated + refunded + unallocated", "the round's totals differ")

    # 4. Each pledge's state agrees with its money.
    for pledge_id, pledge in sorted(pledges.items()):
        problem = _state_problem(pledge, per_pledge.get(pledge_id, {}))
        if problem:
            broken("pledge states match the ledger", f"pledge {pledge_id}: {problem}")

    # 5. Grants: never more than the grant, its cap per project, nothing negative.
    for grant in db.session.scalars(
        select(Grant).where(Grant.round_id == round_id).order_by(Grant.id)
    ):
        bal = per_grant.get(grant.id, {})
        committed = sum(c for (_, a), c in bal.items() if a == Account.GRANTS)
        used: dict[int, int] = defaultdict(int)
        for (project_id, account), cents in bal.items():
            if account in (Account.PROJECT, Account.DISBURSED) and project_id is not None:
                used[project_id] += cents
        if committed < 0:
            broken("no negative balance", f"grant {grant.id} is overdrawn by {-committed}")
        if sum(used.values()) > grant.amount_cents:
            broken("grants within their amount", f"grant {grant.id} paid {sum(used.values())}")
        for project_id, cents in sorted(used.items()):
            if grant.cap_per_project_cents is not None and cents > grant.cap_per_project_cents:
                broken(
                    "grants within their cap per project",
                    f"grant {grant.id} paid {cents} cents to project {project_id}",
                )
    return out


def _state_problem(pledge: Pledge, bal: dict[Account, int]) -> str | None:
    promised = bal.get(Account.PROMISED, 0)
    collected = -bal.get(Account.RESIDENTS, 0)
    allocated = bal.get(Account.PROJECT, 0) + bal.get(Account.DISBURSED, 0)
    due = pledge.called_cents if pledge.called_cents is not None else pledge.amount_cents
    state = pledge.state
    if state == PledgeState.PLEDGED and any(bal.values()):
        return "an unconfirmed pledge has ledger entries"
    if state == PledgeState.CONFIRMED and (promised != due or collected):
        return f"confirmed for {due} cents but {promised} promised and {collected} collected"
    if state in (PledgeState.CANCELLED, PledgeState.RELEASED) and (promised or collected):
        return f"{state.value} yet {promised} promised and {collected} collected"
    if state in (
        PledgeState.COLLECTED,
        PledgeState.ALLOCATED,
        PledgeState.DISBURSED,
        PledgeState.REFUNDED,
    ):
        if promised:
            return f"{state.value} yet {promised} cents still promised"
        if collected != due:
            return f"{state.value} for {due} cents but {collected} collected"
    if state == PledgeState.COLLECTED and allocated:
        return "collected but already allocated"
    if state == PledgeState.ALLOCATED and not allocated:
        return "allocated but no money reached a project"
    if state == PledgeState.DISBURSED and bal.get(Account.PROJECT, 0):
        return "disbursed but money still waits in a project"
    if state == PledgeState.REFUNDED and bal.get(Account.POOL, 0):
        return "refunded but money is still in the pot"
    return None
