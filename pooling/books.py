"""Reading a round's books for the treasurer's pages, the CSV exports (`exports`) and
the residents' statements (`statements`).

Read-only: every figure is a sum of ledger lines (balances are never stored). A page and
its CSV export call the same function here, so they cannot disagree. "Money held" is what
the cooperative holds for the round: the common pot plus the money allocated to projects
and not yet paid out (collected, not yet disbursed or refunded; grant money counts once
the approved allocation moves it into a project).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import selectinload

from commonpot.extensions import db
from commonpot.models import FundingRound, Project, RoundStatus, User

from .allocation import chosen_run
from .grants import grants_of
from .ledger import Account, LedgerEntry, LedgerLine, balances_by
from .models import (
    Condition,
    Grant,
    Instrument,
    Pledge,
    PledgeState,
    PledgeTarget,
    TargetKind,
)
from .treasury import SETTLED_STATUSES

HELD_ACCOUNTS = (Account.POOL, Account.PROJECT)
MEMO_ACCOUNTS = (Account.PROMISED, Account.PROMISORS)

KIND_LABELS = {
    "confirm": "Promise confirmed",
    "cancel": "Promise cancelled",
    "release": "Promise released",
    "collect": "Payment received",
    "allocate": "Allocated to projects",
    "refund": "Refunded",
    "disburse": "Paid out to a project",
    "grant_commit": "Grant committed",
    "grant_settle": "Grant settled",
    "write_off": "Written off",
}
ACCOUNT_LABELS = {
    Account.PROMISED: "promised",
    Account.PROMISORS: "promisors",
    Account.RESIDENTS: "residents",
    Account.POOL: "common pot",
    Account.PROJECT: "project",
    Account.DISBURSED: "paid out",
    Account.REFUNDS: "refunds",
    Account.FUNDERS: "funders",
    Account.GRANTS: "grants",
}
STATE_LABELS = {
    PledgeState.PLEDGED: "not confirmed",
    PledgeState.CONFIRMED: "confirmed",
    PledgeState.COLLECTED: "paid",
    PledgeState.ALLOCATED: "allocated",
    PledgeState.DISBURSED: "paid out",
    PledgeState.CANCELLED: "cancelled",
    PledgeState.RELEASED: "released",
    PledgeState.REFUNDED: "refunded",
}
# Pseudo-states for the treasurer's filter: what is waiting for them.
TO_COLLECT, TO_REFUND = "to_collect", "to_refund"


# -- balances ------------------------------------------------------------------------


@dataclass(frozen=True)
class GrantBalance:
    grant: Grant
    unused: int  # committed by the funder, not (yet) moved to a project
    allocated: int  # in projects, not paid out
    disbursed: int  # paid out to projects
    released: int  # given back to the funder at approval

    @property
    def used(self) -> int:
        return self.allocated + self.disbursed


@dataclass(frozen=True)
class ProjectMoney:
    project: Project
    funded: bool  # by the chosen allocation run
    allocated: int  # allocated, not yet paid out
    disbursed: int
    planned: int  # what the approved plan gives it from every source

    @property
    def can_disburse(self) -> bool:
        return self.allocated > 0

    @property
    def to_come(self) -> int:
        """Planned money not in the project yet: pledges still to be paid."""
        return max(self.planned - self.allocated - self.disbursed, 0)


@dataclass(frozen=True)
class Balances:
    collected: int  # paid by residents, ever
    pot: int  # collected, not allocated: the common pot
    promised: int  # confirmed promises not yet paid
    allocated: int  # allocated to projects, not paid out (residents' and grants' money)
    disbursed: int
    refunds: int
    grants: list[GrantBalance]
    projects: list[ProjectMoney]
    can_disburse: bool  # the round is approved: projects may be paid

    @property
    def held(self) -> int:
        return self.pot + self.allocated


def balances(funding_round: FundingRound) -> Balances:
    totals: dict[Account, int] = defaultdict(int)
    per_project: dict[tuple[int | None, Account], int] = balances_by(funding_round.id, "project_id")
    for (_, account), cents in per_project.items():
        totals[account] += cents
    by_grant: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for grant_id, account, cents in db.session.execute(
        select(LedgerLine.grant_id, LedgerLine.account, LedgerLine.cents).where(
            LedgerLine.round_id == funding_round.id, LedgerLine.grant_id.is_not(None)
        )
    ):
        bal = by_grant[grant_id]
        bal[account.value] += cents
        if account == Account.FUNDERS and cents > 0:
            bal["released"] += cents
    grants = [
        GrantBalance(
            grant=g,
            unused=by_grant[g.id][Account.GRANTS.value],
            allocated=by_grant[g.id][Account.PROJECT.value],
            disbursed=by_grant[g.id][Account.DISBURSED.value],
            released=by_grant[g.id]["released"],
        )
        for g in grants_of(funding_round)
    ]
    run = chosen_run(funding_round)
    funded = {o.project_id for o in run.outcomes if o.funded} if run else set()
    planned: dict[int, int] = defaultdict(int)
    for line in run.lines if run else ():
        planned[line.project_id] += line.cents
    settled = funding_round.status in SETTLED_STATUSES
    projects = [
        ProjectMoney(
            project=p,
            funded=p.id in funded,
            allocated=per_project.get((p.id, Account.PROJECT), 0),
            disbursed=per_project.get((p.id, Account.DISBURSED), 0),
            planned=planned[p.id] if settled and p.id in funded else 0,
        )
        for p in sorted(funding_round.projects, key=lambda p: p.title.lower())
        if (settled and p.id in funded)
        or per_project.get((p.id, Account.PROJECT), 0)
        or per_project.get((p.id, Account.DISBURSED), 0)
    ]
    return Balances(
        collected=-totals[Account.RESIDENTS],
        pot=totals[Account.POOL],
        promised=totals[Account.PROMISED],
        allocated=totals[Account.PROJECT],
        disbursed=totals[Account.DISBURSED],
        refunds=totals[Account.REFUNDS],
        grants=grants,
        projects=projects,
        can_disburse=settled,
    )


# -- pledges -------------------------------------------------------------------------


@dataclass(frozen=True)
class PledgeRow:
    id: int
    receipt_code: str
    user_id: int
    resident: str
    email: str
    instrument: Instrument
    shares: int | None
    loan_rate_bps: int | None
    loan_term_months: int | None
    target: TargetKind
    towards: str
    condition: Condition
    state: PledgeState
    awaiting_reconfirmation: bool
    refund_requested: bool
    amount: int
    called: int | None  # after approval: what the allocation calls in
    promised: int  # ledger: promised, not yet paid
    paid: int  # ledger: collected from the resident
    in_pot: int  # ledger: collected, in the common pot
    allocated: int  # ledger: in projects, not paid out
    disbursed: int
    refunded: int
    payment_method: str
    payment_reference: str
    created_at: datetime
    collected_at: datetime | None
    due: int  # what "record payment" would collect (0: nothing to collect now)
    collect_note: str  # why there is nothing to collect, when the pledge is confirmed
    refundable: int  # what "refund" would return (0: not refundable now)

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]


def _towards(
    pledge: Pledge, projects: dict[int, Project], areas: dict[int, str], several: dict[int, list]
) -> str:
    if pledge.target == TargetKind.POT:
        return "The common pot"
    if pledge.target == TargetKind.AREA:
        return f"Any project in {areas.get(pledge.priority_area_id, '?')}"
    if pledge.target == TargetKind.PROJECT:
        project = projects.get(pledge.project_id)
        return project.title if project else "?"
    titles = [projects[pid].title for pid in several.get(pledge.id, []) if pid in projects]
    return "Any of: " + ", ".join(titles)


def _collect_terms(pledge: Pledge, settled: bool) -> tuple[int, str]:
    """(cents a recorded payment would collect now, why none), as `collect_pledge` decides."""
    if pledge.state != PledgeState.CONFIRMED:
        return 0, ""
    if pledge.awaiting_reconfirmation:
        return 0, "Waits for the resident to reconfirm it."
    if settled:
        if not pledge.called_cents:
            return 0, "The allocation did not call it in."
        return pledge.called_cents, ""
    if pledge.condition == Condition.ALL_OR_NOTHING:
        return 0, "All-or-nothing: collected once the board approves an allocation using it."
    return pledge.amount_cents, ""


def pledge_rows(
    funding_round: FundingRound,
    *,
    state: str = "",
    instrument: str = "",
    target: str = "",
    search: str = "",
    user_id: int | None = None,
) -> list[PledgeRow]:
    """The round's pledges with their money from the ledger, oldest first, filtered.

    state: a PledgeState value, or TO_COLLECT / TO_REFUND; instrument: an Instrument value;
    target: "pot", "area", "project", "projects" or "project:<id>" (any pledge that may go
    to that project); search: part of the resident's name or email, or of a receipt code.
    """
    query = (
        select(Pledge)
        .join(User, User.id == Pledge.user_id)
        .where(Pledge.round_id == funding_round.id)
        .options(selectinload(Pledge.user), selectinload(Pledge.targets))
        .order_by(Pledge.id)
    )
    if state in {s.value for s in PledgeState}:
        query = query.where(Pledge.state == PledgeState(state))
    elif state == TO_COLLECT:
        query = query.where(Pledge.state == PledgeState.CONFIRMED)
    elif state == TO_REFUND:
        query = query.where(Pledge.state == PledgeState.COLLECTED)
    if instrument in {i.value for i in Instrument}:
        query = query.where(Pledge.instrument == Instrument(instrument))
    if target in {t.value for t in TargetKind}:
        query = query.where(Pledge.target == TargetKind(target))
    elif target.startswith("project:") and target[8:].isdigit():
        pid = int(target[8:])
        query = query.where(
            or_(
                Pledge.project_id == pid,
                exists().where(PledgeTarget.pledge_id == Pledge.id, PledgeTarget.project_id == pid),
            )
        )
    search = search.strip()
    if search:
        query = query.where(
            or_(
                User.name.icontains(search, autoescape=True),
                User.email.icontains(search, autoescape=True),
                Pledge.receipt_code.icontains(search, autoescape=True),
            )
        )
    if user_id is not None:
        query = query.where(Pledge.user_id == user_id)
    pledges = db.session.scalars(query).all()

    money = balances_by(funding_round.id, "pledge_id")
    projects = {p.id: p for p in funding_round.projects}
    areas = {a.id: a.name for a in funding_round.priority_areas}
    several = {p.id: [t.project_id for t in p.targets] for p in pledges}
    settled = funding_round.status in SETTLED_STATUSES
    rows = []
    for p in pledges:

        def bal(account: Account, pid: int = p.id) -> int:
            return money.get((pid, account), 0)

        due, note = _collect_terms(p, settled)
        refundable = 0
        if p.state == PledgeState.COLLECTED and p.refund_requested:
            refundable = bal(Account.POOL)  # unused keep-it-all money stays in the pot
        rows.append(
            PledgeRow(
                id=p.id,
                receipt_code=p.receipt_code,
                user_id=p.user_id,
                resident=p.user.name,
                email=p.user.email,
                instrument=p.instrument,
                shares=p.shares,
                loan_rate_bps=p.loan_rate_bps,
                loan_term_months=p.loan_term_months,
                target=p.target,
                towards=_towards(p, projects, areas, several),
                condition=p.condition,
                state=p.state,
                awaiting_reconfirmation=p.awaiting_reconfirmation,
                refund_requested=p.refund_requested,
                amount=p.amount_cents,
                called=p.called_cents,
                promised=bal(Account.PROMISED),
                paid=-bal(Account.RESIDENTS),
                in_pot=bal(Account.POOL),
                allocated=bal(Account.PROJECT),
                disbursed=bal(Account.DISBURSED),
                refunded=bal(Account.REFUNDS),
                payment_method=p.payment_method.value if p.payment_method else "",
                payment_reference=p.payment_reference or "",
                created_at=p.created_at,
                collected_at=p.collected_at,
                due=due,
                collect_note=note,
                refundable=refundable,
            )
        )
    if state == TO_COLLECT:
        rows = [r for r in rows if r.due]
    elif state == TO_REFUND:
        rows = [r for r in rows if r.refund_requested]
    return rows


def pledge_in(funding_round: FundingRound, pledge_id: int) -> Pledge | None:
    pledge = db.session.get(Pledge, pledge_id)
    return pledge if pledge is not None and pledge.round_id == funding_round.id else None


def project_in(funding_round: FundingRound, project_id: int) -> Project | None:
    project = db.session.get(Project, project_id)
    return project if project is not None and project.round_id == funding_round.id else None


# -- the ledger ----------------------------------------------------------------------


@dataclass(frozen=True)
class LineRow:
    account: Account
    cents: int  # debit +, credit -
    pledge_id: int | None
    receipt_code: str
    resident: str
    project: str
    grant: str

    @property
    def debit(self) -> int:
        return self.cents if self.cents > 0 else 0

    @property
    def credit(self) -> int:
        return -self.cents if self.cents < 0 else 0

    @property
    def account_label(self) -> str:
        return ACCOUNT_LABELS[self.account]


@dataclass(frozen=True)
class EntryRow:
    id: int
    created_at: datetime
    kind: str
    memo: str
    actor: str
    lines: tuple[LineRow, ...]
    held_change: int  # how this entry changed the money held
    held_after: int  # money held once this entry is posted: the running balance

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)


def ledger_rows(
    funding_round: FundingRound, *, pledge_ids: set[int] | None = None
) -> list[EntryRow]:
    """Every entry of the round with its lines, oldest first, with the running money held.

    With pledge_ids, only the entries touching those pledges, with only their lines (the
    running balance is still the round's).
    """
    entries = db.session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.round_id == funding_round.id)
        .options(selectinload(LedgerEntry.lines))
        .order_by(LedgerEntry.id)
    ).all()
    pledge_names = {
        pid: (code, name)
        for pid, code, name in db.session.execute(
            select(Pledge.id, Pledge.receipt_code, User.name)
            .join(User, User.id == Pledge.user_id)
            .where(Pledge.round_id == funding_round.id)
        )
    }
    projects = {p.id: p.title for p in funding_round.projects}
    grants = {g.id: g.name for g in grants_of(funding_round)}
    actor_ids = {e.actor_id for e in entries if e.actor_id is not None}
    actors = (
        dict(db.session.execute(select(User.id, User.name).where(User.id.in_(actor_ids))).all())
        if actor_ids
        else {}
    )
    held = 0
    rows = []
    for entry in entries:
        change = sum(line.cents for line in entry.lines if line.account in HELD_ACCOUNTS)
        held += change
        lines = tuple(
            LineRow(
                account=line.account,
                cents=line.cents,
                pledge_id=line.pledge_id,
                receipt_code=pledge_names.get(line.pledge_id, ("", ""))[0],
                resident=pledge_names.get(line.pledge_id, ("", ""))[1],
                project=projects.get(line.project_id, "") if line.project_id else "",
                grant=grants.get(line.grant_id, "") if line.grant_id else "",
            )
            for line in entry.lines
            if pledge_ids is None or line.pledge_id in pledge_ids
        )
        if pledge_ids is not None and not lines:
            continue
        rows.append(
            EntryRow(
                id=entry.id,
                created_at=entry.created_at,
                kind=entry.kind,
                memo=entry.memo or "",
                actor=actors.get(entry.actor_id, "") if entry.actor_id else "",
                lines=lines,
                held_change=change,
                held_after=held,
            )
        )
    return rows


def terms_locked(funding_round: FundingRound) -> str | None:
    """Why the round's pledge terms can no longer change (None: they can)."""
    if funding_round.status not in (RoundStatus.DRAFT, RoundStatus.OPEN):
        return "The round has closed: its pledge terms are part of its record."
    pledged = db.session.scalar(
        select(func.count()).select_from(Pledge).where(Pledge.round_id == funding_round.id)
    )
    if pledged:
        return (
            f"Residents have pledged under these terms ({pledged} pledge"
            f"{'s' if pledged != 1 else ''}), so they are fixed for this round."
        )
    return None
