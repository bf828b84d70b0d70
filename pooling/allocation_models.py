"""What an organizer sets for a round's allocation (constraints), and side-by-side
comparisons of the rules. Allocation runs themselves are in `pooling.models`."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from commonpot.extensions import db
from commonpot.models import FundingRound, PriorityArea, Project, UTCDateTime, utcnow

if TYPE_CHECKING:
    from .models import AllocationRun


class SupportThreshold(db.Model):
    """The least support a project needs to be funded at all (Warsaw's and Łódź's
    greedy-threshold rules): approvals, points or Borda points, as the ballot counts."""

    __tablename__ = "support_threshold"

    round_id: Mapped[int] = mapped_column(
        ForeignKey("funding_round.id", ondelete="CASCADE"), primary_key=True
    )
    min_support: Mapped[int] = mapped_column(Integer)

    __table_args__ = (CheckConstraint("min_support >= 1", name="min_support_positive"),)


class AreaShareBound(db.Model):
    """A priority area's minimum and/or maximum share of the money funded, in basis
    points (10,000 = 100%)."""

    __tablename__ = "area_share_bound"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("funding_round.id", ondelete="CASCADE"))
    priority_area_id: Mapped[int] = mapped_column(
        ForeignKey("priority_area.id", ondelete="CASCADE")
    )
    min_bps: Mapped[int | None] = mapped_column(Integer)
    max_bps: Mapped[int | None] = mapped_column(Integer)

    priority_area: Mapped[PriorityArea] = relationship()

    __table_args__ = (
        UniqueConstraint("round_id", "priority_area_id"),
        CheckConstraint("min_bps IS NOT NULL OR max_bps IS NOT NULL", name="some_bound"),
        CheckConstraint("min_bps IS NULL OR min_bps BETWEEN 0 AND 10000", name="min_range"),
        CheckConstraint("max_bps IS NULL OR max_bps BETWEEN 0 AND 10000", name="max_range"),
        CheckConstraint(
            "min_bps IS NULL OR max_bps IS NULL OR min_bps <= max_bps", name="min_below_max"
        ),
    )


class ProjectDependency(db.Model):
    """B only with A: `project` may be funded only if `requires` is."""

    __tablename__ = "project_dependency"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("funding_round.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    requires_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))

    project: Mapped[Project] = relationship(foreign_keys=[project_id])
    requires: Mapped[Project] = relationship(foreign_keys=[requires_id])

    __table_args__ = (
        UniqueConstraint("project_id", "requires_id"),
        CheckConstraint("project_id <> requires_id", name="not_itself"),
    )


class IncompatibleGroup(db.Model):
    """Projects of which at most one may be funded (say, two sites for the same garden)."""

    __tablename__ = "incompatible_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("funding_round.id", ondelete="CASCADE"))

    projects: Mapped[list[Project]] = relationship(
        secondary="incompatible_member", order_by="Project.id"
    )


class IncompatibleMember(db.Model):
    __tablename__ = "incompatible_member"

    group_id: Mapped[int] = mapped_column(
        ForeignKey("incompatible_group.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[int] = mapped_column(
        ForeignKey("project.id", ondelete="CASCADE"), primary_key=True
    )


class AllocationComparison(db.Model):
    """The rules run side by side on one input snapshot; its runs stay unchosen until
    the organizer uses one of them."""

    __tablename__ = "allocation_comparison"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("funding_round.id", ondelete="CASCADE"))
    completion: Mapped[str] = mapped_column(String(20))  # equal shares' completion
    snapshot_sha256: Mapped[str] = mapped_column(String(64))  # instance and ballots
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    round: Mapped[FundingRound] = relationship()
    runs: Mapped[list[AllocationRun]] = relationship(order_by="AllocationRun.id")
