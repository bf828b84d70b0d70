"""A resident's response to a round's survey: priority ranking and project ballot."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from commonpot.extensions import db
from commonpot.models import FundingRound, PriorityArea, Project, User, UTCDateTime, utcnow


class Response(db.Model):
    """One per member per round, enforced by the database, edited in place until close."""

    __tablename__ = "survey_response"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("funding_round.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    receipt_code: Mapped[str] = mapped_column(String(16), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    round: Mapped[FundingRound] = relationship()
    user: Mapped[User] = relationship()
    rankings: Mapped[list[PriorityRanking]] = relationship(
        back_populates="response", order_by="PriorityRanking.rank", cascade="all, delete-orphan"
    )
    votes: Mapped[list[ProjectVote]] = relationship(
        back_populates="response", cascade="all, delete-orphan"
    )

    __table_args__ = (UniqueConstraint("round_id", "user_id"),)


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
    """An approval (points = 1); later ballot types reuse points."""

    __tablename__ = "project_vote"

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("survey_response.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    points: Mapped[int] = mapped_column(Integer, default=1)

    response: Mapped[Response] = relationship(back_populates="votes")
    project: Mapped[Project] = relationship()

    __table_args__ = (
        UniqueConstraint("response_id", "project_id"),
        CheckConstraint("points >= 0", name="points_nonnegative"),
    )
