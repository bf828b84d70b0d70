"""Where the organizers' audit page last verified the chain, so a page view stays quick.

Walking the whole chain costs about 20 µs an event (two seconds for 100,000 on the
benchmark machine), and the chain is the installation's, not one community's. So the page
walks it in full at most once a day (or when an organizer asks) and otherwise checks
only the events added since the last walk, starting from the event that walk ended on,
which must still be there with the hash noted then. An edit further back is found by the
next full walk, and always by `commonpot audit verify`, which walks everything. The
checkpoint is bookkeeping of verification, not of the community's business: it can only
make a page check less, never hide an event, and nothing else reads it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Integer, String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from .audit_chain import ChainReport, check_chain
from .extensions import db
from .models import UTCDateTime, utcnow

FULL_WALK_EVERY = timedelta(days=1)


class AuditCheckpoint(db.Model):
    """One row: the last event a walk verified, and when the chain was last walked in full."""

    __tablename__ = "audit_checkpoint"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    full_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the last full walk that held
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime)


def verify_for_page(full: bool = False) -> tuple[ChainReport, datetime | None]:
    """The chain's state for the page, and when it was last walked in full (None: never,
    or it is broken). Walks everything when asked, when a day has passed, or without a
    checkpoint; a break found drops the checkpoint, so every later view walks in full.

    The checkpoint is written on a connection of its own and committed there: a page view
    changes nothing else, and its own unit of work (a GET) is rolled back.
    """
    mark = db.session.execute(
        select(AuditCheckpoint.seq, AuditCheckpoint.hash, AuditCheckpoint.full_at).limit(1)
    ).first()
    now = utcnow()
    walk_all = full or mark is None or now - mark.full_at >= FULL_WALK_EVERY
    report = check_chain() if walk_all else check_chain(after=(mark.seq, mark.hash))
    full_at = None if not report.ok or report.last_hash is None else now
    if full_at is not None and not walk_all:
        full_at = mark.full_at
    table = AuditCheckpoint.__table__
    try:
        with db.engine.begin() as connection:
            connection.execute(table.delete())
            if full_at is not None:
                values = {"seq": report.events, "hash": report.last_hash, "checked_at": now}
                connection.execute(table.insert().values(id=1, full_at=full_at, **values))
    except IntegrityError:
        pass  # a view at the same moment wrote its checkpoint: as good as this one
    return report, full_at
