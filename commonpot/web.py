"""What every blueprint's views share: loading a community, role checks, running a service."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, abort, g, request
from flask_babel import gettext
from flask_login import current_user, login_required
from jinja2 import pass_context
from sqlalchemy import and_, bindparam, event, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, joinedload

from .errors import DomainError, ValidationFailed
from .extensions import db
from .models import Community, FundingRound, Role
from .money import format_cents


def community_or_404(slug: str) -> Community:
    community = db.session.scalar(select(Community).where(Community.slug == slug))
    if community is None:
        abort(404)
    return community


def round_or_404(community: Community, round_id: int) -> FundingRound:
    funding_round = g.pop("url_round", None)  # loaded with the community (requires)
    if funding_round is None or funding_round.id != round_id:
        funding_round = db.session.get(FundingRound, round_id)
    if funding_round is None or funding_round.community_id != community.id:
        abort(404)
    return funding_round


def roles(community: Community) -> set[Role]:
    if not current_user.is_authenticated:
        return set()
    return current_user.roles_in(community.id)


@functools.cache
def _community_round_query(share_lock: bool):
    """Built once (parameters slug, round_id): see _community_with_round."""
    slug, round_id = bindparam("slug"), bindparam("round_id")
    if share_lock:
        return (
            select(Community, FundingRound)
            .join(FundingRound, FundingRound.community_id == Community.id)
            .where(Community.slug == slug, FundingRound.id == round_id)
            .options(joinedload(FundingRound.priority_areas))
            .with_for_update(read=True, of=FundingRound)
        )
    return (
        select(Community, FundingRound)
        .outerjoin(
            FundingRound,
            and_(FundingRound.community_id == Community.id, FundingRound.id == round_id),
        )
        .where(Community.slug == slug)
    )


def _community_with_round(slug: str, round_id: int, *, share_lock: bool) -> Community:
    """The community, with the round of the URL loaded beside it in the same query (the
    view's round_or_404 then finds it). With share_lock, the round is read under a shared
    row lock (FOR SHARE), with its priority areas: ballots take this lock anyway, so taking
    it here saves the statement that would take it later."""
    params = {"slug": slug, "round_id": round_id}
    row = db.session.execute(_community_round_query(share_lock), params).unique().first()
    if share_lock:
        if row is None:
            return community_or_404(slug)  # no such round here: 403 or 404 as for any page
        note_round_locked(row[1])
    elif row is None:
        abort(404)
    g.url_round = row[1]  # held here: the session keeps only weak references
    return row[0]


LOCKED_ROUNDS = "shared_locked_rounds"  # Session.info: rounds this transaction holds FOR SHARE


def note_round_locked(funding_round: FundingRound) -> None:
    db.session.info.setdefault(LOCKED_ROUNDS, set()).add(funding_round.id)


def round_locked(funding_round: FundingRound) -> bool:
    """Whether this transaction already holds the round's shared lock (read under it)."""
    return funding_round.id in db.session.info.get(LOCKED_ROUNDS, ())


@event.listens_for(Session, "after_transaction_end")
def _locks_gone(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(LOCKED_ROUNDS, None)


def requires(*allowed: Role, share_round_on_post: bool = False) -> Callable:
    """Signed in and holding one of these roles in the community named by the URL's slug.

    A URL naming a round has it loaded with the community, in one query;
    share_round_on_post takes the round's shared lock in that query on a POST (ballots).
    """

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        @login_required
        def wrapped(slug: str, *args: Any, **kwargs: Any):
            round_id = kwargs.get("round_id")
            if round_id is None:
                community = community_or_404(slug)
            else:
                lock = share_round_on_post and request.method == "POST"
                community = _community_with_round(slug, round_id, share_lock=lock)
            if not roles(community) & set(allowed):
                abort(403)
            g.community = community
            return view(community, *args, **kwargs)

        return wrapped

    return decorator


RETRYABLE_SQLSTATES = {"40P01", "40001"}  # deadlock detected, serialization failure
ATTEMPTS = 3


def attempt(form, service: Callable, *args: Any, **kwargs: Any):
    """Run a service; on a domain error undo its work and show the message on the form.

    PostgreSQL may end one of two transactions that wait on each other's locks (say, the
    audit chain's and a pledge's); that transaction is rolled back and the service run
    again, so the person sees their request succeed instead of an error page.
    Returns the service's result, or None when it was refused.
    """
    for turn in range(1, ATTEMPTS + 1):
        try:
            return service(*args, **kwargs)
        except OperationalError as error:
            if getattr(error.orig, "sqlstate", None) not in RETRYABLE_SQLSTATES:
                raise
            db.session.rollback()
            if turn == ATTEMPTS:
                raise
        except ValidationFailed as error:
            db.session.rollback()
            g.rolled_back = True
            error.apply_to(form)
            return None
        except DomainError as error:
            db.session.rollback()
            g.rolled_back = True
            form.form_errors.append(str(error))
            return None
    return None


def register_template_helpers(app: Flask) -> None:
    @pass_context
    def money(ctx, cents: int | None, currency: str | None = None) -> str:
        """Cents in the community's currency: the PDF context's, else the request's."""
        if cents is None:
            return ""
        if currency is None:
            document_community = ctx.get("community")
            if isinstance(document_community, dict):
                currency = document_community.get("currency")
        if currency is None:
            community = g.get("community")
            currency = community.currency if community else "USD"
        return format_cents(cents, currency)

    @pass_context
    def local_dt(ctx, value: datetime | None, tz: str | None = None) -> str:
        """In the community's time zone: the PDF context's, else the request's."""
        if value is None:
            return ""
        if tz is None:
            document_community = ctx.get("community")
            if isinstance(document_community, dict):
                tz = document_community.get("timezone")
        if tz is None:
            community = g.get("community")
            tz = community.timezone if community else "UTC"
        shown = value.astimezone(ZoneInfo(tz))
        return shown.strftime("%-d %b %Y, %H:%M ") + (shown.tzname() or tz)

    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["dt"] = local_dt
    app.jinja_env.globals["Role"] = Role

    @app.context_processor
    def inject() -> dict:
        community = g.get("community")
        return {
            "current_community": community,
            "my_roles": roles(community) if community else set(),
            "_": gettext,
        }
