"""An append-only audit log kept as a hash chain, so a changed or removed event shows.

Recording and chaining are two steps, so that writers do not queue behind one another:

1. `record()` inserts the event into the caller's transaction *unsealed* (no seq, no
   hashes). It commits or rolls back with the change it describes, and takes no lock
   beyond the row it inserts.
2. Right after a commit that recorded events (after a web request on PostgreSQL, a few
   milliseconds later, together with the commits that follow: see `sealing`), `seal()`
   chains every committed unsealed event, in the order of their ids, onto the end of
   the chain: it gives each the next seq, the previous event's hash and its own hash.
   One sealer runs at a time (an advisory lock on PostgreSQL, the write lock on
   SQLite), and it seals whatever is waiting, its own events and other requests': a
   request that finds the lock taken leaves its events to the sealer holding it, which
   looks for waiting events again after it lets go of the lock — so every committed
   event is sealed by someone, soon.
   An event whose sealer died (its process was killed between commit and seal) waits
   until the next seal; `commonpot audit verify` and the audit page seal first, and the
   report counts events still unsealed.

On PostgreSQL an event inserted earlier can commit later than one inserted after it, so
the sealer gives every event it seals a fresh id from the table's sequence, in seq order:
ids still increase along the chain, and `check_chain` keeps treating an id that goes back
as reordering. (SQLite has one writer at a time, so ids are already in commit order.)
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from datetime import datetime
from typing import Any

from flask import current_app, g, has_app_context, has_request_context
from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    bindparam,
    event,
    func,
    insert,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql.dml import Insert

from . import sealing
from .extensions import db
from .models import UTCDateTime, utcnow

GENESIS = "0" * 64
log = logging.getLogger(__name__)
LOCK_KEY = 7106  # the PostgreSQL advisory lock a sealer holds
UNSEALED = "audit_unsealed"  # Session.info flag: this transaction recorded events
TO_SEAL = "audit_to_seal"  # ... and it committed: seal once its connection is back


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
    # None until the event is sealed into the chain (right after its transaction commits).
    seq: Mapped[int | None] = mapped_column(Integer, unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        # The events waiting to be sealed: few, found without reading the chain.
        Index(
            "ix_audit_event_unsealed",
            "id",
            postgresql_where=text("seq IS NULL"),
            sqlite_where=text("seq IS NULL"),
        ),
    )

    def digest(self) -> str:
        return row_digest(self)


def event_digest(
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


def row_digest(row) -> str:
    """event_digest() of anything with the event's attributes (an event, a selected row)."""
    return event_digest(
        row.seq,
        row.community_id,
        row.actor_id,
        row.action,
        row.subject,
        row.data,
        row.created_at,
        row.prev_hash,
    )


def record(
    action: str,
    subject: str,
    *,
    actor_id: int | None = None,
    community_id: int | None = None,
    **data: Any,
) -> None:
    """Add one event to the caller's transaction, which commits it with the change it
    describes; it is sealed into the chain right after that commit (see the module)."""
    record_with((), action, subject, actor_id=actor_id, community_id=community_id, **data)


@functools.cache
def _event_insert() -> Insert:
    """Built once (statements are costly to build; SQLAlchemy caches their compiled SQL),
    on the table: a Core INSERT skips the ORM's bulk-insert machinery on every event."""
    table = AuditEvent.__table__
    return insert(table).values({name: bindparam(f"event_{name}") for name in _EVENT_FIELDS})


_EVENT_FIELDS = ("community_id", "actor_id", "action", "subject", "data", "created_at")


@functools.cache
def _event_with(changes: tuple[Insert, ...]) -> Insert:
    return _event_insert().add_cte(*(c.cte(f"change_{n}") for n, c in enumerate(changes)))


Change = tuple[Insert, dict[str, Any] | list[dict[str, Any]]]


def record_with(
    changes: tuple[Change, ...],
    action: str,
    subject: str,
    /,
    *,
    actor_id: int | None = None,
    community_id: int | None = None,
    **data: Any,
) -> None:
    """record(), sent together with the INSERTs that make the change it describes, each
    with its parameters: on PostgreSQL in one statement (the INSERTs are its
    data-modifying CTEs; one round trip), elsewhere one after the other. The INSERTs must
    not read each other's rows, and their parameter names must differ (on PostgreSQL they
    take one dict each)."""
    values = {
        "event_community_id": community_id,
        "event_actor_id": actor_id,
        "event_action": action,
        "event_subject": subject,
        "event_data": json.dumps(data, sort_keys=True, default=str),
        "event_created_at": utcnow().replace(microsecond=0),
    }
    if changes and db.session.get_bind().dialect.name == "postgresql":
        db.session.flush()
        for _, params in changes:
            values.update(params)
        db.session.execute(_event_with(tuple(c for c, _ in changes)), values)
    else:
        for change, params in changes:
            db.session.execute(change, params)
        db.session.execute(_event_insert(), values)
    db.session.info[UNSEALED] = True


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    if session.info.pop(UNSEALED, False):
        session.info[TO_SEAL] = True


@event.listens_for(Session, "after_transaction_end")
def _seal_after_commit(session: Session, transaction) -> None:
    """Once the committed transaction has given its connection back (a sealer needing a
    second connection while holding one could drain the pool); a rolled-back
    transaction's events are gone."""
    if transaction.parent is not None:
        return
    session.info.pop(UNSEALED, None)
    if not session.info.pop(TO_SEAL, False):
        return
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    delay = current_app.config.get("AUDIT_SEAL_DELAY", 0) if has_request_context() else 0
    if delay and engine.dialect.name == "postgresql":
        sealing.sealer(seal).soon(engine, delay)  # with the next few commits (sealing.py)
        return
    try:
        seal(engine)
    except Exception:  # the change is committed: its events wait for the next seal
        log.exception("audit: sealing after a commit failed; the next seal chains the events")


EVENT_COLUMNS = (
    AuditEvent.id,
    AuditEvent.community_id,
    AuditEvent.actor_id,
    AuditEvent.action,
    AuditEvent.subject,
    AuditEvent.data,
    AuditEvent.created_at,
)


def seal(engine: Engine | None = None) -> int:
    """Chain every committed unsealed event; returns how many this call sealed."""
    engine = engine or db.engine
    if engine.dialect.name == "postgresql":
        return _seal_postgresql(engine)
    return _seal_sqlite(engine)


# The waiting events (each with a fresh id drawn for it) and the chain's last event.
_PG_WAITING = """
SELECT id, community_id, actor_id, action, subject, data, created_at, seq, hash,
       nextval('audit_event_id_seq') AS new_id
  FROM audit_event WHERE seq IS NULL
UNION ALL
SELECT id, community_id, actor_id, action, subject, data, created_at, seq, hash, NULL
  FROM audit_event WHERE seq = (SELECT max(seq) FROM audit_event)
"""
# One statement, so a batch is sealed whole or not at all.
_PG_SEAL = """
UPDATE audit_event AS e SET id = v.new, seq = v.s, prev_hash = v.p, hash = v.h
  FROM unnest(%s::integer[], %s::integer[], %s::integer[], %s::text[], %s::text[])
       AS v(old, new, s, p, h)
 WHERE e.id = v.old AND e.seq IS NULL
"""
_PG_WAITS = "SELECT EXISTS (SELECT 1 FROM audit_event WHERE seq IS NULL)"


def _seal_postgresql(engine: Engine) -> int:
    """One sealer at a time: a session advisory lock, taken without waiting.

    When another sealer holds the lock, it will find these events (it looks again after
    letting go), so this call returns at once. The connection is in autocommit and the
    one UPDATE that seals a batch is synced (so committed) before the lock is let go; the
    look for events that came in meanwhile is a statement after the unlock. A pass is
    three round trips to the server (psycopg pipelines), a sealer that gives way one. A
    failure with the lock held drops the connection, which lets go of the lock.
    """
    sealed = 0
    fairy = engine.raw_connection()
    pg = fairy.driver_connection
    try:
        pg.autocommit = True
        while True:
            with pg.pipeline() as pipeline:
                locked = pg.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,))
                waiting = pg.execute(_PG_WAITING)
                pipeline.sync()
                if not locked.fetchone()[0]:
                    return sealed  # the holder seals ours
                try:
                    params = _chain(waiting.fetchall(), rekey=True)
                    if params:
                        pg.execute(_PG_SEAL, [[p[k] for p in params] for k in "onsph"])
                        pipeline.sync()  # committed here, before the lock is let go
                    pg.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
                    more = pg.execute(_PG_WAITS)
                    pipeline.sync()
                except BaseException:
                    fairy.invalidate()  # closing the connection lets go of the lock
                    raise
            sealed += len(params)
            if not more.fetchone()[0]:  # nothing came in while the lock was held
                return sealed
    finally:
        if fairy.dbapi_connection is not None and not pg.closed:
            pg.autocommit = False
        fairy.close()


def _seal_sqlite(engine: Engine) -> int:
    """SQLite: one writer at a time, so ids are already in commit order and the write
    lock this transaction takes first (BEGIN IMMEDIATE) keeps other sealers out."""
    write_lock = has_app_context()
    if write_lock:
        before, g.sqlite_write_lock = g.get("sqlite_write_lock", False), True
    try:
        with engine.begin() as conn:
            same = (*EVENT_COLUMNS, AuditEvent.seq, AuditEvent.hash)
            last_seq = select(func.max(AuditEvent.seq)).scalar_subquery()
            rows = conn.execute(
                union_all(
                    select(*same).where(AuditEvent.seq.is_(None)),
                    select(*same).where(AuditEvent.seq == last_seq),
                )
            ).all()
            params = _chain(rows, rekey=False)
            if params:
                table = AuditEvent.__table__
                conn.execute(
                    update(table)
                    .where(table.c.id == bindparam("o"))
                    .values(seq=bindparam("s"), prev_hash=bindparam("p"), hash=bindparam("h")),
                    params,
                )
    finally:
        if write_lock:
            g.sqlite_write_lock = before
    return len(params)


_AT = UTCDateTime()


def _chain(rows, *, rekey: bool) -> list[dict[str, Any]]:
    """The seals of the waiting rows (seq None) onto the last sealed one, in id order:
    o(ld id), n(ew id), s(eq), p(rev hash), h(ash)."""
    tail = [r for r in rows if r[7] is not None]
    events = sorted((r for r in rows if r[7] is None), key=lambda r: r[0])
    seq, prev = (tail[0][7], tail[0][8]) if tail else (0, GENESIS)
    new_ids = sorted(r[9] for r in events) if rekey else [r[0] for r in events]
    params = []
    for row, new_id in zip(events, new_ids, strict=True):
        seq += 1
        at = row[6] if row[6].tzinfo else _AT.process_result_value(row[6], None)
        digest = event_digest(seq, row[1], row[2], row[3], row[4], row[5], at, prev)
        params.append({"o": row[0], "n": new_id, "s": seq, "p": prev, "h": digest})
        prev = digest
    return params
