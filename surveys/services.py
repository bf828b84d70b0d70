"""Submitting a ballot, the round's ballot settings, scheduled closing, and counting."""

from __future__ import annotations

import functools
from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, bindparam, case, delete, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY as postgresql_array
from sqlalchemy.exc import IntegrityError

from commonpot.audit import record, record_with
from commonpot.codes import receipt_code
from commonpot.errors import DomainError, IllegalTransition, ValidationFailed
from commonpot.extensions import db
from commonpot.models import (
    BallotType,
    FundingRound,
    Role,
    RoundStatus,
    User,
    UTCDateTime,
    utcnow,
)
from commonpot.rounds.services import transition
from commonpot.web import round_locked

from . import ballots
from .eligibility import voter_member
from .models import PriorityRanking, ProjectVote, Response, ResponseSource, RollMember

Votes = dict[int, int] | set[int] | frozenset[int]
CLOSED_ON_SCHEDULE = "This round closed at its scheduled time; answers are no longer taken."


def settings_of(funding_round: FundingRound) -> ballots.BallotSettings:
    return ballots.BallotSettings.of(funding_round)


def response_of(funding_round: FundingRound, user: User) -> Response | None:
    return db.session.scalar(select(Response).filter_by(round_id=funding_round.id, user_id=user.id))


def paper_response_of(funding_round: FundingRound, member: RollMember) -> Response | None:
    return db.session.scalar(
        select(Response).filter_by(
            round_id=funding_round.id, member_id=member.id, source=ResponseSource.PAPER
        )
    )


def paper_count(funding_round: FundingRound) -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(Response)
            .where(Response.round_id == funding_round.id, Response.source == ResponseSource.PAPER)
        )
        or 0
    )


def response_count(funding_round: FundingRound) -> int:
    return (
        db.session.scalar(
            select(func.count()).select_from(Response).where(Response.round_id == funding_round.id)
        )
        or 0
    )


# -- scheduled closing ---------------------------------------------------------------


ROUND_COLUMNS = [c.key for c in FundingRound.__mapper__.column_attrs]


def is_due(funding_round: FundingRound, now: datetime | None = None) -> bool:
    """An open round whose scheduled closing time has passed (not yet closed in the table)."""
    now = now or utcnow()
    return (
        funding_round.status == RoundStatus.OPEN
        and funding_round.closes_at is not None
        and funding_round.closes_at <= now
    )


def _lock_round(funding_round: FundingRound, *, read: bool = False) -> FundingRound:
    """Reload the round under a row lock (shared for ballots, exclusive for settings)."""
    if read:
        if round_locked(funding_round):
            return funding_round  # read under this lock already (the ballot page's query)
        # Its columns only (status, settings): the projects and priority areas already
        # loaded stay, since they cannot change while the round is open.
        db.session.refresh(
            funding_round, attribute_names=ROUND_COLUMNS, with_for_update={"read": True}
        )
        return funding_round
    return db.session.scalars(
        select(FundingRound)
        .where(FundingRound.id == funding_round.id)
        .with_for_update(read=read)
        .execution_options(populate_existing=True)
    ).one()


def close_if_due(funding_round: FundingRound, now: datetime | None = None) -> bool:
    """Close this round if its scheduled time has passed; True when it was closed now."""
    now = now or utcnow()
    if not is_due(funding_round, now):
        return False
    _lock_round(funding_round)
    if not is_due(funding_round, now):  # someone else closed it meanwhile
        return False
    transition(funding_round, RoundStatus.CLOSED, actor=None, reason="scheduled")
    return True


def close_due_rounds(now: datetime | None = None) -> list[FundingRound]:
    """Close every open round whose closes_at has passed (rounds are never opened
    automatically). Called before a ballot is taken; the caller commits."""
    now = now or utcnow()
    due = db.session.scalars(
        select(FundingRound)
        .where(
            FundingRound.status == RoundStatus.OPEN,
            FundingRound.closes_at.is_not(None),
            FundingRound.closes_at <= now,
        )
        .order_by(FundingRound.id)
    ).all()
    return [r for r in due if close_if_due(r, now)]


# -- responses -----------------------------------------------------------------------


@functools.cache
def _claim_statement(by_user: bool, by_member: bool):
    """UPDATE ... RETURNING of the voter's responses, built once per shape. (Tried: a Core
    UPDATE on the table loaded through `from_statement`, which costs more than this.)"""
    who = []
    if by_user:
        who.append(Response.user_id == bindparam("b_user_id"))
    if by_member:
        who.append(Response.member_id == bindparam("b_member_id"))
    now = bindparam("b_now", type_=UTCDateTime())  # naive UTC, as the column holds it
    stamp = case((Response.source == bindparam("b_source"), now), else_=Response.updated_at)
    return (
        update(Response)
        .where(Response.round_id == bindparam("b_round_id"), or_(*who))
        .values(updated_at=stamp)
        .returning(Response)
        .execution_options(populate_existing=True, synchronize_session=False)
    )


def _claimed_responses(
    funding_round: FundingRound,
    user_id: int | None,
    member_id: int | None,
    source: ResponseSource,
):
    """The voter's response(s), row-locked so two edits at once apply one after the other.

    One UPDATE ... RETURNING both locks the rows and stamps the voter's own one (of this
    source) as updated now; a response of the other source is locked but left as it is
    (the ballot is then refused and the transaction rolled back).
    """
    statement = _claim_statement(user_id is not None, member_id is not None)
    params = {
        "b_round_id": funding_round.id,
        "b_source": source.value,
        "b_now": utcnow(),
        "b_user_id": user_id,
        "b_member_id": member_id,
    }
    found = db.session.scalars(statement, params).all()
    return sorted(found, key=lambda r: r.id)


def _existing(
    funding_round: FundingRound,
    source: ResponseSource,
    user_id: int | None,
    member_id: int | None,
) -> Response | None:
    found = _claimed_responses(funding_round, user_id, member_id, source)
    if not found:
        return None
    other = [r for r in found if r.source != source]
    if other:
        if other[0].source == ResponseSource.PAPER:
            raise DomainError(
                "A paper ballot is already recorded for this member: "
                "ask an organizer if it needs changing."
            )
        raise DomainError("This member already answered online; a paper ballot cannot be added.")
    return found[0]


def _normalise_votes(funding_round: FundingRound, votes: Votes) -> ballots.Choice:
    if funding_round.ballot_type in (BallotType.APPROVAL, BallotType.KNAPSACK):
        return set(votes) if not isinstance(votes, dict) else votes
    return dict(votes) if isinstance(votes, dict) else votes


def check_ballot(funding_round: FundingRound, rankings: dict[int, int], votes: Votes) -> None:
    """Raise ValidationFailed with every problem of this ballot, each tied to a field."""
    settings = settings_of(funding_round)
    errors = ballots.check_priority_ranking(
        settings, {a.id for a in funding_round.priority_areas}, rankings
    )
    errors += ballots.check_project_ballot(
        settings,
        {p.id: p.cost_cents for p in funding_round.projects},
        _normalise_votes(funding_round, votes),
        currency=funding_round.community.currency,
    )
    if errors:
        raise ValidationFailed(list(errors))


def _vote_rows(funding_round: FundingRound, votes: Votes) -> list[dict[str, int | None]]:
    """The project_vote rows of a ballot (without the response id)."""
    kind = funding_round.ballot_type
    if kind == BallotType.CUMULATIVE:
        given = sorted(votes.items())
        return [{"project_id": p, "points": n, "rank": None} for p, n in given if n > 0]
    if kind == BallotType.RANKED:
        return [{"project_id": p, "points": 1, "rank": r} for p, r in sorted(votes.items())]
    return [{"project_id": p, "points": 1, "rank": None} for p in sorted(votes)]


_RESPONSE = bindparam("response_id")


@functools.cache
def _clear_statements(postgresql: bool) -> tuple:
    # On the tables: Core DELETEs, without the ORM's bulk-delete machinery on every ballot.
    rankings_table, votes_table = PriorityRanking.__table__, ProjectVote.__table__
    rankings = delete(rankings_table).where(rankings_table.c.response_id == _RESPONSE)
    votes = delete(votes_table).where(votes_table.c.response_id == _RESPONSE)
    if postgresql:
        return (votes.add_cte(rankings.cte("old_rankings")),)
    return rankings, votes


def _clear_answers(response_id: int) -> None:
    """Delete a response's answers, in bulk, without loading them (the response's row is
    locked: nobody else writes them meanwhile). The unique (response, rank) must never see
    old and new answers at once, so this comes first. One statement on PostgreSQL."""
    postgresql = db.session.get_bind().dialect.name == "postgresql"
    for statement in _clear_statements(postgresql):
        db.session.execute(statement, {"response_id": response_id})


ANSWER_COLUMNS = {
    "priority_ranking": ("response_id", "priority_area_id", "rank"),
    "project_vote": ("response_id", "project_id", "points", "rank"),
}


@functools.cache
def _array_insert(table_name: str):
    """INSERT ... SELECT unnest(...) of one answers table, its rows as arrays (parameters
    <table>_<column>): one statement for any number of rows, built and compiled once (a
    multi-row VALUES would be compiled again for every ballot)."""
    table = db.metadata.tables[table_name]
    columns = ANSWER_COLUMNS[table_name]
    arrays = [
        func.unnest(bindparam(f"{table_name}_{c}", type_=postgresql_array(Integer)))
        for c in columns
    ]
    return insert(table).from_select(columns, select(*arrays))


def _answer_rows(response: Response, rankings: dict[int, int], votes: list[dict]):
    """The INSERTs of the answers with their parameters (one statement per table, for
    audit.record_with); the response's collections are expired, so reading them loads
    what was saved. On PostgreSQL the rows travel as arrays."""
    rid = response.id
    rows = {
        "priority_ranking": [
            {"response_id": rid, "priority_area_id": a, "rank": r} for a, r in rankings.items()
        ],
        "project_vote": [{"response_id": rid, **v} for v in votes],
    }
    db.session.expire(response, ["rankings", "votes"])
    postgresql = db.session.get_bind().dialect.name == "postgresql"
    changes = []
    for name, table_rows in rows.items():
        if not table_rows:
            continue
        if not postgresql:
            changes.append((insert(db.metadata.tables[name]), table_rows))
            continue
        arrays = {f"{name}_{c}": [row[c] for row in table_rows] for c in ANSWER_COLUMNS[name]}
        changes.append((_array_insert(name), arrays))
    return tuple(changes)


def submit_response(
    funding_round: FundingRound,
    user: User | None,
    *,
    rankings: dict[int, int],
    votes: Votes | None = None,
    source: ResponseSource = ResponseSource.ONLINE,
    member: RollMember | None = None,
    entered_by: User | None = None,
) -> Response:
    """Create the voter's response or replace its answers: there is only ever one.

    votes maps project id -> points (cumulative) or rank (ranked), or is the set of chosen
    project ids (approval, knapsack). Online: `user` answers (as the roll line they claimed,
    if any). Paper: an organizer (`entered_by`) enters `member`'s ballot, user=None.

    Views call close_if_due() first (and commit), so a ballot arriving after the scheduled
    closing time finds the round closed; the demo seed replays past rounds through here.
    """
    if votes is None:
        votes = set()
    if source == ResponseSource.ONLINE:
        if user is None:
            raise ValidationFailed([(None, "An online answer needs the member's account.")])
        member = voter_member(funding_round, user)
        actor = user
    elif source == ResponseSource.PAPER:
        if member is None or entered_by is None:
            raise ValidationFailed([(None, "A paper ballot needs the member and the organizer.")])
        if member.community_id != funding_round.community_id:
            raise ValidationFailed([(None, "This member is not on this community's roll.")])
        if not entered_by.has_role(funding_round.community_id, Role.ORGANIZER):
            raise ValidationFailed([(None, "Only organizers can enter paper ballots.")])
        user, actor = None, entered_by
    else:
        raise ValidationFailed([(None, "Imported ballots come from a Pabulib file.")])
    # A shared lock on the round: the settings cannot change under a ballot being saved.
    _lock_round(funding_round, read=True)
    if funding_round.status != RoundStatus.OPEN:
        raise IllegalTransition("This round is not open for answers.")
    check_ballot(funding_round, rankings, votes)

    user_id = user.id if user else None
    member_id = member.id if member else None
    if member is not None and member.user_id is not None and user_id is None:
        user_id = member.user_id  # a paper ballot also blocks the member's own account
    response = _existing(funding_round, source, user_id, member_id)
    action = "response.updated"
    if response is None:
        try:
            with db.session.begin_nested():
                response = Response(
                    round_id=funding_round.id,
                    user_id=user.id if user else None,
                    member_id=member_id,
                    source=source,
                    entered_by_id=entered_by.id if entered_by else None,
                    receipt_code=receipt_code(),
                )
                db.session.add(response)
            action = "response.created"
        except IntegrityError:  # the same member submitted twice at once: keep one response
            response = _existing(funding_round, source, user_id, member_id)
            if response is None:
                raise
    if action == "response.updated":
        _clear_answers(response.id)
        if entered_by is not None:
            response.entered_by_id = entered_by.id
            db.session.flush()
    # The answers and the audit event in one statement (PostgreSQL). The audit log names
    # the response, never its content: ballots are private.
    record_with(
        _answer_rows(response, rankings, _vote_rows(funding_round, votes)),
        action,
        f"response:{response.id}",
        community_id=funding_round.community_id,
        actor_id=actor.id,
        round=funding_round.id,
        source=source.value,
    )
    return response


# -- ballot settings -----------------------------------------------------------------

SETTING_NAMES = tuple(ballots.BallotSettings().as_dict())


def settings_locked(funding_round: FundingRound) -> bool:
    """Settings are locked once the first response exists."""
    return response_count(funding_round) > 0


def update_ballot_settings(
    funding_round: FundingRound, settings: dict[str, Any], *, actor: User
) -> FundingRound:
    """Change the round's ballot settings: only before the first response, only open/draft."""
    _lock_round(funding_round)
    if funding_round.status not in (RoundStatus.DRAFT, RoundStatus.OPEN):
        raise IllegalTransition("The ballot of a closed round cannot change.")
    if settings_locked(funding_round):
        raise DomainError(
            "Residents have answered already, so the ballot settings are locked. "
            "Reset the responses first if they must change."
        )
    unknown = set(settings) - set(SETTING_NAMES)
    if unknown:
        raise ValueError(f"not ballot settings: {sorted(unknown)}")
    current = settings_of(funding_round).as_dict()
    wanted = ballots.BallotSettings(**{**current, **settings})
    errors = ballots.check_settings(
        wanted,
        project_count=len(funding_round.projects),
        area_count=len(funding_round.priority_areas),
    )
    if errors:
        raise ValidationFailed(list(errors))
    changed = {}
    for name, value in wanted.as_dict().items():
        if name == "ballot_type":
            value = BallotType(value)
        if getattr(funding_round, name) != value:
            setattr(funding_round, name, value)
            changed[name] = value.value if isinstance(value, BallotType) else value
    db.session.flush()
    if changed:
        record(
            "round.ballot_settings",
            f"round:{funding_round.id}",
            community_id=funding_round.community_id,
            actor_id=actor.id,
            **changed,
        )
    return funding_round


def reset_responses(funding_round: FundingRound, *, actor: User) -> int:
    """Delete every response of a draft or open round (which unlocks its ballot settings)."""
    _lock_round(funding_round)
    if is_due(funding_round):
        raise IllegalTransition(CLOSED_ON_SCHEDULE)
    if funding_round.status not in (RoundStatus.DRAFT, RoundStatus.OPEN):
        raise IllegalTransition("Only the responses of a draft or open round can be reset.")
    ids = select(Response.id).where(Response.round_id == funding_round.id)
    db.session.execute(
        delete(ProjectVote).where(ProjectVote.response_id.in_(ids)),
        execution_options={"synchronize_session": False},
    )
    db.session.execute(
        delete(PriorityRanking).where(PriorityRanking.response_id.in_(ids)),
        execution_options={"synchronize_session": False},
    )
    count = db.session.execute(
        delete(Response).where(Response.round_id == funding_round.id),
        execution_options={"synchronize_session": False},
    ).rowcount
    db.session.expire_all()
    record(
        "responses.reset",
        f"round:{funding_round.id}",
        community_id=funding_round.community_id,
        actor_id=actor.id,
        count=count,
    )
    return count


# -- counts other packages read (the full tallies are in surveys.results) -------------


def approval_counts(funding_round: FundingRound) -> dict[int, int]:
    """Ballots naming each project (approved, picked, given points or ranked)."""
    rows = db.session.execute(
        select(ProjectVote.project_id, func.count())
        .join(Response)
        .where(Response.round_id == funding_round.id, ProjectVote.points > 0)
        .group_by(ProjectVote.project_id)
    ).all()
    counts = {p.id: 0 for p in funding_round.projects}
    counts.update({pid: n for pid, n in rows})
    return counts


def priority_scores(funding_round: FundingRound) -> dict[int, int]:
    """Borda points per priority area: rank r of n areas earns n - r; unranked areas 0."""
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


def profile_ballots(
    funding_round: FundingRound,
) -> tuple[str, list[tuple[int, list[int], list[int] | None]]]:
    """The optimizer's profile of the round: its kind and, per response, the projects in
    ballot order with their points.

    approval and knapsack ballots are approvals; cumulative ballots carry their points;
    ranked ballots list projects from first choice on (an ordinal profile, scored Borda).
    """
    kind = {
        BallotType.CUMULATIVE: "cumulative",
        BallotType.RANKED: "ordinal",
    }.get(funding_round.ballot_type, "approval")
    order = (ProjectVote.rank,) if kind == "ordinal" else (ProjectVote.project_id,)
    rows = db.session.execute(
        select(Response.id, ProjectVote.project_id, ProjectVote.points)
        .join(ProjectVote)
        .where(Response.round_id == funding_round.id, ProjectVote.points > 0)
        .order_by(Response.id, *order)
    )
    ballots: dict[int, tuple[list[int], list[int]]] = {}
    for response_id, project_id, points in rows:
        projects, given = ballots.setdefault(response_id, ([], []))
        projects.append(project_id)
        given.append(points)
    return kind, [
        (rid, projects, given if kind == "cumulative" else None)
        for rid, (projects, given) in ballots.items()
    ]
