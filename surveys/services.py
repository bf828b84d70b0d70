"""Submitting a ballot and counting them."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from commonpot.audit import record
from commonpot.codes import receipt_code
from commonpot.errors import IllegalTransition, ValidationFailed
from commonpot.extensions import db
from commonpot.models import FundingRound, Role, RoundStatus, User, utcnow

from .models import PriorityRanking, ProjectVote, Response


def response_of(funding_round: FundingRound, user: User) -> Response | None:
    return db.session.scalar(select(Response).filter_by(round_id=funding_round.id, user_id=user.id))


def _locked_response(funding_round: FundingRound, user: User) -> Response | None:
    """The member's response, row-locked so two edits at once apply one after the other."""
    return db.session.scalar(
        select(Response)
        .filter_by(round_id=funding_round.id, user_id=user.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _check(funding_round: FundingRound, rankings: dict[int, int], approvals: set[int]) -> None:
    errors: list[tuple[str | None, str]] = []
    areas = {a.id for a in funding_round.priority_areas}
    if set(rankings) != areas:
        errors.append(("priorities", "Rank every priority area."))
    elif sorted(rankings.values()) != list(range(1, len(areas) + 1)):
        errors.append(
            (
                "priorities",
                "Give each priority area a different rank, from 1 (most important) "
                f"to {len(areas)}.",
            )
        )
    projects = {p.id for p in funding_round.projects}
    if not approvals:
        errors.append(("approvals", "Approve at least one project."))
    elif not approvals <= projects:
        errors.append(("approvals", "Only this round's projects can be approved."))
    elif funding_round.max_approvals and len(approvals) > funding_round.max_approvals:
        errors.append(
            (
                "approvals",
                f"Approve at most {funding_round.max_approvals} projects "
                f"(you chose {len(approvals)}).",
            )
        )
    if errors:
        raise ValidationFailed(errors)


def submit_response(
    funding_round: FundingRound, user: User, *, rankings: dict[int, int], approvals: set[int]
) -> Response:
    """Create the member's response or replace its answers: there is only ever one."""
    if funding_round.status != RoundStatus.OPEN:
        raise IllegalTransition("This round is not open for answers.")
    if not user.has_role(funding_round.community_id, Role.RESIDENT):
        raise ValidationFailed([(None, "Only members of this community can answer.")])
    _check(funding_round, rankings, approvals)
    response = _locked_response(funding_round, user)
    action = "response.updated"
    if response is None:
        try:
            with db.session.begin_nested():
                response = Response(round=funding_round, user=user, receipt_code=receipt_code())
                db.session.add(response)
            action = "response.created"
        except IntegrityError:  # the same member submitted twice at once: keep one response
            response = _locked_response(funding_round, user)
            if response is None:
                raise
    if action == "response.updated":
        # Delete the old answers first: the unique (response, rank) must never see both.
        response.rankings.clear()
        response.votes.clear()
        db.session.flush()
    response.rankings = [PriorityRanking(priority_area_id=a, rank=r) for a, r in rankings.items()]
    response.votes = [ProjectVote(project_id=p, points=1) for p in sorted(approvals)]
    response.updated_at = utcnow()
    db.session.flush()
    # The audit log names the response, never its content: ballots are private.
    record(
        action,
        f"response:{response.id}",
        community_id=funding_round.community_id,
        actor_id=user.id,
        round=funding_round.id,
    )
    return response


def approval_counts(funding_round: FundingRound) -> dict[int, int]:
    rows = db.session.execute(
        select(ProjectVote.project_id, func.count())
        .join(Response)
        .where(Response.round_id == funding_round.id)
        .group_by(ProjectVote.project_id)
    ).all()
    counts = {p.id: 0 for p in funding_round.projects}
    counts.update({pid: n for pid, n in rows})
    return counts


def priority_scores(funding_round: FundingRound) -> dict[int, int]:
    """Borda points per priority area: first of n gets n-1, last gets 0."""
    n = len(funding_round.priority_areas)
    rows = db.session.execute(
        select(PriorityRanking.priority_area_id, PriorityRanking.rank)
        .join(Response)
        .where(Response.round_id == funding_round.id)
    ).all()
    scores: Counter[int] = Counter({a.id: 0 for a in funding_round.priority_areas})
    for area_id, rank in rows:
        scores[area_id] += n - rank
    return dict(scores)


def response_count(funding_round: FundingRound) -> int:
    return (
        db.session.scalar(
            select(func.count()).select_from(Response).where(Response.round_id == funding_round.id)
        )
        or 0
    )


def approval_ballots(funding_round: FundingRound) -> list[tuple[int, list[int]]]:
    """(response id, approved project ids) for every response: the optimizer's profile."""
    ballots: dict[int, list[int]] = {}
    rows = db.session.execute(
        select(Response.id, ProjectVote.project_id)
        .join(ProjectVote)
        .where(Response.round_id == funding_round.id)
        .order_by(Response.id, ProjectVote.project_id)
    )
    for response_id, project_id in rows:
        ballots.setdefault(response_id, []).append(project_id)
    return list(ballots.items())
