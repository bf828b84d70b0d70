"""An append-only audit log kept as a hash chain, so a changed or removed event shows."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, select, text
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
        body = json.dumps(
            {
                "seq": self.seq,
                "community": self.community_id,
                "actor": self.actor_id,
                "action": self.action,
                "subject": self.subject,
                "data": self.data,
                "at": self.created_at.isoformat(),
                "prev": self.prev_hash,
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


def verify_chain() -> list[str]:
    """Problems found walking the chain (empty when intact)."""
    problems: list[str] = []
    prev, expected_seq = GENESIS, 1
    for event in db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq)):
        if event.seq != expected_seq:
            problems.append(f"event {expected_seq} is missing")
        if event.prev_hash != prev:
            problems.append(f"event {event.seq} does not follow the one before it")
        if event.digest() != event.hash:
            problems.append(f"event {event.seq} ({event.action}) was changed")
        prev, expected_seq = event.hash, event.seq + 1
    return problems
