"""Login rate limiting that holds across worker processes: failures are rows, not memory.

Five failed sign-ins for one email, or thirty from one address, within fifteen minutes
lock further attempts until the window has passed. Failures are written on their own
connection because the failed request itself is rolled back.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import Index, String, delete, func, insert, select
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..models import UTCDateTime, utcnow

WINDOW = timedelta(minutes=15)
PER_EMAIL = 5
PER_ADDRESS = 30


class LoginFailure(db.Model):
    __tablename__ = "login_failure"

    id: Mapped[int] = mapped_column(primary_key=True)
    email_key: Mapped[str] = mapped_column(String(64))  # sha256 of the lower-cased email
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_login_failure_email_at", "email_key", "at"),
        Index("ix_login_failure_address_at", "address", "at"),
    )


def _key(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def locked_until(email: str, address: str) -> datetime | None:
    """When sign-in may be tried again, or None when it may be tried now."""
    since = utcnow() - WINDOW
    for column, value, limit in (
        (LoginFailure.email_key, _key(email), PER_EMAIL),
        (LoginFailure.address, address[:64], PER_ADDRESS),
    ):
        count, oldest = db.session.execute(
            select(func.count(), func.min(LoginFailure.at)).where(
                column == value, LoginFailure.at > since
            )
        ).one()
        if count >= limit:
            # The window slides: a slot frees when the oldest recent failure ages out.
            recent = db.session.scalars(
                select(LoginFailure.at)
                .where(column == value, LoginFailure.at > since)
                .order_by(LoginFailure.at.desc())
                .limit(limit)
            ).all()
            return recent[-1] + WINDOW if recent else (oldest + WINDOW)
    return None


def record_failure(email: str, address: str) -> None:
    with db.engine.begin() as connection:
        connection.execute(
            insert(LoginFailure).values(email_key=_key(email), address=address[:64], at=utcnow())
        )


def forget_failures(email: str) -> None:
    """A successful sign-in clears that account's failures (not the address's)."""
    db.session.execute(delete(LoginFailure).where(LoginFailure.email_key == _key(email)))
