"""A community's signing authority and the keys its members sign with.

The authority is made at set-up, or is one the board brings (a PKCS#12 file with the
authority's certificate and, if the app is to issue members' certificates, its key).
A member signs with a certificate the app issues from it, or with a PKCS#12 file of
their own that it certified (uploaded for one signing, never stored). Every authority a
community ever had stays trusted, so old signatures keep verifying after a change.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import select

from commonpot.audit import record
from commonpot.errors import ValidationFailed
from commonpot.extensions import db
from commonpot.models import Community, FundingRound, User, utcnow
from commonpot.signals import authority_brought, community_created

from . import pkcs12, signing
from .models import (
    AuthoritySource,
    Document,
    KeySource,
    Signature,
    SigningAuthority,
    SigningCredential,
)

__all__ = [
    "OwnKey",
    "SigningKey",
    "authority_of",
    "bring_authority",
    "give_authority",
    "key_passphrase",
    "signing_key",
    "trusted_roots",
]


def key_passphrase() -> bytes:
    """Private keys at rest are encrypted with a key derived from the app's SECRET_KEY."""
    return (
        HKDF(algorithm=hashes.SHA256(), length=32, salt=b"commonpot-signing-keys", info=b"pem")
        .derive(current_app.config["SECRET_KEY"].encode())
        .hex()
        .encode()
    )


def _fingerprint(cert_pem: bytes) -> str:
    der = x509.load_pem_x509_certificate(cert_pem).public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(der).hexdigest()


@community_created.connect
def give_authority(community: Community, **_) -> None:
    authority = signing.create_authority(community.name, passphrase=key_passphrase())
    community.authority_cert_pem = authority.cert_pem
    community.authority_key_pem = authority.key_pem
    db.session.add(
        SigningAuthority(
            community_id=community.id,
            cert_pem=authority.cert_pem,
            source=AuthoritySource.GENERATED,
            holds_key=True,
        )
    )
    record(
        "authority.created",
        f"community:{community.id}",
        community_id=community.id,
        cert_sha256=_fingerprint(authority.cert_pem),
    )


def authority_of(community: Community) -> SigningAuthority | None:
    """The community's current authority (None for one set up before authorities had rows)."""
    return db.session.scalar(
        select(SigningAuthority)
        .filter_by(community_id=community.id, retired_at=None)
        .order_by(SigningAuthority.id.desc())
        .limit(1)
    )


def bring_authority(
    community: Community, data: bytes, password: str, *, actor: User | None
) -> SigningAuthority:
    """Make the board's own certificate authority the community's; the old one stays trusted.

    With its key in the file the app issues members' certificates from it; a certificate
    alone means every member signs with a PKCS#12 file the board's authority issued them.
    """
    try:
        keys = pkcs12.read_pkcs12(data, password)
        pkcs12.require_authority(keys)
    except pkcs12.BadKeyFile as error:
        raise ValidationFailed([("p12", str(error))]) from None
    if community.authority_cert_pem and _fingerprint(community.authority_cert_pem) == (
        _fingerprint(keys.cert_pem)
    ):
        raise ValidationFailed([("p12", "This is already the community's authority.")])
    used = _has_signed(community)
    for old in db.session.scalars(
        select(SigningAuthority).filter_by(community_id=community.id, retired_at=None)
    ):
        if used:
            old.retired_at = utcnow()  # still trusted: signatures were made under it
        else:
            db.session.delete(old)  # e.g. the one generated a moment ago at set-up
    if used and community.authority_cert_pem and authority_of(community) is None:
        # An authority from before this table existed: keep trusting it too.
        db.session.add(
            SigningAuthority(
                community_id=community.id,
                cert_pem=community.authority_cert_pem,
                source=AuthoritySource.GENERATED,
                retired_at=utcnow(),
            )
        )
    community.authority_cert_pem = keys.cert_pem
    community.authority_key_pem = (
        signing.encrypt_key(keys.key_pem, key_passphrase()) if keys.key_pem else None
    )
    brought = SigningAuthority(
        community_id=community.id,
        cert_pem=keys.cert_pem,
        source=AuthoritySource.BROUGHT,
        holds_key=keys.key_pem is not None,
    )
    db.session.add(brought)
    db.session.flush()
    record(
        "authority.brought",
        f"community:{community.id}",
        community_id=community.id,
        actor_id=actor.id if actor else None,
        cert_sha256=_fingerprint(keys.cert_pem),
        holds_key=brought.holds_key,
        authority=pkcs12.common_name(x509.load_pem_x509_certificate(keys.cert_pem)),
    )
    return brought


def _has_signed(community: Community) -> bool:
    """Whether anything was signed or certified under the community's current authority."""
    signed = db.session.scalar(
        select(Signature.id)
        .join(Document)
        .join(FundingRound, FundingRound.id == Document.round_id)
        .where(FundingRound.community_id == community.id)
        .limit(1)
    )
    issued = db.session.scalar(
        select(SigningCredential.id).filter_by(community_id=community.id).limit(1)
    )
    return signed is not None or issued is not None


def trusted_roots() -> list[bytes]:
    """Every authority of every community, current and replaced."""
    current = [pem for pem in db.session.scalars(select(Community.authority_cert_pem)) if pem]
    every = current + list(db.session.scalars(select(SigningAuthority.cert_pem)))
    return list(dict.fromkeys(every))


@dataclass(frozen=True)
class OwnKey:
    """A PKCS#12 file a member uploaded to sign with, and its password (never stored)."""

    data: bytes
    password: str


@dataclass(frozen=True)
class SigningKey:
    credential: signing.Credential
    passphrase: bytes | None
    source: KeySource

    @property
    def cert_sha256(self) -> str:
        return _fingerprint(self.credential.cert_pem)


def signing_key(user: User, community: Community, role: str, own: OwnKey | None) -> SigningKey:
    """The key a member signs with now: their own file, or the certificate the app issues."""
    if community.authority_cert_pem is None:
        raise ValidationFailed([(None, "This community has no signing authority.")])
    if own is not None:
        try:
            keys = pkcs12.read_pkcs12(own.data, own.password)
            pkcs12.require_member_certificate(keys, community.authority_cert_pem, user.email)
        except pkcs12.BadKeyFile as error:
            raise ValidationFailed([("p12", str(error))]) from None
        assert keys.key_pem is not None  # require_member_certificate checked it
        credential = signing.Credential(key_pem=keys.key_pem, cert_pem=keys.cert_pem)
        return SigningKey(credential, None, KeySource.OWN)
    stored = _issued_credential(user, community, role)
    credential = signing.Credential(key_pem=stored.key_pem, cert_pem=stored.cert_pem)
    return SigningKey(credential, key_passphrase(), KeySource.ISSUED)


def _issued_credential(user: User, community: Community, role: str) -> SigningCredential:
    """The member's certificate from the community's current authority, issued on first use
    (and again after the authority changed)."""
    credential = db.session.scalar(
        select(SigningCredential).filter_by(user_id=user.id, community_id=community.id)
    )
    authority_cert = community.authority_cert_pem
    assert authority_cert is not None
    if credential is not None and signing.issued_by(credential.cert_pem, authority_cert):
        return credential
    if community.authority_key_pem is None:
        raise ValidationFailed(
            [
                (
                    "p12",
                    "The board's own authority signs this community's certificates: "
                    "sign with the PKCS#12 file it issued you.",
                )
            ]
        )
    issued = signing.issue_credential(
        signing.Authority(key_pem=community.authority_key_pem, cert_pem=authority_cert),
        name=user.name,
        email=user.email,
        role=role,
        passphrase=key_passphrase(),
    )
    if credential is None:
        credential = SigningCredential(user=user, community=community)
        db.session.add(credential)
    credential.cert_pem, credential.key_pem = issued.cert_pem, issued.key_pem
    db.session.flush()
    record("credential.issued", f"user:{user.id}", community_id=community.id)
    return credential


@dataclass(frozen=True)
class AuthorityFacts:
    """An authority as the organizers' page shows it."""

    subject: str
    sha256: str
    valid_from: object
    valid_until: object
    source: str
    holds_key: bool
    retired_at: object = None


def _facts(cert_pem: bytes, source: str, holds_key: bool, retired_at=None) -> AuthorityFacts:
    cert = x509.load_pem_x509_certificate(cert_pem)
    return AuthorityFacts(
        pkcs12.common_name(cert),
        _fingerprint(cert_pem),
        cert.not_valid_before_utc,
        cert.not_valid_after_utc,
        source,
        holds_key,
        retired_at,
    )


def describe(community: Community) -> AuthorityFacts | None:
    if community.authority_cert_pem is None:
        return None
    row = authority_of(community)
    source = row.source.value if row else AuthoritySource.GENERATED.value
    return _facts(community.authority_cert_pem, source, community.authority_key_pem is not None)


def history_of(community: Community) -> list[AuthorityFacts]:
    """Replaced authorities, newest first: still trusted for what was signed under them."""
    return [
        _facts(a.cert_pem, a.source.value, a.holds_key, a.retired_at)
        for a in db.session.scalars(
            select(SigningAuthority)
            .where(
                SigningAuthority.community_id == community.id,
                SigningAuthority.retired_at.is_not(None),
            )
            .order_by(SigningAuthority.id.desc())
        )
    ]


@authority_brought.connect
def _brought_at_setup(community: Community, *, p12: bytes, password: str, actor=None, **_):
    bring_authority(community, p12, password, actor=actor)
