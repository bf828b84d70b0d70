"""PKCS#12 files people bring: a member's own signing key, or a board's own authority."""

from __future__ import annotations

import pytest

from pooling import pkcs12, signing
from pooling.pkcs12 import BadKeyFile, make_pkcs12, read_pkcs12


@pytest.fixture(scope="module")
def authority() -> signing.Authority:
    return signing.create_authority("Elm Street Cooperative")


@pytest.fixture(scope="module")
def jane(authority: signing.Authority) -> signing.Credential:
    return signing.issue_credential(
        authority, name="Jane Doe", email="Jane@Example.org", role="Chair"
    )


def test_a_members_file_opens_with_its_password_only(
    authority: signing.Authority, jane: signing.Credential
) -> None:
    data = make_pkcs12("Jane", jane.cert_pem, jane.key_pem, "s3cret")
    keys = read_pkcs12(data, "s3cret")
    assert keys.cert_pem == jane.cert_pem and keys.key_pem is not None
    pkcs12.require_member_certificate(keys, authority.cert_pem, "jane@example.org")
    with pytest.raises(BadKeyFile, match="password is wrong"):
        read_pkcs12(data, "guess")
    with pytest.raises(BadKeyFile, match="not a PKCS#12 file"):
        read_pkcs12(b"%PDF-1.7 not a key file", "s3cret")
    with pytest.raises(BadKeyFile, match="empty"):
        read_pkcs12(b"", "")


def test_nobody_signs_with_someone_elses_certificate(
    authority: signing.Authority, jane: signing.Credential
) -> None:
    keys = read_pkcs12(make_pkcs12("Jane", jane.cert_pem, jane.key_pem, "pw"), "pw")
    with pytest.raises(BadKeyFile, match="belongs to Jane Doe, not to your account"):
        pkcs12.require_member_certificate(keys, authority.cert_pem, "luis@example.org")


def test_a_certificate_from_another_authority_is_refused(authority: signing.Authority) -> None:
    other = signing.create_authority("Someone Else")
    mallory = signing.issue_credential(other, name="Mallory", email="m@example.org", role="X")
    keys = read_pkcs12(make_pkcs12("M", mallory.cert_pem, mallory.key_pem, "pw"), "pw")
    with pytest.raises(BadKeyFile, match="not issued by the community's signing authority"):
        pkcs12.require_member_certificate(keys, authority.cert_pem, "m@example.org")


def test_a_certificate_only_file_cannot_sign_but_can_be_an_authority(
    authority: signing.Authority, jane: signing.Credential
) -> None:
    public = read_pkcs12(make_pkcs12("CA", authority.cert_pem, None, "pw"), "pw")
    assert public.key_pem is None and public.cert_pem == authority.cert_pem
    pkcs12.require_authority(public)
    jane_public = read_pkcs12(make_pkcs12("Jane", jane.cert_pem, None, "pw"), "pw")
    with pytest.raises(BadKeyFile, match="holds no private key"):
        pkcs12.require_member_certificate(jane_public, authority.cert_pem, "jane@example.org")
    with pytest.raises(BadKeyFile, match="not a certificate authority"):
        pkcs12.require_authority(jane_public)
