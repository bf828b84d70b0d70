"""Communities, rounds and their state machine, priority areas and candidate projects."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select

from ..audit import record
from ..errors import IllegalTransition, ValidationFailed
from ..extensions import db
from ..models import (
    Community,
    FundingRound,
    Membership,
    PriorityArea,
    Project,
    Role,
    RoundStatus,
    User,
    utcnow,
)
from ..signals import community_created, project_changed

# Which status may follow which: every transition is one of these, anything else is refused.
TRANSITIONS: dict[RoundStatus, set[RoundStatus]] = {
    RoundStatus.DRAFT: {RoundStatus.OPEN},
    RoundStatus.OPEN: {RoundStatus.CLOSED},
    RoundStatus.CLOSED: {RoundStatus.ALLOCATED},
    RoundStatus.ALLOCATED: {RoundStatus.APPROVED},
    RoundStatus.APPROVED: {RoundStatus.SETTLED},
    RoundStatus.SETTLED: set(),
}


def create_community(
    name: str,
    slug: str,
    *,
    currency: str = "USD",
    timezone: str = "UTC",
    quorum: int = 2,
    actor: User | None = None,
) -> Community:
    slug = slug.strip().lower()
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,58}", slug):
        raise ValidationFailed([("slug", "Use 2-59 lowercase letters, digits and dashes.")])
    if db.session.scalar(select(Community).where(Community.slug == slug)):
        raise ValidationFailed([("slug", f"A community called '{slug}' already exists.")])
    community = Community(
        name=name.strip(), slug=slug, currency=currency, timezone=timezone, quorum=quorum
    )
    db.session.add(community)
    db.session.flush()
    community_created.send(community)
    record(
        "community.created",
        f"community:{community.id}",
        community_id=community.id,
        actor_id=actor.id if actor else None,
        name=community.name,
    )
    return community


def grant_role(user: User, community: Community, role: Role, *, actor: User | None) -> Membership:
    existing = db.session.scalar(
        select(Membership).filter_by(user_id=user.id, community_id=community.id, role=role)
    )
    if existing:
        return existing
    membership = Membership(user=user, community=community, role=role)
    db.session.add(membership)
    db.session.flush()
    record(
        "role.granted",
        f"user:{user.id}",
        community_id=community.id,
        actor_id=actor.id if actor else None,
        role=role.value,
    )
    return membership


def create_round(
    community: Community,
    *,
    title: str,
    description: str,
    priority_areas: list[str],
    opens_at: datetime | None,
    closes_at: datetime | None,
    max_approvals: int | None,
    actor: User,
) -> FundingRound:
    names = [n.strip() for n in priority_areas if n.strip()]
    errors: list[tuple[str | None, str]] = []
    if len(names) < 2:
        errors.append(("priority_areas", "List at least two priority areas, one per line."))
    if len({n.lower() for n in names}) != len(names):
        errors.append(("priority_areas", "Each priority area may appear only once."))
    if opens_at and closes_at and closes_at <= opens_at:
        errors.append(("closes_at", "The round must close after it opens."))
    if errors:
        raise ValidationFailed(errors)
    funding_round = FundingRound(
        community=community,
        title=title.strip(),
        description=description.strip(),
        opens_at=opens_at,
        closes_at=closes_at,
        max_approvals=max_approvals,
    )
    funding_round.priority_areas = [PriorityArea(name=n, position=i) for i, n in enumerate(names)]
    db.session.add(funding_round)
    db.session.flush()
    record(
        "round.created",
        f"round:{funding_round.id}",
        community_id=community.id,
        actor_id=actor.id,
        title=funding_round.title,
    )
    return funding_round


def _require_draft(funding_round: FundingRound) -> None:
    if funding_round.status != RoundStatus.DRAFT:
        raise IllegalTransition("Projects can only be changed while the round is a draft.")


def add_project(
    funding_round: FundingRound,
    *,
    title: str,
    description: str,
    cost_cents: int,
    priority_area_id: int | None,
    lead_name: str,
    actor: User,
    lead_id: int | None = None,
) -> Project:
    _require_draft(funding_round)
    _check_lead(funding_round, lead_id)
    area_ids = {a.id for a in funding_round.priority_areas}
    if priority_area_id is not None and priority_area_id not in area_ids:
        raise ValidationFailed([("priority_area_id", "Choose one of this round's priority areas.")])
    if any(p.title.lower() == title.strip().lower() for p in funding_round.projects):
        raise ValidationFailed([("title", "This round already has a project with that title.")])
    project = Project(
        round=funding_round,
        title=title.strip(),
        description=description.strip(),
        cost_cents=cost_cents,
        priority_area_id=priority_area_id,
        lead_name=lead_name.strip(),
        lead_id=lead_id,
    )
    db.session.add(project)
    db.session.flush()
    record(
        "project.added",
        f"project:{project.id}",
        community_id=funding_round.community_id,
        actor_id=actor.id,
        round=funding_round.id,
        cost_cents=cost_cents,
    )
    return project


MATERIAL = ("cost_cents", "description")  # a change residents must reconfirm their pledges for
LEAD_FIELDS = {"lead_name", "lead_id"}  # may still change after the close, until approval


def members_of(community: Community) -> list[User]:
    """Everyone with a role in the community, by name (who may lead a project)."""
    return list(
        db.session.scalars(
            select(User)
            .join(Membership)
            .where(Membership.community_id == community.id)
            .distinct()
            .order_by(User.name, User.id)
        )
    )


def _check_lead(funding_round: FundingRound, lead_id: int | None) -> None:
    if lead_id is None:
        return
    lead = db.session.get(User, lead_id)
    if lead is None or not lead.roles_in(funding_round.community_id):
        raise ValidationFailed([("lead_id", "Choose a member of this community.")])


def edit_project(
    project: Project,
    *,
    title: str,
    description: str,
    cost_cents: int,
    priority_area_id: int | None,
    lead_name: str,
    actor: User,
    lead_id: int | None = None,
) -> dict[str, tuple]:
    """Correct a project while the round is a draft or open; returns what changed.

    A material change (cost, description) while the round is open is announced with the
    `project_changed` signal, so pledges made on the old terms are reconfirmed.
    """
    funding_round = project.round
    if funding_round.status in (RoundStatus.APPROVED, RoundStatus.SETTLED):
        raise IllegalTransition("The round is approved: its projects are final.")
    _check_lead(funding_round, lead_id)
    if priority_area_id is not None and priority_area_id not in {
        a.id for a in funding_round.priority_areas
    }:
        raise ValidationFailed([("priority_area_id", "Choose one of this round's priority areas.")])
    if any(
        p.id != project.id and p.title.lower() == title.strip().lower()
        for p in funding_round.projects
    ):
        raise ValidationFailed([("title", "This round already has a project with that title.")])
    wanted = {
        "title": title.strip(),
        "description": description.strip(),
        "cost_cents": cost_cents,
        "priority_area_id": priority_area_id,
        "lead_name": lead_name.strip(),
        "lead_id": lead_id,
    }
    changes = {
        name: (getattr(project, name), value)
        for name, value in wanted.items()
        if getattr(project, name) != value
    }
    closed = funding_round.status not in (RoundStatus.DRAFT, RoundStatus.OPEN)
    if closed and set(changes) - LEAD_FIELDS:
        raise IllegalTransition(
            "After the round closes only the project's lead can be changed "
            "(a term sheet already made needs a new version to show it)."
        )
    if not changes:
        return changes
    for name, (_, value) in changes.items():
        setattr(project, name, value)
    db.session.flush()
    material = funding_round.status == RoundStatus.OPEN and any(n in changes for n in MATERIAL)
    record(
        "project.edited",
        f"project:{project.id}",
        community_id=funding_round.community_id,
        actor_id=actor.id,
        changed=sorted(changes),
        material=material,
        cost_cents=project.cost_cents,
    )
    project_changed.send(project, changes=changes, material=material, actor=actor)
    return changes


def remove_project(project: Project, *, actor: User) -> None:
    _require_draft(project.round)
    record(
        "project.removed",
        f"project:{project.id}",
        community_id=project.round.community_id,
        actor_id=actor.id,
        title=project.title,
    )
    db.session.delete(project)
    db.session.flush()


def transition(
    funding_round: FundingRound, to: RoundStatus, *, actor: User | None, **details
) -> None:
    """Move a round along its life; anything not in TRANSITIONS is a clear error."""
    if to not in TRANSITIONS[funding_round.status]:
        raise IllegalTransition(
            f"A round that is {funding_round.status.value} cannot become {to.value}."
        )
    if to == RoundStatus.OPEN and len(funding_round.projects) < 2:
        raise IllegalTransition("Add at least two projects before opening the round.")
    now = utcnow()
    stamp = {
        RoundStatus.OPEN: "opened_at",
        RoundStatus.CLOSED: "closed_at",
        RoundStatus.APPROVED: "approved_at",
        RoundStatus.SETTLED: "settled_at",
    }.get(to)
    if stamp:
        setattr(funding_round, stamp, now)
    before = funding_round.status
    funding_round.status = to
    db.session.flush()
    record(
        f"round.{to.value}",
        f"round:{funding_round.id}",
        community_id=funding_round.community_id,
        actor_id=actor.id if actor else None,
        before=before.value,
        **details,
    )
