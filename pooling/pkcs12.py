"""Keys people bring: PKCS#12 files for a member's signature or a community's authority.

Pure functions over bytes. A file's password unlocks it in memory only; nothing here
keeps the password or writes the key anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

PEM = serialization.Encoding.PEM


class BadKeyFile(ValueError):
    """The file cannot be used; the message says why in words a member understands."""


@dataclass(frozen=True)
class KeyFile:
    """What a PKCS#12 file held: the certificate, its key (PEM, unencrypted, in memory
    only; None for a certificate-only file) and any further certificates."""

    cert_pem: bytes
    key_pem: bytes | None
    chain: tuple[bytes, ...]


def read_pkcs12(data: bytes, password: str) -> KeyFile:
    if not data:
        raise BadKeyFile("The file is empty.")
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(data, password.encode() or None)
    except ValueError:
        raise BadKeyFile(
            "This is not a PKCS#12 file (.p12 or .pfx), or the password is wrong."
        ) from None
    chain = [c.public_bytes(PEM) for c in extra or []]
    if cert is None:
        if not chain:
            raise BadKeyFile("The file holds no certificate.")
        cert_pem, chain = chain[0], chain[1:]
        cert = x509.load_pem_x509_certificate(cert_pem)
    if key is not None and not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise BadKeyFile("Only EC and RSA keys can sign documents.")
    if key is not None and key.public_key().public_numbers() != cert.public_key().public_numbers():
        raise BadKeyFile("The key in the file does not belong to its certificate.")
    now = datetime.now(UTC)
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise BadKeyFile(f"The certificate is valid only {_validity(cert)}.")
    key_pem = None
    if key is not None:
        key_pem = key.private_bytes(
            PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    return KeyFile(cert.public_bytes(PEM), key_pem, tuple(chain))


def require_authority(keys: KeyFile) -> None:
    """A community's authority must be a CA certificate that may sign certificates."""
    cert = x509.load_pem_x509_certificate(keys.cert_pem)
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        raise BadKeyFile("This certificate is not a certificate authority's.") from None
    if not constraints.ca:
        raise BadKeyFile("This certificate is not a certificate authority's.")
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    if not usage.key_cert_sign:
        raise BadKeyFile("This authority's certificate may not sign certificates.")


def require_member_certificate(keys: KeyFile, authority_pem: bytes, email: str) -> None:
    """A member signs only with a key of their own, certified by the community's authority."""
    if keys.key_pem is None:
        raise BadKeyFile("The file holds no private key, so it cannot sign.")
    cert = x509.load_pem_x509_certificate(keys.cert_pem)
    authority = x509.load_pem_x509_certificate(authority_pem)
    try:
        cert.verify_directly_issued_by(authority)
    except (ValueError, TypeError):
        raise BadKeyFile(
            "This certificate was not issued by the community's signing authority, "
            f"{common_name(authority)}."
        ) from None
    if email.casefold() not in {e.casefold() for e in emails_of(cert)}:
        raise BadKeyFile(
            f"This certificate belongs to {common_name(cert)}, not to your account "
            f"({email}): nobody signs for someone else."
        )


def emails_of(cert: x509.Certificate) -> list[str]:
    found = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.EMAIL_ADDRESS)]
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        found += san.get_values_for_type(x509.RFC822Name)
    except x509.ExtensionNotFound:
        pass
    return found


def common_name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else cert.subject.rfc4514_string()


def _validity(cert: x509.Certificate) -> str:
    return f"from {cert.not_valid_before_utc:%d %b %Y} to {cert.not_valid_after_utc:%d %b %Y}"


def make_pkcs12(name: str, cert_pem: bytes, key_pem: bytes | None, password: str) -> bytes:
    """A PKCS#12 file of a certificate and (optionally) its unencrypted key, as a board's
    own tools would give one; for the demo and the tests."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    key = serialization.load_pem_private_key(key_pem, None) if key_pem else None
    if key is not None and not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise BadKeyFile("Only EC and RSA keys can sign documents.")
    lock = (
        serialization.BestAvailableEncryption(password.encode())
        if password
        else serialization.NoEncryption()
    )
    return pkcs12.serialize_key_and_certificates(name.encode(), key, cert, None, lock)
