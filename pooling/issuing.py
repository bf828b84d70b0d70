"""Issued documents: render the round's PDFs from the chosen run, and correct them as versions.

Rendering and writing are separate steps so a background job can render everything
first and write it all in one transaction at the end (`pooling.jobs`): a worker that
dies half-way leaves nothing behind. Unsigned documents may be generated again in place;
a document someone signed is locked, and a correction makes its next version.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select

from commonpot.audit import record
from commonpot.errors import IllegalTransition, ValidationFailed
from commonpot.extensions import db
from commonpot.models import FundingRound, RoundStatus, User, utcnow

from . import documents, signing
from .allocation import chosen_run, is_locked
from .document_context import board_of, document_context, term_sheet_context
from .models import AllocationRun, Document, DocumentKind

__all__ = [
    "LEAD_FIELD",
    "Rendered",
    "board_of",
    "check_correction",
    "check_generation",
    "document_context",
    "documents_of",
    "generate_documents",
    "new_version",
    "render_round",
    "render_slot",
    "sign_round",
    "slots_of",
    "versions_of",
    "write_documents",
    "write_new_version",
]

LEAD_FIELD = "lead"  # the term sheet's signature field in the project lead's block
LEAD_ANCHOR = "lead-signature"
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Rendered:
    """One document's PDF, rendered but not stored yet."""

    slot: str
    kind: DocumentKind
    project_id: int | None
    pdf: bytes
    lead_id: int | None = None  # a term sheet's lead member, whose block holds a field


def _slot(kind: DocumentKind, project_id: int | None) -> str:
    return "report" if kind == DocumentKind.REPORT else f"term_sheet:{project_id}"


def slots_of(context: dict) -> list[tuple[DocumentKind, int | None]]:
    """The documents a run makes: the report, then one term sheet per funded project."""
    return [(DocumentKind.REPORT, None)] + [
        (DocumentKind.TERM_SHEET, p["id"]) for p in context["funded"]
    ]


def render_slot(context: dict, kind: DocumentKind, project_id: int | None) -> Rendered:
    if kind == DocumentKind.REPORT:
        pdf = documents.render_document("pdf/report.html", context)
        return Rendered(_slot(kind, None), kind, None, pdf)
    project = next((p for p in context["funded"] if p["id"] == project_id), None)
    if project is None:
        raise IllegalTransition("The chosen allocation does not fund this project any more.")
    sheet = term_sheet_context(context, project)
    pdf, placed = documents.render_document_laid_out("pdf/term_sheet.html", sheet, LEAD_ANCHOR)
    lead_id = project["lead_id"]
    if placed is not None and lead_id is not None:  # the lead's signature has its place
        pdf = signing.place_signature_field(pdf, LEAD_FIELD, placed.page, placed.box)
    else:
        lead_id = None
    return Rendered(_slot(kind, project_id), kind, project_id, pdf, lead_id)


def render_round(run: AllocationRun, progress: Progress | None = None) -> list[Rendered]:
    """Every document of the run, in memory; ``progress(done, total)`` after each."""
    context = document_context(run)
    slots = slots_of(context)
    if progress:
        progress(0, len(slots))
    out = []
    for kind, project_id in slots:
        out.append(render_slot(context, kind, project_id))
        if progress:
            progress(len(out), len(slots))
    return out


def check_generation(funding_round: FundingRound) -> AllocationRun:
    """The run documents are generated from, or why they cannot be (again)."""
    if funding_round.status != RoundStatus.ALLOCATED:
        raise IllegalTransition("Documents are generated for an allocated round.")
    if is_locked(funding_round):
        raise IllegalTransition(
            "Signing has started: signed documents are never generated again. "
            "Correct a document by making a new version of it."
        )
    run = chosen_run(funding_round)
    if run is None:
        raise IllegalTransition("Run the allocation first.")
    return run


def _filename(funding_round: FundingRound, kind: DocumentKind, project_id, version: int) -> str:
    stem = "allocation-report" if kind == DocumentKind.REPORT else f"term-sheet-{project_id}"
    suffix = f"-v{version}" if version > 1 else ""
    return f"round-{funding_round.id}-{stem}{suffix}.pdf"


def _store(
    run: AllocationRun, rendered: Rendered, *, version: int, reason: str, actor: User | None
) -> Document:
    digest = hashlib.sha256(rendered.pdf).hexdigest()
    document = Document(
        round_id=run.round_id,
        run_id=run.id,
        kind=rendered.kind,
        project_id=rendered.project_id,
        slot=rendered.slot,
        version=version,
        reason=reason,
        filename=_filename(run.round, rendered.kind, rendered.project_id, version),
        pdf=rendered.pdf,
        sha256=digest,
        original_sha256=digest,
        created_by_id=actor.id if actor else None,
        lead_id=rendered.lead_id,
    )
    db.session.add(document)
    return document


def write_documents(
    funding_round: FundingRound, run: AllocationRun, rendered: list[Rendered], actor: User | None
) -> list[Document]:
    """Store a whole round's documents at once, replacing unsigned ones of an earlier try."""
    if check_generation(funding_round).id != run.id:
        raise IllegalTransition("The allocation changed while the documents were made; retry.")
    # Rows of the round's documents are locked so a signature cannot slip in meanwhile.
    for old in db.session.scalars(
        select(Document).filter_by(round_id=funding_round.id).with_for_update()
    ):
        db.session.delete(old)
    db.session.flush()
    issued = [_store(run, r, version=1, reason="", actor=actor) for r in rendered]
    db.session.flush()
    record(
        "documents.generated",
        f"round:{funding_round.id}",
        community_id=funding_round.community_id,
        actor_id=actor.id if actor else None,
        run=run.id,
        documents={d.filename: d.sha256 for d in issued},
    )
    return issued


def generate_documents(
    funding_round: FundingRound, *, actor: User | None, progress: Progress | None = None
) -> list[Document]:
    """Render the report and a term sheet per funded project, and store them (one step)."""
    run = check_generation(funding_round)
    return write_documents(funding_round, run, render_round(run, progress), actor)


def check_correction(document: Document, reason: str) -> str:
    """The cleaned reason, or why this version cannot be corrected."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed([("reason", "Say what the new version corrects.")])
    if len(reason) > 1000:
        raise ValidationFailed([("reason", "Keep the reason under 1,000 characters.")])
    if document.round.status != RoundStatus.ALLOCATED:
        raise IllegalTransition("Documents are corrected only before the round is approved.")
    if not document.current:
        raise IllegalTransition("This version was already superseded by a newer one.")
    return reason


def write_new_version(
    document: Document, rendered: Rendered, reason: str, actor: User | None
) -> Document:
    """Supersede ``document`` by its next version; its signatures stay with it."""
    locked = db.session.scalar(
        select(Document)
        .where(Document.id == document.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert locked is not None
    reason = check_correction(locked, reason)
    run = chosen_run(locked.round)
    if run is None or run.id != locked.run_id:
        raise IllegalTransition("The allocation changed; generate the documents again.")
    last = db.session.scalar(
        select(func.max(Document.version)).filter_by(round_id=locked.round_id, slot=locked.slot)
    )
    locked.superseded_at = utcnow()
    db.session.flush()  # the old version stops being current before the new one is
    newer = _store(run, rendered, version=(last or 0) + 1, reason=reason, actor=actor)
    db.session.flush()
    record(
        "document.new_version",
        f"document:{newer.id}",
        community_id=locked.round.community_id,
        actor_id=actor.id if actor else None,
        round=locked.round_id,
        supersedes=locked.id,
        version=newer.version,
        reason=reason,
        sha256=newer.sha256,
        superseded_signatures=len(locked.signatures),
    )
    return newer


def new_version(document: Document, reason: str, *, actor: User | None) -> Document:
    """Render the document again from the chosen run, as its next version (one step)."""
    check_correction(document, reason)
    context = document_context(chosen_run(document.round) or document_run(document))
    rendered = render_slot(context, document.kind, document.project_id)
    return write_new_version(document, rendered, reason, actor)


def document_run(document: Document) -> AllocationRun:
    run = db.session.get(AllocationRun, document.run_id)
    assert run is not None
    return run


def documents_of(funding_round: FundingRound) -> list[Document]:
    """The current version of each of the round's documents: the report first."""
    return list(
        db.session.scalars(
            select(Document)
            .filter_by(round_id=funding_round.id, superseded_at=None)
            .order_by(Document.kind, Document.project_id, Document.id)
        )
    )


def versions_of(funding_round: FundingRound) -> dict[str, list[Document]]:
    """Every version of every document, newest first, by slot."""
    out: dict[str, list[Document]] = {}
    for document in db.session.scalars(
        select(Document)
        .filter_by(round_id=funding_round.id)
        .order_by(Document.slot, Document.version.desc())
    ):
        out.setdefault(document.slot, []).append(document)
    return out


# Signing lives in pooling.approval; callers that sign a whole round know it from here.
from .approval import sign_round  # noqa: E402
