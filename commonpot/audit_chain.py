"""Walking the audit chain: is every event still there, in order, with the content it was
sealed with? The first event where it stops holding is named, with what most likely
happened to it, in plain words (`commonpot audit verify`, the organizer's audit page).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import func, select

from .audit import EVENT_COLUMNS, GENESIS, AuditEvent, row_digest
from .extensions import db


def unsealed_count() -> int:
    """Committed events not yet in the chain (normally none: see the module)."""
    return (
        db.session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.seq.is_(None))
        )
        or 0
    )


@dataclass(frozen=True)
class BrokenEvent:
    """The first event at which the chain stops holding, and what is wrong, in plain words."""

    seq: int
    id: int
    action: str
    subject: str
    community_id: int | None
    problem: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "id": self.id,
            "action": self.action,
            "subject": self.subject,
            "problem": self.problem,
        }

    def describe(self) -> str:
        return f"event seq {self.seq} (id {self.id}, {self.action} {self.subject}): {self.problem}"


@dataclass(frozen=True)
class ChainReport:
    """The outcome of walking the whole chain.

    `events` counts every event in the chain; `last_hash` is the hash the log ends with now
    (note it down: removing events from the very end leaves an intact but shorter chain, which
    only a remembered last hash reveals).
    """

    events: int
    last_hash: str | None
    broken: BrokenEvent | None
    unsealed: int = 0  # committed events waiting to be sealed (not in `events`)

    @property
    def ok(self) -> bool:
        return self.broken is None

    @property
    def problems(self) -> list[str]:
        return [] if self.broken is None else [self.broken.describe()]

    def summary(self) -> str:
        waiting = f" ({self.unsealed} not yet sealed)" if self.unsealed else ""
        if self.broken is None:
            return (
                f"audit chain intact: {self.events} events{waiting}, "
                f"last hash {self.last_hash or 'none'}"
            )
        return f"audit chain BROKEN at {self.broken.describe()}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "last_hash": self.last_hash,
            "broken": None if self.broken is None else self.broken.as_dict(),
            "unsealed": self.unsealed,
        }


_COLUMNS = (*EVENT_COLUMNS, AuditEvent.seq, AuditEvent.prev_hash, AuditEvent.hash)


def check_chain(batch_size: int = 2000, after: tuple[int, str] | None = None) -> ChainReport:
    """Walk the chain in seq order, `batch_size` rows at a time, and stop at the first break.

    `after` (seq, hash) starts the walk at an event a walk already verified: that event must
    still be there with that hash, and only the events after it are checked (see
    `audit_checkpoint`).

    Each event must carry the next seq (1, 2, 3, ...), name the hash of the event before it
    (the genesis hash for the first), hash to its stored hash, and have an id above the one
    before it (ids are given in the order events are sealed into the chain). Rows are read
    as plain tuples by seq ranges, so a long log is never held in memory at once. Events
    not yet sealed are not part of the chain: they are counted apart (`seal()` first to
    include them).
    """
    previous = None  # the row before the one being checked
    walked = 0
    if after is not None:
        seq, noted = after
        previous = db.session.execute(select(*_COLUMNS).where(AuditEvent.seq == seq)).first()
        if previous is None or previous.hash != noted:
            return _changed_anchor(seq, previous)
        walked = seq
    while True:
        query = select(*_COLUMNS).order_by(AuditEvent.seq).limit(batch_size)
        query = query.where(AuditEvent.seq.is_not(None))
        if previous is not None:
            query = query.where(AuditEvent.seq > previous.seq)
        rows = db.session.execute(query).all()
        for row in rows:
            problem = _problem(row, previous)
            if problem:
                return _broken(row, problem)
            previous, walked = row, walked + 1
        if len(rows) < batch_size:
            break
    return ChainReport(walked, previous.hash if previous else None, None, unsealed_count())


def _problem(row, previous) -> str | None:
    """What is wrong with this event, given the one before it in seq order; None if nothing."""
    expected_seq = previous.seq + 1 if previous else 1
    if row.seq < expected_seq:  # only possible for the first row: seqs are unique
        return f"its seq {row.seq} is below 1, where the chain starts"
    if row.seq > expected_seq:
        gap = row.seq - expected_seq
        if gap == 1:
            return f"the event with seq {expected_seq} before it is missing: it was removed"
        return (
            f"the {gap} events with seq {expected_seq} to {row.seq - 1} before it are missing: "
            "they were removed"
        )
    if row.prev_hash != (previous.hash if previous else GENESIS):
        return _link_problem(row, previous)
    if row_digest(row) != row.hash:
        return (
            "it was edited after it was recorded: its stored content (action, subject, data, "
            "actor, community or time) no longer matches its hash"
        )
    if previous is not None and row.id < previous.id:
        return (
            f"it is out of order: its id {row.id} is lower than the id {previous.id} of the "
            f"event before it (seq {previous.seq}), so the rows were renumbered or reordered"
        )
    return None


def _link_problem(row, previous) -> str:
    """The event does not name the hash of the event before it: say what most likely happened."""
    if previous is None:
        return "it is first in the chain but does not start from the genesis hash"
    before = f"the event before it (seq {previous.seq}, id {previous.id})"
    target = db.session.execute(
        select(AuditEvent.seq, AuditEvent.id)
        .where(AuditEvent.hash == row.prev_hash)
        .order_by(AuditEvent.seq)
        .limit(1)
    ).first()
    if target is not None and target.seq > row.seq:
        return (
            f"it is out of order: it was recorded right after the event with id {target.id}, "
            f"which now has the later seq {target.seq}; events were reordered (their seq changed)"
        )
    if target is not None:
        return (
            f"it does not follow {before}: it was recorded right after the event with id "
            f"{target.id} (seq {target.seq}), so the events between them were inserted or moved"
        )
    if row.id < previous.id or row.created_at < previous.created_at:
        return (
            f"it is out of order: it was recorded before {before} (lower id or earlier time) "
            "but its seq places it after; events were reordered"
        )
    return (
        f"its link to {before} is broken: that event was rewritten (its hash recomputed), "
        "or the event this one followed was removed and the rest renumbered"
    )


def _changed_anchor(seq: int, row) -> ChainReport:
    """The event a past walk ended on is gone or hashes differently now."""
    if row is None:
        missing = {"seq": seq, "id": 0, "action": "", "subject": "", "community_id": None}
        problem = "it was verified earlier and has been removed since"
        return _broken(SimpleNamespace(**missing), problem)
    return _broken(row, "its hash is not the one noted when it was verified: it was rewritten")


def _broken(row, problem: str) -> ChainReport:
    sealed = AuditEvent.seq.is_not(None)
    total = db.session.scalar(select(func.count()).select_from(AuditEvent).where(sealed)) or 0
    last = db.session.scalar(
        select(AuditEvent.hash).where(sealed).order_by(AuditEvent.seq.desc()).limit(1)
    )
    broken = BrokenEvent(
        seq=row.seq,
        id=row.id,
        action=row.action,
        subject=row.subject,
        community_id=row.community_id,
        problem=problem,
    )
    return ChainReport(total, last, broken, unsealed_count())


def verify_chain() -> list[str]:
    """Problems found walking the chain: empty when intact, else the first break, described."""
    return check_chain().problems
