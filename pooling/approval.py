"""Signing the round's documents: board members to quorum, project leads to accept terms.

Quorum is counted per document, on current versions only; the round is approved (and
its pledges settled) when the report and every term sheet have reached it. A lead's
signature accepts their term sheet and is not part of the board's quorum; a board member
who leads a project is recused from signing its term sheet for the board.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from commonpot.audit import record
from commonpot.errors import IllegalTransition, ValidationFailed
from commonpot.extensions import db
from commonpot.models import FundingRound, Role, RoundStatus, User, utcnow
from commonpot.rounds.services import transition

from . import signing
from .allocation import chosen_run
from .authority import OwnKey, SigningKey, signing_key
from .issuing import LEAD_FIELD, documents_of
from .models import Document, DocumentKind, Signature, SignerRole
from .treasury import settle

__all__ = ["accept_terms", "quorum_reached", "short_of_signers", "sign_document", "sign_round"]

BOARD_ROLE = "Board member"
LEAD_ROLE = "Project lead"
RECUSED = (
    "You lead this project, so you do not sign its term sheet for the board: "
    "the other board members do."
)


def _require_board(funding_round: FundingRound, user: User) -> None:
    if not user.has_role(funding_round.community_id, Role.BOARD):
        raise ValidationFailed([(None, "Only board members sign the round's documents.")])
    if funding_round.status != RoundStatus.ALLOCATED:
        raise IllegalTransition("Only an allocated round's documents are signed by the board.")


def _locked(query) -> list[Document]:
    """Fresh rows under a row lock: two people signing at once must not lose a signature."""
    return list(
        db.session.scalars(
            query.order_by(Document.id).with_for_update().execution_options(populate_existing=True)
        )
    )


def _apply(
    document: Document,
    user: User,
    key: SigningKey,
    *,
    role: SignerRole,
    field: str,
    reason: str,
    at: datetime | None,
) -> Signature:
    before = document.pdf
    community = document.round.community
    signed_at = at or utcnow()
    # The stamp shows the community's time, like the pages; the signature holds UTC.
    local = signed_at.astimezone(ZoneInfo(community.timezone))
    after = signing.sign_pdf(
        before,
        key.credential,
        community.authority_cert_pem or b"",
        field_name=field,
        signer_name=user.name,
        role=BOARD_ROLE if role == SignerRole.BOARD else LEAD_ROLE,
        reason=reason,
        passphrase=key.passphrase,
        signed_at=local,
        stamp_heading="Digitally signed" if role == SignerRole.BOARD else "Terms accepted",
    )
    document.pdf = after
    document.sha256 = hashlib.sha256(after).hexdigest()
    signature = Signature(
        user_id=user.id,
        role=role,
        key_source=key.source,
        cert_sha256=key.cert_sha256,
        field_name=field,
        sha256_signed=hashlib.sha256(before).hexdigest(),
        sha256_result=document.sha256,
        signed_at=signed_at,
    )
    document.signatures.append(signature)
    return signature


def _signed_by(document: Document, user: User, role: SignerRole) -> bool:
    return any(s.user_id == user.id and s.role == role for s in document.signatures)


def _board_sign(
    funding_round: FundingRound,
    user: User,
    docs: list[Document],
    own: OwnKey | None,
    at: datetime | None,
) -> list[Document]:
    to_sign = [
        d for d in docs if not _signed_by(d, user, SignerRole.BOARD) and not d.recuses(user.id)
    ]
    if not to_sign:
        return []
    key = signing_key(user, funding_round.community, BOARD_ROLE, own)
    for document in to_sign:
        _apply(
            document,
            user,
            key,
            role=SignerRole.BOARD,
            field=f"board-{user.id}",
            reason=f"Approved for {funding_round.community.name}",
            at=at,
        )
    db.session.flush()
    record(
        "documents.signed",
        f"round:{funding_round.id}",
        community_id=funding_round.community_id,
        actor_id=user.id,
        key=key.source.value,
        documents={d.filename: d.sha256 for d in to_sign},
    )
    _approve_at_quorum(funding_round, user)
    return to_sign


def sign_document(
    document: Document, user: User, *, own: OwnKey | None = None, at: datetime | None = None
) -> Document:
    """One board member signs one current document."""
    funding_round = document.round
    _require_board(funding_round, user)
    docs = _locked(select(Document).where(Document.id == document.id))
    if not docs or not docs[0].current:
        raise IllegalTransition("This version was superseded: sign the current one.")
    if _signed_by(docs[0], user, SignerRole.BOARD):
        raise ValidationFailed([(None, "You have already signed this version.")])
    if docs[0].recuses(user.id):
        raise ValidationFailed([(None, RECUSED)])
    _board_sign(funding_round, user, docs, own, at)
    return docs[0]


def sign_round(
    funding_round: FundingRound,
    user: User,
    *,
    own: OwnKey | None = None,
    at: datetime | None = None,
) -> int:
    """Sign every current document of the round the member has not signed yet.

    Returns how many documents were signed now.
    """
    _require_board(funding_round, user)
    docs = _locked(select(Document).filter_by(round_id=funding_round.id, superseded_at=None))
    if not docs:
        raise IllegalTransition("There are no documents to sign yet.")
    signed = _board_sign(funding_round, user, docs, own, at)
    if not signed:
        if any(d.recuses(user.id) for d in docs):
            message = "You have signed every document of this round that you may sign."
            raise ValidationFailed([(None, f"{message} {RECUSED}")])
        raise ValidationFailed([(None, "You have already signed every document of this round.")])
    return len(signed)


def short_of_signers(documents: list[Document], board: list[User], quorum: int) -> list[Document]:
    """Term sheets that cannot reach quorum because their lead sits on the board and is
    recused, leaving too few members who may sign them."""
    return [d for d in documents if sum(not d.recuses(m.id) for m in board) < quorum <= len(board)]


def quorum_reached(funding_round: FundingRound) -> bool:
    quorum = funding_round.community.quorum
    docs = documents_of(funding_round)
    return bool(docs) and all(len(d.board_signatures()) >= quorum for d in docs)


def _approve_at_quorum(funding_round: FundingRound, actor: User) -> None:
    if funding_round.status == RoundStatus.ALLOCATED and quorum_reached(funding_round):
        quorum = funding_round.community.quorum
        transition(funding_round, RoundStatus.APPROVED, actor=actor, quorum=quorum)
        run = chosen_run(funding_round)
        assert run is not None  # documents exist only for a chosen run
        settle(funding_round, run, actor=actor)  # call pledges in, release the rest


def accept_terms(
    document: Document, user: User, *, own: OwnKey | None = None, at: datetime | None = None
) -> Document:
    """The project's lead signs its current term sheet, in the lead's signature block."""
    if document.kind != DocumentKind.TERM_SHEET or document.project is None:
        raise IllegalTransition("Only a term sheet is accepted by a project lead.")
    if document.lead_id is None or document.lead_id != user.id:
        raise ValidationFailed(
            [(None, "Only the project lead named on this term sheet accepts it.")]
        )
    if document.round.status not in (
        RoundStatus.ALLOCATED,
        RoundStatus.APPROVED,
        RoundStatus.SETTLED,
    ):
        raise IllegalTransition("This round's term sheets cannot be accepted now.")
    docs = _locked(select(Document).where(Document.id == document.id))
    sheet = docs[0]
    if not sheet.current:
        raise IllegalTransition("This version was superseded: accept the current one.")
    if sheet.lead_signature() is not None:
        raise ValidationFailed([(None, "This term sheet has already been accepted.")])
    if not signing.has_empty_field(sheet.pdf, LEAD_FIELD):
        raise IllegalTransition("This term sheet has no place for the lead's signature.")
    key = signing_key(user, document.round.community, LEAD_ROLE, own)
    _apply(
        sheet,
        user,
        key,
        role=SignerRole.LEAD,
        field=LEAD_FIELD,
        reason=f"Terms accepted for {sheet.project.title}"[:200],
        at=at,
    )
    db.session.flush()
    record(
        "terms.accepted",
        f"document:{sheet.id}",
        community_id=sheet.round.community_id,
        actor_id=user.id,
        project=sheet.project_id,
        key=key.source.value,
        sha256=sheet.sha256,
    )
    return sheet
