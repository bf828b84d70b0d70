"""Reading a community's audit events: filters, pages and a readable form of their data."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select, or_, select

from ..audit import AuditEvent
from ..extensions import db
from ..models import Community, User

PER_PAGE = 50


@dataclass(frozen=True)
class EventFilters:
    action_prefix: str | None = None
    actor: str | None = None  # part of the actor's name or email, any case
    since: date | None = None  # dates in the community's time zone, both inclusive
    until: date | None = None


def local_midnight(day: date, tz: str) -> datetime:
    """The start of a day in the community's time zone, as aware UTC."""
    return datetime.combine(day, time(), tzinfo=ZoneInfo(tz)).astimezone(UTC)


def events_query(community: Community, filters: EventFilters) -> Select:
    """The community's events matching the filters, newest first (highest seq first)."""
    query = select(AuditEvent).where(AuditEvent.community_id == community.id)
    if filters.action_prefix:
        query = query.where(AuditEvent.action.startswith(filters.action_prefix, autoescape=True))
    if filters.actor:
        matching = select(User.id).where(
            or_(
                User.name.icontains(filters.actor, autoescape=True),
                User.email.icontains(filters.actor, autoescape=True),
            )
        )
        query = query.where(AuditEvent.actor_id.in_(matching))
    if filters.since:
        start = local_midnight(filters.since, community.timezone)
        query = query.where(AuditEvent.created_at >= start)
    if filters.until:
        end = local_midnight(filters.until + timedelta(days=1), community.timezone)
        query = query.where(AuditEvent.created_at < end)
    # An event not yet sealed (for a moment after its commit) is the newest.
    return query.order_by(AuditEvent.seq.desc().nulls_first(), AuditEvent.id.desc())


def page_of_events(community: Community, filters: EventFilters, page: int) -> Pagination:
    return db.paginate(
        events_query(community, filters),
        page=max(page, 1),
        per_page=PER_PAGE,
        max_per_page=PER_PAGE,
        error_out=False,
    )


def actors_of(events: list[AuditEvent]) -> dict[int, User]:
    ids = {e.actor_id for e in events if e.actor_id is not None}
    if not ids:
        return {}
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))}


def action_prefixes(community: Community) -> list[str]:
    """The action families this community's log holds ("pledge.", "round.", ...)."""
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.community_id == community.id).distinct()
    )
    return sorted({a.split(".", 1)[0] + "." for a in actions if "." in a})


def data_pairs(data: str) -> list[tuple[str, str]]:
    """An event's JSON data as (key, value) pairs; values that are not text as compact JSON.

    Data that is not a JSON object (only possible if someone edited the row) is shown whole,
    under an empty key.
    """
    try:
        value = json.loads(data)
    except ValueError:
        return [("", data)]
    if not isinstance(value, dict):
        return [("", _compact(value))]
    return [(str(k), v if isinstance(v, str) else _compact(v)) for k, v in value.items()]


def _compact(value) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
