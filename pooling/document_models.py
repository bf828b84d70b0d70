"""Issued documents and their versions, signatures, signing keys, and background jobs.

A document is one version of one slot of a round ("report", or "term_sheet:<project>").
Once signed a version is never changed except by further signatures; a correction is a
new version of the same slot, and the old one stays, superseded, with its signatures.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from commonpot.extensions import db
from commonpot.models import Community, FundingRound, Project, User, UTCDateTime, str_enum, utcnow


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
    # Which document of the round this is a version of: "report" or "term_sheet:<id>".
    slot: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer, default=1)
    reason: Mapped[str] = mapped_column(Text, default="")  # why this version replaced the last
    filename: Mapped[str] = mapped_column(String(200))
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))  # of the current bytes
    original_sha256: Mapped[str] = mapped_column(String(64))  # as generated, before signing
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A term sheet's lead as named on it: the only member who may accept it.
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))

    round: Mapped[FundingRound] = relationship()
    project: Mapped[Project | None] = relationship()
    lead: Mapped[User | None] = relationship(foreign_keys=[lead_id])
    signatures: Mapped[list[Signature]] = relationship(
        back_populates="document", order_by="Signature.id", cascade="all, delete-orphan"
    )

    @property
    def current(self) -> bool:
        return self.superseded_at is None

    def board_signatures(self) -> list[Signature]:
        return [s for s in self.signatures if s.role == SignerRole.BOARD]

    def lead_signature(self) -> Signature | None:
        return next((s for s in self.signatures if s.role == SignerRole.LEAD), None)

    def recuses(self, user_id: int) -> bool:
        """A board member never approves, for the board, the term sheet that pays the
        project they lead: its other board members sign it (a conflict of interest)."""
        return self.kind == DocumentKind.TERM_SHEET and self.lead_id == user_id

    __table_args__ = (
        UniqueConstraint("round_id", "slot", "version"),
        # One current version per slot: two corrections at once cannot both win.
        Index(
            "uq_document_current_slot",
            "round_id",
            "slot",
            unique=True,
            postgresql_where=text("superseded_at IS NULL"),
            sqlite_where=text("superseded_at IS NULL"),
        ),
    )


class SignerRole(enum.StrEnum):
    BOARD = "board"  # counts towards the document's quorum
    LEAD = "lead"  # the project lead accepting their term sheet: not part of the quorum


class KeySource(enum.StrEnum):
    ISSUED = "issued"  # a certificate the app issued from the community's authority
    OWN = "own"  # a PKCS#12 file the member uploaded for this signature (never stored)


class Signature(db.Model):
    """Who signed which bytes when: sha256_signed is the exact PDF the signer was shown."""

    __tablename__ = "signature"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("document.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    role: Mapped[SignerRole] = mapped_column(
        str_enum(SignerRole, "signer_role"), default=SignerRole.BOARD
    )
    key_source: Mapped[KeySource] = mapped_column(
        str_enum(KeySource, "key_source"), default=KeySource.ISSUED
    )
    cert_sha256: Mapped[str] = mapped_column(String(64), default="")  # the signer's certificate
    field_name: Mapped[str] = mapped_column(String(60))
    sha256_signed: Mapped[str] = mapped_column(String(64))
    sha256_result: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    document: Mapped[Document] = relationship(back_populates="signatures")
    user: Mapped[User] = relationship()

    # One signature per person and capacity on a version: nobody signs the same bytes twice.
    __table_args__ = (UniqueConstraint("document_id", "user_id", "role"),)


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


class AuthoritySource(enum.StrEnum):
    GENERATED = "generated"  # made by commonpot when the community was created
    BROUGHT = "brought"  # the board's own, uploaded as PKCS#12


class SigningAuthority(db.Model):
    """Every authority a community has had. The current one is also on the community;
    replaced ones stay here so signatures made under them still verify."""

    __tablename__ = "signing_authority"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id", ondelete="CASCADE"))
    cert_pem: Mapped[bytes] = mapped_column(LargeBinary)
    source: Mapped[AuthoritySource] = mapped_column(str_enum(AuthoritySource, "authority_source"))
    holds_key: Mapped[bool] = mapped_column(default=True)  # False: members bring PKCS#12 files
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class JobKind(enum.StrEnum):
    GENERATE = "generate"  # the report and every term sheet of a round
    NEW_VERSION = "new_version"  # a correction: one document again, as its next version


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Job(db.Model):
    """Long work done outside the request; its state is here, so every worker can show it."""

    __tablename__ = "job"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[JobKind] = mapped_column(str_enum(JobKind, "job_kind"))
    round_id: Mapped[int] = mapped_column(ForeignKey("funding_round.id", ondelete="CASCADE"))
    status: Mapped[JobStatus] = mapped_column(
        str_enum(JobStatus, "job_status"), default=JobStatus.QUEUED
    )
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    # NEW_VERSION: the version being corrected, and why.
    document_id: Mapped[int | None] = mapped_column(ForeignKey("document.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(Text, default="")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    round: Mapped[FundingRound] = relationship()
    actor: Mapped[User | None] = relationship()

    @property
    def active(self) -> bool:
        return self.status in (JobStatus.QUEUED, JobStatus.RUNNING)

    @property
    def percent(self) -> int:
        if self.status == JobStatus.DONE:
            return 100
        return 100 * self.done // self.total if self.total else 0

    __table_args__ = (
        # One job at a time per round: a double click cannot start two generations.
        Index(
            "uq_job_active_round",
            "round_id",
            unique=True,
            postgresql_where=text("status IN ('queued', 'running')"),
            sqlite_where=text("status IN ('queued', 'running')"),
        ),
    )
