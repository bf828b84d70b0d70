"""Telling residents what happened to their pledges: a notice on their page and a mail.

Mail leaves only when the transaction that made the notice commits, so a rolled-back
request never tells anyone something that did not happen.
"""

from __future__ import annotations

from flask import current_app, has_app_context
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from commonpot.extensions import db
from commonpot.mail import send_mail
from commonpot.models import FundingRound, User, utcnow

from .models import Notice, Pledge

_PENDING = "commonpot_pending_mail"


def notify(
    user: User, funding_round: FundingRound, kind: str, text: str, *, pledge: Pledge | None = None
) -> Notice:
    notice = Notice(
        user_id=user.id,
        round_id=funding_round.id,
        pledge_id=pledge.id if pledge is not None else None,
        kind=kind,
        text=text,
    )
    db.session.add(notice)
    subject = f"{funding_round.community.name}: {funding_round.title}"
    db.session.info.setdefault(_PENDING, []).append((user.email, subject, text))
    return notice


def notices_for(user: User, funding_round: FundingRound) -> list[Notice]:
    return list(
        db.session.scalars(
            select(Notice)
            .filter_by(user_id=user.id, round_id=funding_round.id, dismissed_at=None)
            .order_by(Notice.id.desc())
        )
    )


def dismiss(notice: Notice, user: User) -> None:
    if notice.user_id == user.id and notice.dismissed_at is None:
        notice.dismissed_at = utcnow()
        db.session.flush()


@event.listens_for(Session, "after_commit")
def _send_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, [])
    if not pending or not has_app_context():
        return
    for to, subject, body in pending:
        try:
            send_mail(to, subject, body)
        except OSError:  # the notice is on their page; a mail server hiccup loses nothing
            current_app.logger.exception("could not mail %s", to)


@event.listens_for(Session, "after_rollback")
def _forget_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)
