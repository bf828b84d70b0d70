"""The kernel's models: communities, people and their roles, rounds, priority areas, projects.

Feature packages (surveys, pooling) hang their own models off these.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from flask_login import UserMixin
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Enum,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from .extensions import db


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Stores naive UTC, hands back aware UTC, on SQLite and PostgreSQL alike."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; commonpot stores UTC only")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=UTC)


def str_enum(cls: type[enum.Enum], name: str) -> Enum:
    """A portable enum column: VARCHAR with a named CHECK, the value (not the name) stored."""
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=20,
        values_callable=lambda e: [m.value for m in e],
    )


class Role(enum.StrEnum):
    RESIDENT = "resident"
    ORGANIZER = "organizer"
    BOARD = "board"


class RoundStatus(enum.StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"
    ALLOCATED = "allocated"
    APPROVED = "approved"
    SETTLED = "settled"


class Community(db.Model):
    __tablename__ = "community"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    timezone: Mapped[str] = mapped_column(String(60), default="UTC")
    quorum: Mapped[int] = mapped_column(Integer, default=2)
    # The community's signing authority: its certificate is what verification trusts.
    # Loaded only when signing or verifying reads them (one query for both): every page
    # loads the community, and the key, even encrypted, has no business in those rows.
    authority_cert_pem: Mapped[bytes | None] = mapped_column(
        LargeBinary, deferred=True, deferred_group="authority"
    )
    authority_key_pem: Mapped[bytes | None] = mapped_column(  # encrypted PEM
        LargeBinary, deferred=True, deferred_group="authority"
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (CheckConstraint("quorum >= 1", name="quorum_positive"),)


class User(UserMixin, db.Model):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    def roles_in(self, community_id: int) -> set[Role]:
        return {m.role for m in self.memberships if m.community_id == community_id}

    def has_role(self, community_id: int, *roles: Role) -> bool:
        return bool(self.roles_in(community_id) & set(roles))

    @property
    def communities(self) -> list[Community]:
        seen: dict[int, Community] = {}
        for m in self.memberships:
            seen.setdefault(m.community_id, m.community)
        return sorted(seen.values(), key=lambda c: c.name)


class Membership(db.Model):
    """One role of one person in one community (a person may hold several)."""

    __tablename__ = "membership"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id", ondelete="CASCADE"))
    role: Mapped[Role] = mapped_column(str_enum(Role, "role"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships")
    community: Mapped[Community] = relationship()

    __table_args__ = (UniqueConstraint("user_id", "community_id", "role"),)


class BallotType(enum.StrEnum):
    """The project ballot a round uses (the priority-area question is always a ranking)."""

    APPROVAL = "approval"  # tick any number of projects (min/max optional)
    KNAPSACK = "knapsack"  # pick projects whose total cost fits budget_cents
    CUMULATIVE = "cumulative"  # spread points_total points over projects
    RANKED = "ranked"  # order your top rank_limit projects


class FundingRound(db.Model):
    __tablename__ = "funding_round"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[RoundStatus] = mapped_column(
        str_enum(RoundStatus, "round_status"), default=RoundStatus.DRAFT
    )
    ballot_type: Mapped[BallotType] = mapped_column(
        str_enum(BallotType, "ballot_type"), default=BallotType.APPROVAL
    )
    # Ballot settings, locked once the first response exists (see surveys).
    min_approvals: Mapped[int | None] = mapped_column(Integer)
    max_approvals: Mapped[int | None] = mapped_column(Integer)
    budget_cents: Mapped[int | None] = mapped_column(BigInteger)  # knapsack: the budget shown
    min_spend_percent: Mapped[int | None] = mapped_column(Integer)  # knapsack: spend at least
    points_total: Mapped[int | None] = mapped_column(Integer)  # cumulative: N points
    points_exact: Mapped[bool] = mapped_column(Boolean, default=True)  # = N, else <= N
    points_cap: Mapped[int | None] = mapped_column(Integer)  # cumulative: most per project
    rank_limit: Mapped[int | None] = mapped_column(Integer)  # ranked: top k projects
    priority_rank_limit: Mapped[int | None] = mapped_column(Integer)  # top k areas; None: all
    min_age: Mapped[int | None] = mapped_column(Integer)  # needs birth years on the roll
    opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # books closed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    community: Mapped[Community] = relationship()
    priority_areas: Mapped[list[PriorityArea]] = relationship(
        back_populates="round", order_by="PriorityArea.position", cascade="all, delete-orphan"
    )
    projects: Mapped[list[Project]] = relationship(
        back_populates="round", order_by="Project.id", cascade="all, delete-orphan"
    )

    __table_args__ = (
        CheckConstraint("max_approvals IS NULL OR max_approvals >= 1", name="max_approvals"),
        CheckConstraint(
            "min_approvals IS NULL OR max_approvals IS NULL OR min_approvals <= max_approvals",
            name="approval_bounds",
        ),
        CheckConstraint("budget_cents IS NULL OR budget_cents > 0", name="budget_positive"),
        CheckConstraint(
            "min_spend_percent IS NULL OR min_spend_percent BETWEEN 1 AND 100",
            name="min_spend_percent",
        ),
        CheckConstraint("points_total IS NULL OR points_total >= 1", name="points_total"),
        CheckConstraint("points_cap IS NULL OR points_cap >= 1", name="points_cap"),
        CheckConstraint("rank_limit IS NULL OR rank_limit >= 1", name="rank_limit"),
        CheckConstraint(
            "priority_rank_limit IS NULL OR priority_rank_limit >= 1", name="priority_rank_limit"
        ),
        CheckConstraint("min_age IS NULL OR min_age BETWEEN 1 AND 120", name="min_age"),
    )


class PriorityArea(db.Model):
    __tablename__ = "priority_area"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("funding_round.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(Integer, default=0)

    round: Mapped[FundingRound] = relationship(back_populates="priority_areas")

    __table_args__ = (UniqueConstraint("round_id", "name"),)


class Project(db.Model):
    """A candidate project, funded at its full cost or not at all."""

    __tablename__ = "project"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("funding_round.id", ondelete="CASCADE"))
    priority_area_id: Mapped[int | None] = mapped_column(
        ForeignKey("priority_area.id", ondelete="SET NULL")
    )
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    lead_name: Mapped[str] = mapped_column(String(200), default="")  # as shown on documents
    # The member who leads it (and signs its term sheet to accept the terms).
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    cost_cents: Mapped[int] = mapped_column(BigInteger)

    round: Mapped[FundingRound] = relationship(back_populates="projects")
    priority_area: Mapped[PriorityArea | None] = relationship()
    lead: Mapped[User | None] = relationship()

    @property
    def lead_display(self) -> str:
        """The lead's name as the project shows it: the given name, else the member's."""
        return self.lead_name or (self.lead.name if self.lead else "")

    __table_args__ = (CheckConstraint("cost_cents > 0", name="cost_positive"),)
