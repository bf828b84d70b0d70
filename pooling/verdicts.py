"""What `commonpot verify` and the page /verify say about a file: its signatures (checked
offline by `pooling.verification`) and whether its bytes are a document this site issued.

A file passes only when every signature is intact and trusted, the last covers the whole
file, and its SHA-256 is that of an issued version (current or superseded), as issued or
as it stood after one of its signatures.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from commonpot.extensions import db

from . import verification
from .authority import trusted_roots
from .models import Document, Signature, SignerRole

__all__ = ["Finding", "SignerLine", "check_file"]

ROLE_LABELS = {SignerRole.BOARD: "board member", SignerRole.LEAD: "project lead"}


@dataclass(frozen=True)
class SignerLine:
    name: str
    role: str | None  # "board" or "lead" when the file is an issued document
    signed_at: datetime | None
    field: str
    intact: bool
    trusted: bool

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(SignerRole(self.role), "") if self.role else "unknown role"


@dataclass(frozen=True)
class Finding:
    ok: bool
    signers: tuple[SignerLine, ...]
    problems: tuple[str, ...]
    document: Document | None = None
    signatures_then: int = 0  # how many of the version's signatures the file holds
    signatures_now: int = 0

    @property
    def state(self) -> str | None:
        if self.document is None:
            return None
        return "current" if self.document.current else "superseded"

    @property
    def complete(self) -> bool:
        """The file is the version as it stands now, with every signature it has."""
        return self.signatures_then == self.signatures_now

    def as_json(self) -> dict:
        doc = self.document
        return {
            "ok": self.ok,
            "problems": list(self.problems),
            "signers": [
                {
                    "name": s.name,
                    "role": s.role,
                    "field": s.field,
                    "signed_at": s.signed_at.isoformat() if s.signed_at else None,
                    "intact": s.intact,
                    "trusted": s.trusted,
                }
                for s in self.signers
            ],
            "document": None
            if doc is None
            else {
                "id": doc.id,
                "filename": doc.filename,
                "kind": doc.kind.value,
                "project": doc.project.title if doc.project else None,
                "round": doc.round_id,
                "version": doc.version,
                "state": self.state,
                "superseded_at": doc.superseded_at.isoformat() if doc.superseded_at else None,
                "reason": doc.reason,
                "signatures_in_file": self.signatures_then,
                "signatures_now": self.signatures_now,
            },
        }


def _issued(digest: str) -> tuple[Document | None, int]:
    """The issued version these bytes are, and how many of its signatures they hold."""
    document = db.session.scalar(select(Document).where(Document.sha256 == digest).limit(1))
    if document is not None:
        return document, len(document.signatures)
    signature = db.session.scalar(
        select(Signature).where(Signature.sha256_result == digest).limit(1)
    )
    if signature is None:
        return None, 0
    document = signature.document
    return document, [s.id for s in document.signatures].index(signature.id) + 1


def check_file(pdf: bytes) -> Finding:
    """Raises verification.NotAPdf for a file that is not a PDF at all."""
    verdict = verification.verify_pdf(pdf, trusted_roots())
    document, held = _issued(hashlib.sha256(pdf).hexdigest())
    roles = {s.field_name: s.role.value for s in document.signatures} if document else {}
    signers = tuple(
        SignerLine(s.signer, roles.get(s.field), s.signed_at, s.field, s.intact, s.trusted)
        for s in verdict.signatures
    )
    problems = list(verdict.problems)
    if document is None and verdict.signatures:
        problems.append(
            "This file is not a document this site issued: no issued version has these bytes."
        )
    ok = verdict.ok and document is not None
    total = len(document.signatures) if document else 0
    return Finding(ok, signers, tuple(problems), document, held, total)
