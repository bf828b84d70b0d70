"""The round's books: append-only, double-entry, balances always derived from the entries.

Each entry is a set of lines whose cents sum to zero (debit positive, credit negative).
Lines carry the pledge, project and grant they concern, so every balance a treasurer asks
for ("what is in the pot", "what did this pledge pay for") is a sum over lines.

Accounts:
    promised / promisors   memo pair: confirmed promises not yet paid
    residents              where residents' money comes from (credited when collected)
    pool                   collected money not (yet) allocated: the common pot
    project                money allocated to a funded project, not yet paid out
    disbursed              money paid out to a project
    refunds                money returned to residents
    funders / grants       a seed grant's money: committed by its funder, not yet used
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    DDL,
    BigInteger,
    ForeignKey,
    Index,
    String,
    event,
    func,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from commonpot.extensions import db
from commonpot.models import UTCDateTime, str_enum, utcnow


class Account(enum.StrEnum):
    PROMISED = "promised"
    PROMISORS = "promisors"
    RESIDENTS = "residents"
    POOL = "pool"
    PROJECT = "project"
    DISBURSED = "disbursed"
    REFUNDS = "refunds"
    FUNDERS = "funders"
    GRANTS = "grants"


class LedgerEntry(db.Model):
    __tablename__ = "ledger_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id", ondelete="RESTRICT"))
    round_id: Mapped[int] = mapped_column(ForeignKey("funding_round.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(30))  # confirm, collect, allocate, refund, ...
    memo: Mapped[str] = mapped_column(String(300), default="")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    lines: Mapped[list[LedgerLine]] = relationship(back_populates="entry", order_by="LedgerLine.id")

    __table_args__ = (Index("ix_ledger_entry_round", "round_id", "id"),)


class LedgerLine(db.Model):
    __tablename__ = "ledger_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entry.id", ondelete="RESTRICT"))
    round_id: Mapped[int] = mapped_column(ForeignKey("funding_round.id", ondelete="RESTRICT"))
    account: Mapped[Account] = mapped_column(str_enum(Account, "ledger_account"))
    cents: Mapped[int] = mapped_column(BigInteger)  # debit +, credit -
    pledge_id: Mapped[int | None] = mapped_column(ForeignKey("pledge.id", ondelete="RESTRICT"))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("project.id", ondelete="RESTRICT"))
    grant_id: Mapped[int | None] = mapped_column(ForeignKey("seed_grant.id", ondelete="RESTRICT"))

    entry: Mapped[LedgerEntry] = relationship(back_populates="lines")

    __table_args__ = (
        Index("ix_ledger_line_round_account", "round_id", "account"),
        Index("ix_ledger_line_pledge", "pledge_id"),
    )


# The database itself refuses to change history (the ORM guard below is the friendly one).
APPEND_ONLY_SQL = {
    "postgresql": [
        """CREATE OR REPLACE FUNCTION commonpot_ledger_append_only() RETURNS trigger AS $$
           BEGIN RAISE EXCEPTION 'the ledger is append-only'; END; $$ LANGUAGE plpgsql""",
        *(
            f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
                FOR EACH ROW EXECUTE FUNCTION commonpot_ledger_append_only()"""
            for table in ("ledger_entry", "ledger_line")
        ),
    ],
    "sqlite": [
        f"""CREATE TRIGGER {table}_no_{verb} BEFORE {verb.upper()} ON {table}
            BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END"""
        for table in ("ledger_entry", "ledger_line")
        for verb in ("update", "delete")
    ],
}

for _statement in APPEND_ONLY_SQL["sqlite"]:
    event.listen(LedgerLine.__table__, "after_create", DDL(_statement).execute_if(dialect="sqlite"))
for _statement in APPEND_ONLY_SQL["postgresql"]:
    event.listen(
        LedgerLine.__table__, "after_create", DDL(_statement).execute_if(dialect="postgresql")
    )


@event.listens_for(Session, "before_flush")
def _refuse_history_changes(session: Session, _context, _instances) -> None:
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, LedgerEntry | LedgerLine) and (
            obj in session.deleted or session.is_modified(obj)
        ):
            raise RuntimeError("the ledger is append-only: post a correcting entry instead")


@dataclass(frozen=True)
class Line:
    account: Account
    cents: int
    pledge_id: int | None = None
    project_id: int | None = None
    grant_id: int | None = None


def post(
    *,
    community_id: int,
    round_id: int,
    kind: str,
    lines: Iterable[Line],
    memo: str = "",
    actor_id: int | None = None,
) -> LedgerEntry:
    """Append one balanced entry; refuses an unbalanced or empty one before it is written."""
    lines = [line for line in lines if line.cents != 0]
    if not lines:
        raise ValueError("a ledger entry needs at least one non-zero line")
    if sum(line.cents for line in lines) != 0:
        raise ValueError(f"unbalanced ledger entry {kind}: {lines}")
    entry = LedgerEntry(
        community_id=community_id, round_id=round_id, kind=kind, memo=memo[:300], actor_id=actor_id
    )
    db.session.add(entry)
    db.session.flush()
    db.session.add_all(
        LedgerLine(
            entry_id=entry.id,
            round_id=round_id,
            account=line.account,
            cents=line.cents,
            pledge_id=line.pledge_id,
            project_id=line.project_id,
            grant_id=line.grant_id,
        )
        for line in lines
    )
    db.session.flush()
    return entry


def transfer(debit: Account, credit: Account, cents: int, **dims: int | None) -> tuple[Line, Line]:
    """Two lines moving `cents` into `debit` out of `credit`, with the same dimensions."""
    return Line(debit, cents, **dims), Line(credit, -cents, **dims)


def balance(round_id: int, account: Account, **dims: int | None) -> int:
    """Sum of one account's lines in a round, optionally for one pledge/project/grant."""
    query = select(func.coalesce(func.sum(LedgerLine.cents), 0)).where(
        LedgerLine.round_id == round_id, LedgerLine.account == account
    )
    for name, value in dims.items():
        query = query.where(getattr(LedgerLine, name) == value)
    return int(db.session.scalar(query))


def balances_by(round_id: int, dimension: str) -> dict[tuple[int | None, Account], int]:
    """{(pledge/project/grant id, account): cents} for one round, in one query."""
    column = getattr(LedgerLine, dimension)
    rows = db.session.execute(
        select(column, LedgerLine.account, func.sum(LedgerLine.cents))
        .where(LedgerLine.round_id == round_id)
        .group_by(column, LedgerLine.account)
    )
    return {(key, account): int(total) for key, account, total in rows}


def entries_of(round_id: int) -> list[LedgerEntry]:
    return list(
        db.session.scalars(
            select(LedgerEntry).where(LedgerEntry.round_id == round_id).order_by(LedgerEntry.id)
        )
    )


def held_by_project(round_id: int, account: Account, project_id: int) -> dict[tuple, int]:
    """{(pledge id, grant id): cents} of one account for one project, non-zero only."""
    rows = db.session.execute(
        select(LedgerLine.pledge_id, LedgerLine.grant_id, func.sum(LedgerLine.cents))
        .where(
            LedgerLine.round_id == round_id,
            LedgerLine.account == account,
            LedgerLine.project_id == project_id,
        )
        .group_by(LedgerLine.pledge_id, LedgerLine.grant_id)
    )
    return {(pledge, grant): int(cents) for pledge, grant, cents in rows if int(cents)}
