"""Who may answer (the member roll) and what they answered (responses and their votes)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from commonpot.extensions import db
from commonpot.models import (
    Community,
    FundingRound,
    PriorityArea,
    Project,
    User,
    UTCDateTime,
    str_enum,
    utcnow,
)


class RollMember(db.Model):
    """A line of the cooperative's member roll; a resident's account claims it once."""

    __tablename__ = "roll_member"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id", ondelete="CASCADE"))
    member_number: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    block: Mapped[str] = mapped_column(String(200), default="")  # address or block
    birth_year: Mapped[int | None] = mapped_column(Integer)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    access_code_hash: Mapped[str | None] = mapped_column(String(64))  # SHA-256 of the code
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    community: Mapped[Community] = relationship()
    user: Mapped[User | None] = relationship()

    __table_args__ = (
        UniqueConstraint("community_id", "member_number"),
        UniqueConstraint("community_id", "user_id"),
        CheckConstraint(
            "birth_year IS NULL OR birth_year BETWEEN 1880 AND 2100", name="birth_year"
        ),
    )


class ResponseSource(enum.StrEnum):
    ONLINE = "online"  # the member, in the app
    PAPER = "paper"  # an organizer, from a paper ballot, on the member's behalf
    IMPORTED = "imported"  # an anonymous ballot from a Pabulib file


class Response(db.Model):
    """One per member per round, enforced by the database, edited in place until close.

    Online responses carry the user (and the roll member the user claimed, if any); paper
    responses carry the roll member and the organizer who entered them; imported ones
    neither. The unique constraints make "one per member" hold for accounts and roll
    members alike, so a member who voted on paper cannot also vote online.
    """

    __tablename__ = "survey_response"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("funding_round.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("roll_member.id", ondelete="SET NULL"))
    source: Mapped[ResponseSource] = mapped_column(
        str_enum(ResponseSource, "response_source"), default=ResponseSource.ONLINE
    )
    entered_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    voter_label: Mapped[str | None] = mapped_column(String(80))  # imported: the file's voter id
    receipt_code: Mapped[str] = mapped_column(String(16), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    round: Mapped[FundingRound] = relationship()
    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
    member: Mapped[RollMember | None] = relationship()
    entered_by: Mapped[User | None] = relationship(foreign_keys=[entered_by_id])
    rankings: Mapped[list[PriorityRanking]] = relationship(
        back_populates="response", order_by="PriorityRanking.rank", cascade="all, delete-orphan"
    )
    votes: Mapped[list[ProjectVote]] = relationship(
        back_populates="response", cascade="all, delete-orphan"
    )

    __table_args__ = (
        UniqueConstraint("round_id", "user_id"),
        UniqueConstraint("round_id", "member_id"),
        CheckConstraint(
            "source = 'imported' OR user_id IS NOT NULL OR member_id IS NOT NULL",
            name="has_voter",
        ),
    )


class PriorityRanking(db.Model):
    __tablename__ = "priority_ranking"

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("survey_response.id", ondelete="CASCADE"))
    priority_area_id: Mapped[int] = mapped_column(
        ForeignKey("priority_area.id", ondelete="CASCADE")
    )
    rank: Mapped[int] = mapped_column(Integer)

    response: Mapped[Response] = relationship(back_populates="rankings")
    priority_area: Mapped[PriorityArea] = relationship()

    __table_args__ = (
        UniqueConstraint("response_id", "priority_area_id"),
        UniqueConstraint("response_id", "rank"),
        CheckConstraint("rank >= 1", name="rank_positive"),
    )


class ProjectVote(db.Model):
    """One project on a ballot: approval and knapsack points = 1, cumulative the points
    given, ranked the position (rank 1 = first choice)."""

    __tablename__ = "project_vote"

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("survey_response.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    points: Mapped[int] = mapped_column(Integer, default=1)
    rank: Mapped[int | None] = mapped_column(Integer)

    response: Mapped[Response] = relationship(back_populates="votes")
    project: Mapped[Project] = relationship()

    __table_args__ = (
        UniqueConstraint("response_id", "project_id"),
        CheckConstraint("points >= 0", name="points_nonnegative"),
        CheckConstraint("rank IS NULL OR rank >= 1", name="rank_positive"),
        UniqueConstraint("response_id", "rank"),
    )
