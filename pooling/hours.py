"""Volunteer hours: what residents offer each project, and the totals that projects'
hours needed are weighed against (allocation, documents)."""

from __future__ import annotations

from sqlalchemy import func, select

from commonpot.audit import record
from commonpot.errors import IllegalTransition, ValidationFailed
from commonpot.extensions import db
from commonpot.models import FundingRound, Project, Role, RoundStatus, User, utcnow

from .models import HoursPledge
from .pledges import lock_member


def pledge_hours(
    funding_round: FundingRound, user: User, project: Project, *, hours: int, skills: str = ""
) -> HoursPledge | None:
    """Offer volunteer hours to a project (0 withdraws the offer); one offer per project."""
    if funding_round.status != RoundStatus.OPEN:
        raise IllegalTransition("Hours can be offered while the round is open.")
    if not user.has_role(funding_round.community_id, Role.RESIDENT):
        raise ValidationFailed([(None, "Only members of this community can offer hours.")])
    if project.round_id != funding_round.id:
        raise ValidationFailed([("project", "Choose a project of this round.")])
    if not 0 <= hours <= 1000:
        raise ValidationFailed([("hours", "Offer between 1 and 1,000 hours (0 withdraws).")])
    lock_member(funding_round, user)
    offer = db.session.scalar(select(HoursPledge).filter_by(user_id=user.id, project_id=project.id))
    if hours == 0:
        if offer is not None:
            db.session.delete(offer)
            db.session.flush()
            record(
                "hours.withdrawn",
                f"project:{project.id}",
                community_id=funding_round.community_id,
                actor_id=user.id,
            )
        return None
    if offer is None:
        offer = HoursPledge(round_id=funding_round.id, user_id=user.id, project_id=project.id)
        db.session.add(offer)
    offer.hours, offer.skills, offer.updated_at = hours, skills.strip()[:200], utcnow()
    db.session.flush()
    record(
        "hours.offered",
        f"project:{project.id}",
        community_id=funding_round.community_id,
        actor_id=user.id,
        hours=hours,
    )
    return offer


def hours_by_project(funding_round: FundingRound) -> dict[int, int]:
    rows = db.session.execute(
        select(HoursPledge.project_id, func.sum(HoursPledge.hours))
        .where(HoursPledge.round_id == funding_round.id)
        .group_by(HoursPledge.project_id)
    )
    return {pid: int(total) for pid, total in rows}
