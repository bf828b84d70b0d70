"""Money and paper: pledges, seed grants, allocation runs, issued documents and signatures."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from commonpot.extensions import db
from commonpot.models import (
    FundingRound,
    PriorityArea,
    Project,
    User,
    UTCDateTime,
    str_enum,
    utcnow,
)


class Instrument(enum.StrEnum):
    DONATION = "donation"
    SHARES = "shares"  # member shares: a number of shares at the round's share price
    LOAN = "loan"  # a community loan at the round's rate and term, repaid as an annuity


class TargetKind(enum.StrEnum):
    POT = "pot"  # the common pot: the allocation decides
    AREA = "area"  # any project of one priority area
    PROJECT = "project"  # one project
    PROJECTS = "projects"  # several named projects, never more than the amount in total


class Condition(enum.StrEnum):
    KEEP_IT_ALL = "keep_it_all"  # collected whatever the allocation decides
    ALL_OR_NOTHING = "all_or_nothing"  # collected only if (and as far as) a target is funded


class PledgeState(enum.StrEnum):
    PLEDGED = "pledged"  # made, not yet confirmed: does not count
    CONFIRMED = "confirmed"
    COLLECTED = "collected"  # an organizer recorded the payment
    ALLOCATED = "allocated"  # (part of) the money is in funded projects
    DISBURSED = "disbursed"  # paid out to the projects
    CANCELLED = "cancelled"
    RELEASED = "released"  # not needed after the allocation; nothing collected
    REFUNDED = "refunded"


# Pledges a resident still stands behind; the per-resident cap counts these.
LIVE_STATES = (
    PledgeState.PLEDGED,
    PledgeState.CONFIRMED,
    PledgeState.COLLECTED,
    PledgeState.ALLOCATED,
    PledgeState.DISBURSED,
)
# Pledges whose money the allocation and the documents count (when standing).
COUNTED_STATES = (
    PledgeState.CONFIRMED,
    PledgeState.COLLECTED,
    PledgeState.ALLOCATED,
    PledgeState.DISBURSED,
)
# Pledges that can still be edited by a new submission of the same target and instrument.
OPEN_STATES = (PledgeState.PLEDGED, PledgeState.CONFIRMED)


class PaymentMethod(enum.StrEnum):
    CASH = "cash"
    CHEQUE = "cheque"
    BANK_TRANSFER = "bank_transfer"


class OverflowRule(enum.StrEnum):
    REFUSE = "refuse"  # a pledge beyond the project's maximum is refused
    POT = "pot"  # ... or accepted into the common pot


class PledgeTerms(db.Model):
    """What a round accepts: instruments, their terms, and the limits on each pledge."""

    __tablename__ = "pledge_terms"

    round_id: Mapped[int] = mapped_column(
        ForeignKey("funding_round.id", ondelete="CASCADE"), primary_key=True
    )
    accepts_donations: Mapped[bool] = mapped_column(Boolean, default=True)
    accepts_shares: Mapped[bool] = mapped_column(Boolean, default=False)
    accepts_loans: Mapped[bool] = mapped_column(Boolean, default=False)
    share_price_cents: Mapped[int | None] = mapped_column(BigInteger)
    loan_rate_bps: Mapped[int | None] = mapped_column(Integer)  # 350 = 3.50 % a year
    loan_term_months: Mapped[int | None] = mapped_column(Integer)
    min_pledge_cents: Mapped[int] = mapped_column(BigInteger, default=100)
    max_pledge_cents: Mapped[int] = mapped_column(BigInteger, default=10_000_000)
    resident_cap_cents: Mapped[int | None] = mapped_column(BigInteger)  # across the round

    round: Mapped[FundingRound] = relationship()

    def accepts(self, instrument: Instrument) -> bool:
        return {
            Instrument.DONATION: self.accepts_donations,
            Instrument.SHARES: self.accepts_shares,
            Instrument.LOAN: self.accepts_loans,
        }[instrument]

    __table_args__ = (
        CheckConstraint(
            "min_pledge_cents > 0 AND max_pledge_cents >= min_pledge_cents", name="limits"
        ),
        CheckConstraint("share_price_cents IS NULL OR share_price_cents > 0", name="price"),
        CheckConstraint("loan_rate_bps IS NULL OR loan_rate_bps >= 0", name="rate"),
        CheckConstraint("loan_term_months IS NULL OR loan_term_months > 0", name="term"),
    )


class ProjectFunding(db.Model):
    """A project's fundraising targets (community-share style) and the hours it needs."""

    __tablename__ = "project_funding"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("project.id", ondelete="CASCADE"), primary_key=True
    )
    min_cents: Mapped[int | None] = mapped_column(BigInteger)
    optimum_cents: Mapped[int | None] = mapped_column(BigInteger)
    max_cents: Mapped[int | None] = mapped_column(BigInteger)
    overflow: Mapped[OverflowRule] = mapped_column(
        str_enum(OverflowRule, "overflow_rule"), default=OverflowRule.REFUSE
    )
    hours_needed: Mapped[int | None] = mapped_column(Integer)

    project: Mapped[Project] = relationship()


class Pledge(db.Model):
    """A resident's promise of money to a round, through one instrument, towards a target."""

    __tablename__ = "pledge"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("funding_round.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    instrument: Mapped[Instrument] = mapped_column(
        str_enum(Instrument, "instrument"), default=Instrument.DONATION
    )
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    shares: Mapped[int | None] = mapped_column(Integer)  # SHARES: amount = shares x price
    loan_rate_bps: Mapped[int | None] = mapped_column(Integer)  # LOAN: the terms accepted
    loan_term_months: Mapped[int | None] = mapped_column(Integer)
    target: Mapped[TargetKind] = mapped_column(
        str_enum(TargetKind, "target_kind"), default=TargetKind.POT
    )
    # "pot", "area:3", "project:5" or "projects:3,5,9": one live pledge per target and
    # instrument, which is what makes a double submit, a retry or a second tab harmless.
    target_key: Mapped[str] = mapped_column(String(200), default="pot")
    project_id: Mapped[int | None] = mapped_column(ForeignKey("project.id", ondelete="RESTRICT"))
    priority_area_id: Mapped[int | None] = mapped_column(
        ForeignKey("priority_area.id", ondelete="RESTRICT")
    )
    condition: Mapped[Condition] = mapped_column(
        str_enum(Condition, "pledge_condition"), default=Condition.KEEP_IT_ALL
    )
    state: Mapped[PledgeState] = mapped_column(
        str_enum(PledgeState, "pledge_state"), default=PledgeState.PLEDGED
    )
    # Set when a project it depends on changed materially; it counts again once reconfirmed.
    awaiting_reconfirmation: Mapped[bool] = mapped_column(Boolean, default=False)
    refund_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    # After approval: cents called in (all-or-nothing pledges pay only what was used).
    called_cents: Mapped[int | None] = mapped_column(BigInteger)
    payment_method: Mapped[PaymentMethod | None] = mapped_column(
        str_enum(PaymentMethod, "payment_method")
    )
    payment_reference: Mapped[str] = mapped_column(String(120), default="")
    receipt_code: Mapped[str] = mapped_column(String(16), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    collected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # cancelled/released/...

    round: Mapped[FundingRound] = relationship()
    user: Mapped[User] = relationship()
    project: Mapped[Project | None] = relationship()
    priority_area: Mapped[PriorityArea | None] = relationship()
    targets: Mapped[list[PledgeTarget]] = relationship(
        back_populates="pledge", cascade="all, delete-orphan", order_by="PledgeTarget.project_id"
    )

    @property
    def target_project_ids(self) -> list[int]:
        if self.target == TargetKind.PROJECT and self.project_id is not None:
            return [self.project_id]
        return [t.project_id for t in self.targets]

    @property
    def counts(self) -> bool:
        """Whether the allocation may use this pledge's money."""
        return (
            self.state in (PledgeState.CONFIRMED, PledgeState.COLLECTED)
            and not self.awaiting_reconfirmation
            and not self.refund_requested
        )

    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        Index(
            "uq_pledge_open_per_target",
            "round_id",
            "user_id",
            "instrument",
            "target_key",
            unique=True,
            postgresql_where=text("state IN ('pledged', 'confirmed')"),
            sqlite_where=text("state IN ('pledged', 'confirmed')"),
        ),
        Index("ix_pledge_round_user", "round_id", "user_id"),
    )


class PledgeTarget(db.Model):
    """One of the projects a several-projects pledge may go to."""

    __tablename__ = "pledge_target"

    pledge_id: Mapped[int] = mapped_column(
        ForeignKey("pledge.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[int] = mapped_column(
        ForeignKey("project.id", ondelete="RESTRICT"), primary_key=True
    )

    pledge: Mapped[Pledge] = relationship(back_populates="targets")
    project: Mapped[Project] = relationship()


class PledgeShare(db.Model):
    """What the approved allocation takes from a pledge for one project (written once)."""

    __tablename__ = "pledge_share"

    pledge_id: Mapped[int] = mapped_column(
        ForeignKey("pledge.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[int] = mapped_column(
        ForeignKey("project.id", ondelete="CASCADE"), primary_key=True
    )
    run_id: Mapped[int] = mapped_column(ForeignKey("allocation_run.id", ondelete="CASCADE"))
    cents: Mapped[int] = mapped_column(BigInteger)

    project: Mapped[Project] = relationship()

    __table_args__ = (CheckConstraint("cents > 0", name="share_positive"),)


class HoursPledge(db.Model):
    """Volunteer hours offered to a project: a time-bank entry, not money."""

    __tablename__ = "hours_pledge"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("funding_round.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    hours: Mapped[int] = mapped_column(Integer)
    skills: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()
    project: Mapped[Project] = relationship()

    __table_args__ = (
        UniqueConstraint("user_id", "project_id"),
        CheckConstraint("hours > 0 AND hours <= 1000", name="hours_range"),
    )


class Notice(db.Model):
    """A message on a resident's page (and in their mail) about their pledges."""

    __tablename__ = "pledge_notice"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    round_id: Mapped[int] = mapped_column(ForeignKey("funding_round.id", ondelete="CASCADE"))
    pledge_id: Mapped[int | None] = mapped_column(ForeignKey("pledge.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))  # reconfirm, called, released, ...
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dismissed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    pledge: Mapped[Pledge | None] = relationship()

    __table_args__ = (Index("ix_notice_user_round", "user_id", "round_id"),)


class Grant(db.Model):
    """A seed grant from a foundation or the city, with its own rules."""

    __tablename__ = "seed_grant"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("funding_round.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    funder: Mapped[str] = mapped_column(String(200), default="")
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    # Restriction: only projects of this priority area (NULL: any project) ...
    priority_area_id: Mapped[int | None] = mapped_column(
        ForeignKey("priority_area.id", ondelete="SET NULL")
    )
    cap_per_project_cents: Mapped[int | None] = mapped_column(BigInteger)
    # ... grant cents in a project <= match_percent/100 x residents' cents in it.
    match_percent: Mapped[int | None] = mapped_column(Integer)
    expires_on: Mapped[date | None] = mapped_column(Date)  # unusable by allocations after

    round: Mapped[FundingRound] = relationship()
    priority_area: Mapped[PriorityArea | None] = relationship()
    # ... and, when listed, only these projects.
    projects: Mapped[list[Project]] = relationship(secondary="grant_project", order_by="Project.id")

    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint(
            "cap_per_project_cents IS NULL OR cap_per_project_cents > 0", name="cap_positive"
        ),
        CheckConstraint("match_percent IS NULL OR match_percent > 0", name="match_positive"),
    )


class GrantProject(db.Model):
    __tablename__ = "grant_project"

    grant_id: Mapped[int] = mapped_column(
        ForeignKey("seed_grant.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[int] = mapped_column(
        ForeignKey("project.id", ondelete="CASCADE"), primary_key=True
    )


class AllocationRun(db.Model):
    """One run of a rule on a closed round's snapshot; re-running the snapshot gives the same."""

    __tablename__ = "allocation_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("funding_round.id", ondelete="CASCADE"))
    rule: Mapped[str] = mapped_column(String(30))
    completion: Mapped[str | None] = mapped_column(String(20))  # equal shares only
    solver_status: Mapped[str] = mapped_column(String(30))
    input_sha256: Mapped[str] = mapped_column(String(64))
    snapshot: Mapped[str] = mapped_column(Text)  # canonical JSON of the optimizer's input
    objective: Mapped[int] = mapped_column(BigInteger)
    available_cents: Mapped[int] = mapped_column(BigInteger)
    allocated_cents: Mapped[int] = mapped_column(BigInteger)
    seconds: Mapped[str] = mapped_column(String(20))
    # The optimizer's remarks on the whole outcome (e.g. an area share it could not meet).
    notes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Ballots in the input, and how many of them support at least one funded project.
    voters: Mapped[int | None] = mapped_column(Integer)
    voters_served: Mapped[int | None] = mapped_column(Integer)
    chosen: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set when the run was made side by side with the other rules (not chosen by that).
    comparison_id: Mapped[int | None] = mapped_column(
        ForeignKey("allocation_comparison.id", ondelete="SET NULL")
    )
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    round: Mapped[FundingRound] = relationship()
    outcomes: Mapped[list[ProjectOutcome]] = relationship(
        back_populates="run", cascade="all, delete-orphan", order_by="ProjectOutcome.id"
    )
    lines: Mapped[list[FundingLine]] = relationship(
        back_populates="run", cascade="all, delete-orphan", order_by="FundingLine.id"
    )


class ProjectOutcome(db.Model):
    __tablename__ = "project_outcome"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("allocation_run.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    funded: Mapped[bool] = mapped_column(Boolean)
    support: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text, default="")  # the explanation, when unfunded
    # The optimizer's explanation as it gave it: a code, the text (project ids quoted),
    # its numbers and the other projects it names (project ids).
    code: Mapped[str] = mapped_column(String(40), default="")
    explanation: Mapped[str] = mapped_column(Text, default="")
    numbers: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    related: Mapped[list[int]] = mapped_column(JSON, default=list)

    run: Mapped[AllocationRun] = relationship(back_populates="outcomes")
    project: Mapped[Project] = relationship()

    __table_args__ = (UniqueConstraint("run_id", "project_id"),)


class SourceKind(enum.StrEnum):
    POOL = "pool"
    EARMARK = "earmark"
    GRANT = "grant"


class FundingLine(db.Model):
    """Cents from one source to one project in a run's funding plan."""

    __tablename__ = "funding_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("allocation_run.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    kind: Mapped[SourceKind] = mapped_column(str_enum(SourceKind, "source_kind"))
    grant_id: Mapped[int | None] = mapped_column(ForeignKey("seed_grant.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(120), default="")  # the optimizer's source id
    cents: Mapped[int] = mapped_column(BigInteger)

    run: Mapped[AllocationRun] = relationship(back_populates="lines")
    project: Mapped[Project] = relationship()
    grant: Mapped[Grant | None] = relationship()

    __table_args__ = (CheckConstraint("cents > 0", name="cents_positive"),)


# Issued documents, signatures, signing keys and background jobs live beside these.
# The constraints and comparisons live in their own module; importing them here registers
# them wherever the models are loaded.
from .allocation_models import (  # noqa: E402, F401
    AllocationComparison,
    AreaShareBound,
    IncompatibleGroup,
    IncompatibleMember,
    ProjectDependency,
    SupportThreshold,
)
from .document_models import (  # noqa: E402, F401
    AuthoritySource,
    Document,
    DocumentKind,
    Job,
    JobKind,
    JobStatus,
    KeySource,
    Signature,
    SignerRole,
    SigningAuthority,
    SigningCredential,
)
