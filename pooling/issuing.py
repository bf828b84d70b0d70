"""Issued documents: render the round's PDFs, have the board sign them, approve at quorum."""

from __future__ import annotations

import hashlib
from datetime import datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import select

from commonpot.audit import record
from commonpot.errors import IllegalTransition, ValidationFailed
from commonpot.extensions import db
from commonpot.models import Community, FundingRound, Role, RoundStatus, User, utcnow
from commonpot.rounds.services import transition
from commonpot.signals import community_created

from . import (
    documents,
    receivers,  # noqa: F401  (connects the kernel-signal receivers)
    signing,
    verification,
)
from .allocation import chosen_run, is_locked
from .document_context import board_of, document_context, term_sheet_context
from .models import (
    AllocationRun,
    Document,
    DocumentKind,
    Signature,
    SigningCredential,
)
from .treasury import settle

# board_of and document_context live in pooling.document_context; re-exported here.
__all__ = [
    "board_of",
    "credential_for",
    "document_context",
    "documents_of",
    "generate_documents",
    "give_authority",
    "key_passphrase",
    "sign_round",
    "trusted_roots",
    "verify_document",
]


def key_passphrase() -> bytes:
    """Private keys at rest are encrypted with a key derived from the app's SECRET_KEY."""
    return (
        HKDF(algorithm=hashes.SHA256(), length=32, salt=b"commonpot-signing-keys", info=b"pem")
        .derive(current_app.config["SECRET_KEY"].encode())
        .hex()
        .encode()
    )


@community_created.connect
def give_authority(community: Community, **_) -> None:
    authority = signing.create_authority(community.name, passphrase=key_passphrase())
    community.authority_cert_pem = authority.cert_pem
    community.authority_key_pem = authority.key_pem
    record(
        "authority.created",
        f"community:{community.id}",
        community_id=community.id,
        cert_sha256=hashlib.sha256(authority.cert_pem).hexdigest(),
    )


def credential_for(user: User, community: Community) -> SigningCredential:
    """The member's signing certificate, issued by the community's authority on first use."""
    credential = db.session.scalar(
        select(SigningCredential).filter_by(user_id=user.id, community_id=community.id)
    )
    if credential is None:
        authority = signing.Authority(
            key_pem=community.authority_key_pem, cert_pem=community.authority_cert_pem
        )
        issued = signing.issue_credential(
            authority,
            name=user.name,
            email=user.email,
            role="Board member",
            passphrase=key_passphrase(),
        )
        credential = SigningCredential(
            user=user, community=community, cert_pem=issued.cert_pem, key_pem=issued.key_pem
        )
        db.session.add(credential)
        db.session.flush()
        record("credential.issued", f"user:{user.id}", community_id=community.id)
    return credential


def _store(
    run: AllocationRun, kind: DocumentKind, filename: str, pdf: bytes, project_id: int | None = None
) -> Document:
    digest = hashlib.sha256(pdf).hexdigest()
    document = Document(
        round_id=run.round_id,
        run_id=run.id,
        kind=kind,
        project_id=project_id,
        filename=filename,
        pdf=pdf,
        sha256=digest,
        original_sha256=digest,
    )
    db.session.add(document)
    return document


def generate_documents(funding_round: FundingRound, *, actor: User | None) -> list[Document]:
    """Render the report and a term sheet per funded project from the chosen run."""
    if funding_round.status != RoundStatus.ALLOCATED:
        raise IllegalTransition("Documents are generated for an allocated round.")
    if is_locked(funding_round):
        raise IllegalTransition("Signing has started: issued documents are never regenerated.")
    run = chosen_run(funding_round)
    if run is None:
        raise IllegalTransition("Run the allocation first.")
    for old in db.session.scalars(select(Document).filter_by(round_id=funding_round.id)):
        db.session.delete(old)
    db.session.flush()
    context = document_context(run)
    issued = [
        _store(
            run,
            DocumentKind.REPORT,
            f"round-{funding_round.id}-allocation-report.pdf",
            documents.render_document("pdf/report.html", context),
        )
    ]
    for project in context["funded"]:
        sheet = term_sheet_context(context, project)
        issued.append(
            _store(
                run,
                DocumentKind.TERM_SHEET,
                f"round-{funding_round.id}-term-sheet-{project['id']}.pdf",
                documents.render_document("pdf/term_sheet.html", sheet),
                project_id=project["id"],
            )
        )
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


def documents_of(funding_round: FundingRound) -> list[Document]:
    return list(
        db.session.scalars(
            select(Document)
            .filter_by(round_id=funding_round.id)
            .order_by(Document.kind.desc(), Document.id)
        )
    )


def sign_round(funding_round: FundingRound, user: User, *, at: datetime | None = None) -> int:
    """Sign every document of the round the member has not signed yet; approve at quorum.

    Returns how many documents were signed now.
    """
    community = funding_round.community
    if not user.has_role(community.id, Role.BOARD):
        raise ValidationFailed([(None, "Only board members sign the round's documents.")])
    if funding_round.status != RoundStatus.ALLOCATED:
        raise IllegalTransition("Only an allocated round's documents can be signed.")
    # Lock the rows: two board members signing at once must not lose either signature.
    docs = list(
        db.session.scalars(
            select(Document)
            .filter_by(round_id=funding_round.id)
            .order_by(Document.id)
            .with_for_update()
        )
    )
    if not docs:
        raise IllegalTransition("There are no documents to sign yet.")
    credential = credential_for(user, community)
    signed_now = 0
    for document in docs:
        if any(s.user_id == user.id for s in document.signatures):
            continue
        field = f"board-{user.id}"
        before = document.pdf
        after = signing.sign_pdf(
            before,
            signing.Credential(key_pem=credential.key_pem, cert_pem=credential.cert_pem),
            community.authority_cert_pem,
            field_name=field,
            signer_name=user.name,
            role="Board member",
            reason=f"Approved for {community.name}",
            passphrase=key_passphrase(),
            signed_at=at,
        )
        document.pdf = after
        document.sha256 = hashlib.sha256(after).hexdigest()
        document.signatures.append(
            Signature(
                user_id=user.id,
                field_name=field,
                sha256_signed=hashlib.sha256(before).hexdigest(),
                sha256_result=document.sha256,
                signed_at=at or utcnow(),
            )
        )
        signed_now += 1
    db.session.flush()
    if signed_now == 0:
        raise ValidationFailed([(None, "You have already signed every document of this round.")])
    record(
        "documents.signed",
        f"round:{funding_round.id}",
        community_id=community.id,
        actor_id=user.id,
        documents={d.filename: d.sha256 for d in docs},
    )
    if all(len(d.signatures) >= community.quorum for d in docs):
        transition(funding_round, RoundStatus.APPROVED, actor=user, quorum=community.quorum)
        run = chosen_run(funding_round)
        assert run is not None  # documents exist only for a chosen run
        settle(funding_round, run, actor=user)  # call pledges in, release the rest
    return signed_now


def trusted_roots() -> list[bytes]:
    return [pem for pem in db.session.scalars(select(Community.authority_cert_pem)) if pem]


def verify_document(pdf: bytes) -> tuple[verification.Verdict, Document | None]:
    """The signatures' verdict, and the issued document whose bytes these are (if any)."""
    verdict = verification.verify_pdf(pdf, trusted_roots())
    digest = hashlib.sha256(pdf).hexdigest()
    issued = db.session.scalar(select(Document).where(Document.sha256 == digest))
    if issued is None:
        issued = db.session.scalar(
            select(Document).join(Signature).where(Signature.sha256_result == digest).limit(1)
        )
    return verdict, issued
