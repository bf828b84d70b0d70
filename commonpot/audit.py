"""An append-only audit log kept as a hash chain, so a changed or removed event shows."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, func, select, text
from sqlalchemy.orm import Mapped, mapped_column

from .extensions import db
from .models import UTCDateTime, utcnow

GENESIS = "0" * 64


class AuditEvent(db.Model):
    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int | None] = mapped_column(
        ForeignKey("community.id", ondelete="SET NULL"), index=True
    )
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(60))
    subject: Mapped[str] = mapped_column(String(120))
    data: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    def digest(self) -> str:
        return _digest(
            self.seq,
            self.community_id,
            self.actor_id,
            self.action,
            self.subject,
            self.data,
            self.created_at,
            self.prev_hash,
        )


def _digest(
    seq: int,
    community_id: int | None,
    actor_id: int | None,
    action: str,
    subject: str,
    data: str,
    created_at: datetime,
    prev_hash: str,
) -> str:
    """SHA-256 of an event's content and of the hash of the event before it."""
    body = json.dumps(
        {
            "seq": seq,
            "community": community_id,
            "actor": actor_id,
            "action": action,
            "subject": subject,
            "data": data,
            "at": created_at.isoformat(),
            "prev": prev_hash,
        },
        sort_keys=True,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def record(
    action: str,
    subject: str,
    *,
    actor_id: int | None = None,
    community_id: int | None = None,
    **data: Any,
) -> AuditEvent:
    """Append one event; the caller's transaction commits it with the change it describes."""
    if db.session.get_bind().dialect.name == "postgresql":
        # Serialise writers so two requests cannot fork the chain.
        db.session.execute(text("SELECT pg_advisory_xact_lock(7106)"))
    last = db.session.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    event = AuditEvent(
        community_id=community_id,
        actor_id=actor_id,
        action=action,
        subject=subject,
        data=json.dumps(data, sort_keys=True, default=str),
        created_at=utcnow().replace(microsecond=0),
        seq=(last.seq + 1) if last else 1,
        prev_hash=last.hash if last else GENESIS,
    )
    event.hash = event.digest()
    db.session.add(event)
    db.session.flush()
    return event


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

    `events` counts every event in the log; `last_hash` is the hash the log ends with now
    (note it down: removing events from the very end leaves an intact but shorter chain, which
    only a remembered last hash reveals).
    """

    events: int
    last_hash: str | None
    broken: BrokenEvent | None

    @property
    def ok(self) -> bool:
        return self.broken is None

    @property
    def problems(self) -> list[str]:
        return [] if self.broken is None else [self.broken.describe()]

    def summary(self) -> str:
        if self.broken is None:
            return f"audit chain intact: {self.events} events, last hash {self.last_hash or 'none'}"
        return f"audit chain BROKEN at {self.broken.describe()}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "last_hash": self.last_hash,
            "broken": None if self.broken is None else self.broken.as_dict(),
        }


_COLUMNS = (
    AuditEvent.id,
    AuditEvent.seq,
    AuditEvent.community_id,
    AuditEvent.actor_id,
    AuditEvent.action,
    AuditEvent.subject,
    AuditEvent.data,
    AuditEvent.created_at,
    AuditEvent.prev_hash,
    AuditEvent.hash,
)


def check_chain(batch_size: int = 2000) -> ChainReport:
    """Walk the chain in seq order, `batch_size` rows at a time, and stop at the first break.

    Each event must carry the next seq (1, 2, 3, ...), name the hash of the event before it
    (the genesis hash for the first), hash to its stored hash, and have an id above the one
    before it (ids are given in the order events are recorded). Rows are read as plain
    tuples by seq ranges, so a long log is never held in memory at once.
    """
    previous = None  # the row before the one being checked
    walked = 0
    while True:
        query = select(*_COLUMNS).order_by(AuditEvent.seq).limit(batch_size)
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
    return ChainReport(walked, previous.hash if previous else None, None)


def _row_digest(row) -> str:
    return _digest(
        row.seq,
        row.community_id,
        row.actor_id,
        row.action,
        row.subject,
        row.data,
        row.created_at,
        row.prev_hash,
    )


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
    if _row_digest(row) != row.hash:
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


def _broken(row, problem: str) -> ChainReport:
    total = db.session.scalar(select(func.count()).select_from(AuditEvent)) or 0
    last = db.session.scalar(select(AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1))
    broken = BrokenEvent(
        seq=row.seq,
        id=row.id,
        action=row.action,
        subject=row.subject,
        community_id=row.community_id,
        problem=problem,
    )
    return ChainReport(total, last, broken)


def verify_chain() -> list[str]:
    """Problems found walking the chain: empty when intact, else the first break, described."""
    return check_chain().problems
