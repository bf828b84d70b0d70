"""Seed grants: money from a funder with its own rules, committed to the round's books."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from commonpot.audit import record
from commonpot.errors import IllegalTransition, ValidationFailed
from commonpot.extensions import db
from commonpot.models import FundingRound, Project, RoundStatus, User, utcnow
from commonpot.money import format_cents

from . import ledger
from .ledger import Account
from .models import Grant


def add_grant(
    funding_round: FundingRound,
    *,
    name: str,
    funder: str,
    amount_cents: int,
    priority_area_id: int | None,
    cap_per_project_cents: int | None,
    actor: User,
    project_ids: list[int] | None = None,
    match_percent: int | None = None,
    expires_on: date | None = None,
) -> Grant:
    if funding_round.status not in (RoundStatus.DRAFT, RoundStatus.OPEN):
        raise IllegalTransition("Grants can be added until the round closes.")
    errors: list[tuple[str | None, str]] = []
    if priority_area_id is not None and priority_area_id not in {
        a.id for a in funding_round.priority_areas
    }:
        errors.append(("priority_area_id", "Choose one of this round's priority areas."))
    if cap_per_project_cents is not None and cap_per_project_cents > amount_cents:
        errors.append(("cap", "The cap per project cannot exceed the grant."))
    projects: list[Project] = []
    if project_ids:
        by_id = {p.id: p for p in funding_round.projects}
        if not set(project_ids) <= set(by_id):
            errors.append(("projects", "Choose projects of this round."))
        projects = [by_id[i] for i in sorted(set(project_ids)) if i in by_id]
    if match_percent is not None and not 1 <= match_percent <= 10_000:
        errors.append(("match_percent", "A matching ratio is between 1% and 10,000%."))
    if expires_on is not None and expires_on < utcnow().date():
        errors.append(("expires_on", "This date has passed; the grant would be unusable."))
    if errors:
        raise ValidationFailed(errors)
    grant = Grant(
        round=funding_round,
        name=name.strip(),
        funder=funder.strip(),
        amount_cents=amount_cents,
        priority_area_id=priority_area_id,
        cap_per_project_cents=cap_per_project_cents,
        match_percent=match_percent,
        expires_on=expires_on,
        projects=projects,
    )
    db.session.add(grant)
    db.session.flush()
    ledger.post(
        community_id=funding_round.community_id,
        round_id=funding_round.id,
        kind="grant_commit",
        lines=ledger.transfer(Account.GRANTS, Account.FUNDERS, amount_cents, grant_id=grant.id),
        memo=f"{grant.name} ({grant.funder})" if grant.funder else grant.name,
        actor_id=actor.id,
    )
    record(
        "grant.added",
        f"grant:{grant.id}",
        community_id=funding_round.community_id,
        actor_id=actor.id,
        round=funding_round.id,
        amount_cents=amount_cents,
        priority_area=priority_area_id,
        projects=[p.id for p in projects],
        cap=cap_per_project_cents,
        match_percent=match_percent,
        expires_on=expires_on.isoformat() if expires_on else None,
    )
    return grant


def grants_of(funding_round: FundingRound) -> list[Grant]:
    return list(
        db.session.scalars(select(Grant).filter_by(round_id=funding_round.id).order_by(Grant.id))
    )


def usable(grant: Grant, on: date) -> bool:
    """An expired grant is not a source for an allocation run on or after its expiry."""
    return grant.expires_on is None or on <= grant.expires_on


def grant_restriction(grant: Grant, currency: str) -> str:
    """The grant's rules in one plain sentence, for pages and term sheets."""
    parts = []
    if grant.priority_area is not None:
        parts.append(f"{grant.priority_area.name} projects only")
    if grant.projects:
        parts.append("only " + ", ".join(f"“{p.title}”" for p in grant.projects))
    if grant.cap_per_project_cents:
        parts.append(f"at most {format_cents(grant.cap_per_project_cents, currency)} per project")
    if grant.match_percent:
        ratio = grant.match_percent / 100
        parts.append(
            f"matches residents' money {ratio:g}:1 in each project"
            if grant.match_percent >= 100
            else f"at most {grant.match_percent}% of residents' money in each project"
        )
    if grant.expires_on:
        parts.append(f"usable until {grant.expires_on.isoformat()}")
    if not parts:
        return "Any project"
    sentence = "; ".join(parts)
    return sentence[0].upper() + sentence[1:]  # names keep their capitals
