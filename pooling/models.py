"""Money and paper: pledges, seed grants, allocation runs, issued documents and signatures."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
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


class Instrument(enum.StrEnum):
    DONATION = "donation"


class Pledge(db.Model):
    """A resident's pledge to the common pot (project_id NULL) or earmarked to one project."""

    __tablename__ = "pledge"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("funding_round.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("project.id", ondelete="SET NULL"))
    instrument: Mapped[Instrument] = mapped_column(
        str_enum(Instrument, "instrument"), default=Instrument.DONATION
    )
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    receipt_code: Mapped[str] = mapped_column(String(16), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    round: Mapped[FundingRound] = relationship()
    user: Mapped[User] = relationship()
    project: Mapped[Project | None] = relationship()

    __table_args__ = (
        UniqueConstraint("round_id", "user_id"),
        CheckConstraint("amount_cents > 0", name="amount_positive"),
    )


class Grant(db.Model):
    """A seed grant from a foundation or the city, with its own rules."""

    __tablename__ = "seed_grant"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("funding_round.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    funder: Mapped[str] = mapped_column(String(200), default="")
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    # Restriction: only projects of this priority area (NULL: any project).
    priority_area_id: Mapped[int | None] = mapped_column(
        ForeignKey("priority_area.id", ondelete="SET NULL")
    )
    cap_per_project_cents: Mapped[int | None] = mapped_column(BigInteger)

    round: Mapped[FundingRound] = relationship()
    priority_area: Mapped[PriorityArea | None] = relationship()

    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint(
            "cap_per_project_cents IS NULL OR cap_per_project_cents > 0", name="cap_positive"
        ),
    )


class AllocationRun(db.Model):
    """One run of a rule on a closed round's snapshot; re-running the snapshot gives the same."""

    __tablename__ = "allocation_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("funding_round.id", ondelete="CASCADE"))
    rule: Mapped[str] = mapped_column(String(30))
    solver_status: Mapped[str] = mapped_column(String(30))
    input_sha256: Mapped[str] = mapped_column(String(64))
    snapshot: Mapped[str] = mapped_column(Text)  # canonical JSON of the optimizer's input
    objective: Mapped[int] = mapped_column(BigInteger)
    available_cents: Mapped[int] = mapped_column(BigInteger)
    allocated_cents: Mapped[int] = mapped_column(BigInteger)
    seconds: Mapped[str] = mapped_column(String(20))
    chosen: Mapped[bool] = mapped_column(Boolean, default=False)
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
    reason: Mapped[str] = mapped_column(Text, default="")

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
    cents: Mapped[int] = mapped_column(BigInteger)

    run: Mapped[AllocationRun] = relationship(back_populates="lines")
    project: Mapped[Project] = relationship()
    grant: Mapped[Grant | None] = relationship()

    __table_args__ = (CheckConstraint("cents > 0", name="cents_positive"),)


class DocumentKind(enum.StrEnum):
    REPORT = "report"
    TERM_SHEET = "term_sheet"


class Document(db.Model):
    """An issued PDF. Its bytes live here; signatures are incremental updates of these bytes."""

    __tablename__ = "document"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("funding_round.id", ondelete="CASCADE"))
    run_id: Mapped[int] = mapped_column(ForeignKey("allocation_run.id", ondelete="CASCADE"))
    kind: Mapped[DocumentKind] = mapped_column(str_enum(DocumentKind, "document_kind"))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(200))
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))  # of the current bytes
    original_sha256: Mapped[str] = mapped_column(String(64))  # as generated, before signing
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    round: Mapped[FundingRound] = relationship()
    project: Mapped[Project | None] = relationship()
    signatures: Mapped[list[Signature]] = relationship(
        back_populates="document", order_by="Signature.id", cascade="all, delete-orphan"
    )


class Signature(db.Model):
    """Who signed which bytes when: sha256_signed is the exact PDF the signer was shown."""

    __tablename__ = "signature"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("document.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    field_name: Mapped[str] = mapped_column(String(60))
    sha256_signed: Mapped[str] = mapped_column(String(64))
    sha256_result: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    document: Mapped[Document] = relationship(back_populates="signatures")
    user: Mapped[User] = relationship()

    __table_args__ = (UniqueConstraint("document_id", "user_id"),)


class SigningCredential(db.Model):
    """A board member's key and certificate, issued by the community's signing authority."""

    __tablename__ = "signing_credential"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id", ondelete="CASCADE"))
    cert_pem: Mapped[bytes] = mapped_column(LargeBinary)
    key_pem: Mapped[bytes] = mapped_column(LargeBinary)  # encrypted PEM
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()
    community: Mapped[Community] = relationship()

    __table_args__ = (UniqueConstraint("user_id", "community_id"),)
