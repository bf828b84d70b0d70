"""A community's signing authority, its members' credentials, and PAdES signatures on PDFs.

Pure functions over bytes (no Flask, no database) so the app decides where keys live.
Keys and certificates come from ``cryptography``; signing and validation from pyHanko.
Validation never touches the network: a community's authority publishes no CRL or OCSP.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from io import BytesIO

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko_certvalidator.registry import SimpleCertificateStore

from .stamps import (  # noqa: F401  (the stamp layout, re-exported for callers of signing)
    A4,
    STAMP_COLUMNS,
    STAMP_MARGIN_X,
    STAMP_ROWS,
    STAMP_STYLE,
    STAMP_ZONE_BOTTOM,
    STAMP_ZONE_TOP,
    _page_size,
    _stamp_style,
    _stamp_text,
    _stamps_in_zone,
    stamp_box,
)

# RFC 9336 id-kp-documentSigning; emailProtection too, because older Acrobat releases
# only accept that one on document signatures.
DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")
CLOCK_SKEW = timedelta(minutes=5)  # so a cert is valid on a server whose clock lags a little
DER = serialization.Encoding.DER
_PLAIN = serialization.NoEncryption()


@dataclass(frozen=True)
class Authority:
    key_pem: bytes
    cert_pem: bytes


@dataclass(frozen=True)
class Credential:
    key_pem: bytes
    cert_pem: bytes


# --- keys and certificates -------------------------------------------------------------


def create_authority(
    community_name: str, *, valid_days: int = 3650, passphrase: bytes | None = None
) -> Authority:
    """Self-signed CA that issues board members' credentials; its cert is the trust root."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, _fit(f"{community_name} signing authority")),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _fit(community_name)),
        ]
    )
    until = datetime.now(UTC) + timedelta(days=valid_days)
    extensions = [
        (x509.BasicConstraints(ca=True, path_length=0), True),
        (_key_usage(key_cert_sign=True, crl_sign=True), True),
    ]
    cert = _certificate(name, name, key, key, until, extensions)
    return Authority(key_pem=_key_pem(key, passphrase), cert_pem=_cert_pem(cert))


def issue_credential(
    authority: Authority,
    *,
    name: str,
    email: str,
    role: str,
    valid_days: int = 1825,
    passphrase: bytes | None = None,
    authority_passphrase: bytes | None = None,
) -> Credential:
    """A board member's signing certificate, issued by the community's authority.

    ``passphrase`` encrypts the new key and also unlocks the authority's key unless
    ``authority_passphrase`` is given (the app uses one passphrase for both).
    """
    ca_key = _load_key(authority.key_pem, authority_passphrase or passphrase)
    ca_cert = x509.load_pem_x509_certificate(authority.cert_pem)
    org = ca_cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, _fit(name))]
    if org:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, str(org[0].value)))
    if role:
        attributes.append(x509.NameAttribute(NameOID.TITLE, _fit(role)))
    attributes.append(x509.NameAttribute(NameOID.EMAIL_ADDRESS, email))
    key = ec.generate_private_key(ec.SECP256R1())
    try:
        ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:  # a board's own authority may not name its key
        ski = x509.SubjectKeyIdentifier.from_public_key(ca_cert.public_key())
    # A credential never outlives the authority that vouches for it.
    until = min(datetime.now(UTC) + timedelta(days=valid_days), ca_cert.not_valid_after_utc)
    extensions = [
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (_key_usage(digital_signature=True, content_commitment=True), True),
        (x509.ExtendedKeyUsage([DOCUMENT_SIGNING, ExtendedKeyUsageOID.EMAIL_PROTECTION]), False),
        (x509.SubjectAlternativeName([x509.RFC822Name(email)]), False),
        (x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), False),
    ]
    cert = _certificate(x509.Name(attributes), ca_cert.subject, key, ca_key, until, extensions)
    return Credential(key_pem=_key_pem(key, passphrase), cert_pem=_cert_pem(cert))


def _certificate(
    subject: x509.Name,
    issuer: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer_key: CertificateIssuerPrivateKeyTypes,
    until: datetime,
    extensions: list[tuple[x509.ExtensionType, bool]],
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.now(UTC) - CLOCK_SKEW)
        .not_valid_after(until)
    )
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    for extension, critical in [*extensions, (ski, False)]:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(issuer_key, hashes.SHA256())


_USAGES = (
    "digital_signature content_commitment key_encipherment data_encipherment key_agreement "
    "key_cert_sign crl_sign encipher_only decipher_only"
).split()


def _key_usage(**granted: bool) -> x509.KeyUsage:
    return x509.KeyUsage(**(dict.fromkeys(_USAGES, False) | granted))


def _fit(value: str, limit: int = 64) -> str:
    """X.520 caps CN, O and title at 64 (cryptography counts UTF-8 bytes); shorten, don't crash."""
    value = value.strip()
    if not value:
        raise ValueError("certificate names must not be empty")
    if len(value.encode()) <= limit:
        return value
    while len((value + "…").encode()) > limit:
        value = value[:-1]
    return value.rstrip() + "…"


def _key_pem(key: ec.EllipticCurvePrivateKey, passphrase: bytes | None) -> bytes:
    lock = serialization.BestAvailableEncryption(passphrase) if passphrase else _PLAIN
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, lock)


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def encrypt_key(key_pem: bytes, passphrase: bytes) -> bytes:
    """Re-encrypt an unencrypted PEM key (a brought authority's) for storage."""
    key = _load_key(key_pem, None)
    lock = serialization.BestAvailableEncryption(passphrase)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, lock)


def issued_by(cert_pem: bytes, authority_cert_pem: bytes) -> bool:
    cert = x509.load_pem_x509_certificate(cert_pem)
    try:
        cert.verify_directly_issued_by(x509.load_pem_x509_certificate(authority_cert_pem))
    except (ValueError, TypeError):
        return False
    return True


def _load_key(key_pem: bytes, passphrase: bytes | None) -> CertificateIssuerPrivateKeyTypes:
    """Decrypt a stored key; a passphrase given for an unencrypted key is simply unused."""
    encrypted = b"ENCRYPTED" in key_pem[:200]
    try:
        key = serialization.load_pem_private_key(
            key_pem, password=passphrase if encrypted else None
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(
            "the private key is encrypted; its passphrase is missing or wrong"
        ) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError("only EC and RSA signing keys are supported")
    return key


# --- signing ----------------------------------------------------------------------------


def sign_pdf(
    pdf: bytes,
    credential: Credential,
    authority_cert_pem: bytes,
    *,
    field_name: str,
    signer_name: str,
    role: str,
    reason: str,
    passphrase: bytes | None = None,
    signed_at: datetime | None = None,
    stamp_heading: str = "Digitally signed",
) -> bytes:
    """Add one PAdES B-B signature as an incremental update, keeping earlier signatures valid.

    A field placed in advance (``place_signature_field``) is filled where it is; any other
    signer gets a new field with a visible stamp in the zone on the last page (see
    ``pooling.stamps``); past the zone's capacity the signature is still added, just
    without a stamp.
    ``signed_at`` defaults to now; a naive datetime is taken as UTC. ``stamp_heading`` is
    the stamp's first line, so the app can pass it translated.
    """
    key = _load_key(credential.key_pem, passphrase)
    cert = x509.load_pem_x509_certificate(credential.cert_pem)
    authority = x509.load_pem_x509_certificate(authority_cert_pem)
    try:
        cert.verify_directly_issued_by(authority)
    except (ValueError, TypeError) as exc:
        # Catch it here: otherwise the mistake only shows when someone verifies.
        raise ValueError("this credential was not issued by the given authority") from exc
    when = (signed_at or datetime.now(UTC)).replace(microsecond=0)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)

    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    existing = {str(name): value for name, value, _ in fields.enumerate_sig_fields(writer.prev)}
    if existing.get(field_name) is not None:
        raise ValueError(f"the document already has a signature field named {field_name!r}")
    # A field placed in advance (the project lead's block) is filled where it is;
    # any other signature gets a new stamp in the zone at the bottom of the last page.
    new_field = None
    if field_name not in existing:
        box = stamp_box(_stamps_in_zone(writer.prev), _page_size(writer.prev, -1))
        new_field = fields.SigFieldSpec(field_name, on_page=-1, box=box)

    der_key = key.private_bytes(DER, serialization.PrivateFormat.PKCS8, _PLAIN)
    signer = signers.SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(cert.public_bytes(DER)),
        signing_key=asn1_keys.PrivateKeyInfo.load(der_key),
        # The authority's cert rides along, so any verifier can build the chain.
        cert_registry=SimpleCertificateStore.from_certs(
            [asn1_x509.Certificate.load(authority.public_bytes(DER))]
        ),
    )
    meta = signers.PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        name=signer_name,
    )
    text = {"heading": stamp_heading, "signer": signer_name, "role": role}
    text = {key: _stamp_text(value) for key, value in text.items()}
    lines = [*text.values(), when.strftime(STAMP_STYLE.timestamp_format)]
    pdf_signer = signers.PdfSigner(
        meta,
        signer,
        stamp_style=_stamp_style(lines),
        new_field_spec=new_field,
    )
    out = asyncio.run(_sign(pdf_signer, writer, when, text))
    return out.getvalue()


async def _sign(
    pdf_signer: signers.PdfSigner,
    writer: IncrementalPdfFileWriter,
    when: datetime,
    text_params: dict[str, str],
) -> BytesIO:
    """PdfSigner.async_sign_pdf, step by step, because only the session takes a signing time."""
    session = pdf_signer.init_signing_session(writer)
    session.system_time = when
    validation_info = await session.perform_presign_validation(writer)
    reserved = await session.estimate_signature_container_size(validation_info, tight=False)
    tbs = session.prepare_tbs_document(
        validation_info=validation_info,
        bytes_reserved=reserved,
        appearance_text_params=text_params,
    )
    prepared, output = tbs.digest_tbs_document(output=BytesIO())
    post = await tbs.perform_signature(
        document_digest=prepared.document_digest,
        pdf_cms_signed_attrs=PdfCMSSignedAttributes(signing_time=when),
    )
    await post.post_signature_processing(output)
    return output


def place_signature_field(pdf: bytes, field_name: str, page: int, box: tuple) -> bytes:
    """Add an empty signature field at ``box`` on ``page``, for a signer whose stamp has a
    place of its own on the page (the project lead's acceptance block)."""
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    spec = fields.SigFieldSpec(field_name, on_page=page, box=tuple(round(v) for v in box))
    fields.append_signature_field(writer, spec)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def has_empty_field(pdf: bytes, field_name: str) -> bool:
    reader = PdfFileReader(BytesIO(pdf))
    return any(
        str(name) == field_name
        for name, _, _ in fields.enumerate_sig_fields(reader, filled_status=False)
    )
