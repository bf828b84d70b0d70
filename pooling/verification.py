"""Verifying a signed PDF offline: every signature intact, trusted, the last covering all.

Pure functions over bytes, like signing.py; the app supplies the trusted authorities.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate, AdESSubIndic
from pyhanko.sign.validation import SignatureCoverageLevel, validate_pdf_signature
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko_certvalidator import ValidationContext

UNKNOWN = "an unknown signer"
DER = serialization.Encoding.DER
log = logging.getLogger(__name__)


class NotAPdf(ValueError):
    """The bytes are not a PDF at all, so there is nothing to verify."""


@dataclass(frozen=True)
class SignatureInfo:
    field: str
    signer: str
    signed_at: datetime | None
    intact: bool
    trusted: bool
    covers_whole_file: bool


@dataclass(frozen=True)
class Verdict:
    ok: bool
    signatures: tuple[SignatureInfo, ...]
    problems: tuple[str, ...]


def verify_pdf(pdf: bytes, trusted_roots: list[bytes]) -> Verdict:
    """Check every signature offline; ok only if all hold and the last one covers the file.

    Raises NotAPdf for bytes that are not a readable PDF; any other defect becomes a
    problem sentence in the verdict, never an exception.
    """
    if not pdf.startswith(b"%PDF-"):
        raise NotAPdf("the file is not a PDF")
    try:
        reader = PdfFileReader(BytesIO(pdf))
        found = list(fields.enumerate_sig_fields(reader, filled_status=True))
    except Exception as exc:  # pyHanko raises many types on malformed files
        raise NotAPdf(f"the PDF could not be read: {exc}") from exc
    try:
        roots = [asn1_x509.Certificate.load(_der(pem)) for pem in trusted_roots]
    except Exception as exc:
        raise ValueError("a trusted root is not a PEM certificate") from exc

    embedded: list[EmbeddedPdfSignature] = []
    unreadable: list[SignatureInfo] = []
    problems: list[str] = []
    for name, _value, field_ref in found:
        try:
            sig = EmbeddedPdfSignature(reader, field_ref, name)
            if sig.sig_object_type == "/Sig":  # document timestamps are not signers
                embedded.append(sig)
        except Exception:  # a garbled signature must not take the whole check down
            log.info("unreadable signature %r", name, exc_info=True)
            unreadable.append(SignatureInfo(str(name), UNKNOWN, None, False, False, False))
            problems.append(f"Signature '{name}' could not be read: its data is damaged.")
    embedded.sort(key=lambda sig: sig.signed_revision)

    infos: list[SignatureInfo] = []
    for position, sig in enumerate(embedded, start=1):
        # With an unreadable signature around, "the last one" is unknowable; it failed anyway.
        last = position == len(embedded) and not unreadable
        info, trouble = _check(sig, roots, last=last)
        infos.append(info)
        problems.extend(trouble)
    if not found:
        problems.append("The document carries no signatures.")
    signatures = tuple(infos + unreadable)
    return Verdict(ok=not problems and bool(infos), signatures=signatures, problems=tuple(problems))


def _check(
    sig: EmbeddedPdfSignature, roots: list[asn1_x509.Certificate], *, last: bool
) -> tuple[SignatureInfo, list[str]]:
    """One signature's facts and the sentences describing whatever is wrong with it."""
    field = str(sig.field_name)
    signer = UNKNOWN
    try:
        signer = _common_name(sig.signer_cert)
        # A fresh context per signature: pyHanko closes it after each validation.
        context = ValidationContext(
            trust_roots=roots, allow_fetching=False, revocation_mode="soft-fail"
        )
        status = validate_pdf_signature(sig, context)
    except Exception:  # a garbled signature must not take the whole check down
        log.info("signature %r could not be validated", field, exc_info=True)
        info = SignatureInfo(field, signer, None, False, False, False)
        return info, [f"Signature '{field}' by {signer} could not be checked: its data is damaged."]

    who = f"Signature '{field}' by {signer}"
    intact = status.intact and status.valid
    whole = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    problems = []
    if not intact:
        problems.append(f"{who}: the document was changed after it was signed.")
    elif not status.trusted:
        problems.append(f"{who}: {_trust_problem(signer, status.trust_problem_indic)}")
    if intact and last and not whole:
        problems.append(f"{who}: bytes were added after the last signature.")
    elif intact and not last and status.docmdp_ok is False:
        # Later revisions may only add signatures; pyHanko's diff analysis judges that.
        problems.append(
            f"{who}: the document was changed after it was signed, "
            "beyond adding further signatures."
        )
    info = SignatureInfo(field, signer, status.signer_reported_dt, intact, status.trusted, whole)
    return info, problems


def _trust_problem(signer: str, indic: AdESSubIndic | None) -> str:
    """Plain words for the AdES sub-indication pyHanko reports on an untrusted signer."""
    if indic in (AdESIndeterminate.EXPIRED, AdESIndeterminate.OUT_OF_BOUNDS_NO_POE):
        return f"{signer}'s certificate has expired."
    if indic in (AdESFailure.NOT_YET_VALID, AdESIndeterminate.NOT_YET_VALID):
        return f"{signer}'s certificate was not yet valid."
    if indic == AdESIndeterminate.SIG_CONSTRAINTS_FAILURE:
        return f"{signer}'s certificate is not meant for signing documents."
    if indic is None or indic == AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND:
        return f"{signer}'s certificate was not issued by a trusted signing authority."
    return f"{signer}'s certificate could not be validated ({indic.name.lower()})."


def _common_name(cert: asn1_x509.Certificate) -> str:
    return str(cert.subject.native.get("common_name") or cert.subject.human_friendly)


def _der(pem: bytes) -> bytes:
    return x509.load_pem_x509_certificate(pem).public_bytes(DER)
