"""The round's pledges read back: a resident's own, the organizers' list, and the tallies
the limits and the pages count. Nothing here changes a pledge (that is `pledges`)."""

from __future__ import annotations

from sqlalchemy import func, select

from commonpot.extensions import db
from commonpot.models import FundingRound, Project, User

from .models import LIVE_STATES, Pledge, PledgeState, TargetKind


def live_total(funding_round: FundingRound, user: User, *, excluding: int | None = None) -> int:
    query = select(func.coalesce(func.sum(Pledge.amount_cents), 0)).where(
        Pledge.round_id == funding_round.id,
        Pledge.user_id == user.id,
        Pledge.state.in_(LIVE_STATES),
        # FIX: a paid pledge the resident cancelled (refund requested) no longer counts,
        # like a cancelled unpaid one; it used to keep its room under the cap.
        Pledge.refund_requested.is_(False),
    )
    if excluding is not None:
        query = query.where(Pledge.id != excluding)
    return int(db.session.scalar(query))


def project_pledged(project: Project, *, excluding: int | None = None) -> int:
    """Live money pledged to this one project alone (several-project pledges not counted)."""
    query = select(func.coalesce(func.sum(Pledge.amount_cents), 0)).where(
        Pledge.project_id == project.id,
        Pledge.target == TargetKind.PROJECT,
        Pledge.state.in_(LIVE_STATES),
        Pledge.refund_requested.is_(False),  # FIX: as in live_total
    )
    if excluding is not None:
        query = query.where(Pledge.id != excluding)
    return int(db.session.scalar(query))


def pledges_of(funding_round: FundingRound, user: User) -> list[Pledge]:
    return list(
        db.session.scalars(
            select(Pledge).filter_by(round_id=funding_round.id, user_id=user.id).order_by(Pledge.id)
        )
    )


def own_pledge(funding_round: FundingRound, user: User, pledge_id: int) -> Pledge | None:
    pledge = db.session.get(Pledge, pledge_id)
    if pledge is None or pledge.round_id != funding_round.id or pledge.user_id != user.id:
        return None
    return pledge


def pledge_totals(funding_round: FundingRound) -> tuple[int, dict[int, int], int]:
    """Counting money: (common pot cents, cents aimed at each single project, pledgers)."""
    rows = db.session.execute(
        select(Pledge.target, Pledge.project_id, Pledge.amount_cents, Pledge.user_id).where(
            Pledge.round_id == funding_round.id,
            Pledge.state.in_((PledgeState.CONFIRMED, PledgeState.COLLECTED)),
            Pledge.awaiting_reconfirmation.is_(False),
            Pledge.refund_requested.is_(False),
        )
    ).all()
    pool = sum(cents for target, _, cents, _ in rows if target == TargetKind.POT)
    earmarked: dict[int, int] = {}
    for target, project_id, cents, _ in rows:
        if target == TargetKind.PROJECT:
            earmarked[project_id] = earmarked.get(project_id, 0) + cents
    return pool, earmarked, len({user for *_, user in rows})


def progress(funding_round: FundingRound) -> dict[int, dict[str, int]]:
    """Per project: pledged, confirmed and collected cents from pledges to it alone."""
    out = {p.id: {"pledged": 0, "confirmed": 0, "collected": 0} for p in funding_round.projects}
    rows = db.session.execute(
        select(
            Pledge.project_id,
            Pledge.state,
            Pledge.awaiting_reconfirmation,
            func.sum(Pledge.amount_cents),
        )
        .where(
            Pledge.round_id == funding_round.id,
            Pledge.target == TargetKind.PROJECT,
            Pledge.state.in_(LIVE_STATES),
            Pledge.refund_requested.is_(False),
        )
        .group_by(Pledge.project_id, Pledge.state, Pledge.awaiting_reconfirmation)
    )
    for project_id, state, waiting, cents in rows:
        row = out.get(project_id)
        if row is None:
            continue
        row["pledged"] += int(cents)
        if waiting:  # shown as pledged only until its resident reconfirms
            continue
        if state != PledgeState.PLEDGED:
            row["confirmed"] += int(cents)
        if state not in (PledgeState.PLEDGED, PledgeState.CONFIRMED):
            row["collected"] += int(cents)
    return out


def all_pledges(funding_round: FundingRound) -> list[Pledge]:
    """Every pledge of the round, oldest first (organizers' and the demo's view)."""
    return list(
        db.session.scalars(
            select(Pledge).where(Pledge.round_id == funding_round.id).order_by(Pledge.id)
        )
    )
