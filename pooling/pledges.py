"""Residents' pledges and the organizers' seed grants: the money a round can allocate."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from commonpot.audit import record
from commonpot.codes import receipt_code
from commonpot.errors import IllegalTransition, ValidationFailed
from commonpot.extensions import db
from commonpot.models import FundingRound, Role, RoundStatus, User, utcnow

from .models import Grant, Pledge

MAX_PLEDGE_CENTS = 10_000_000  # $100,000: a neighbourhood pledge, not an investment fund


def pledge_of(funding_round: FundingRound, user: User, *, lock: bool = False) -> Pledge | None:
    """The member's pledge; `lock` row-locks it so two changes at once apply in turn."""
    query = select(Pledge).filter_by(round_id=funding_round.id, user_id=user.id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.session.scalar(query)


def make_pledge(
    funding_round: FundingRound, user: User, *, amount_cents: int, project_id: int | None
) -> Pledge:
    """Create the resident's pledge for the round, or change it while the round is open."""
    if funding_round.status != RoundStatus.OPEN:
        raise IllegalTransition("Pledges can only be made or changed while the round is open.")
    if not user.has_role(funding_round.community_id, Role.RESIDENT):
        raise ValidationFailed([(None, "Only members of this community can pledge.")])
    if amount_cents <= 0:
        raise ValidationFailed([("amount", "Pledge a positive amount.")])
    if amount_cents > MAX_PLEDGE_CENTS:
        raise ValidationFailed(
            [
                (
                    "amount",
                    "That is more than one pledge can hold; "
                    "talk to an organizer about larger amounts.",
                )
            ]
        )
    if project_id is not None and project_id not in {p.id for p in funding_round.projects}:
        raise ValidationFailed(
            [("target", "Choose the common pot or one of this round's projects.")]
        )
    pledge = pledge_of(funding_round, user, lock=True)
    action = "pledge.changed"
    if pledge is None:
        action = "pledge.made"
        try:
            with db.session.begin_nested():
                pledge = Pledge(
                    round=funding_round,
                    user=user,
                    receipt_code=receipt_code(),
                    amount_cents=amount_cents,
                    project_id=project_id,
                )
                db.session.add(pledge)
        except IntegrityError:  # a double submit: the other request made it, change that one
            pledge = pledge_of(funding_round, user, lock=True)
            if pledge is None:
                raise
    pledge.amount_cents = amount_cents
    pledge.project_id = project_id
    pledge.updated_at = utcnow()
    db.session.flush()
    record(
        action,
        f"pledge:{pledge.id}",
        community_id=funding_round.community_id,
        actor_id=user.id,
        round=funding_round.id,
        amount_cents=amount_cents,
        project=project_id,
    )
    return pledge


def pledge_totals(funding_round: FundingRound) -> tuple[int, dict[int, int], int]:
    """(common pot cents, earmarked cents per project, number of pledgers)."""
    rows = db.session.execute(
        select(Pledge.project_id, func.sum(Pledge.amount_cents), func.count())
        .where(Pledge.round_id == funding_round.id)
        .group_by(Pledge.project_id)
    ).all()
    pool = sum(int(total) for pid, total, _ in rows if pid is None)
    earmarked = {pid: int(total) for pid, total, _ in rows if pid is not None}
    return pool, earmarked, sum(n for _, _, n in rows)


def add_grant(
    funding_round: FundingRound,
    *,
    name: str,
    funder: str,
    amount_cents: int,
    priority_area_id: int | None,
    cap_per_project_cents: int | None,
    actor: User,
) -> Grant:
    if funding_round.status not in (RoundStatus.DRAFT, RoundStatus.OPEN):
        raise IllegalTransition("Grants can be added until the round closes.")
    if priority_area_id is not None and priority_area_id not in {
        a.id for a in funding_round.priority_areas
    }:
        raise ValidationFailed([("priority_area_id", "Choose one of this round's priority areas.")])
    if cap_per_project_cents is not None and cap_per_project_cents > amount_cents:
        raise ValidationFailed([("cap", "The cap per project cannot exceed the grant.")])
    grant = Grant(
        round=funding_round,
        name=name.strip(),
        funder=funder.strip(),
        amount_cents=amount_cents,
        priority_area_id=priority_area_id,
        cap_per_project_cents=cap_per_project_cents,
    )
    db.session.add(grant)
    db.session.flush()
    record(
        "grant.added",
        f"grant:{grant.id}",
        community_id=funding_round.community_id,
        actor_id=actor.id,
        round=funding_round.id,
        amount_cents=amount_cents,
        priority_area=priority_area_id,
        cap=cap_per_project_cents,
    )
    return grant


def grants_of(funding_round: FundingRound) -> list[Grant]:
    return list(
        db.session.scalars(select(Grant).filter_by(round_id=funding_round.id).order_by(Grant.id))
    )
