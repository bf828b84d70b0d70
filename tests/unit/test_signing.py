"""Signing authority, credentials, PAdES signatures and offline verification."""

from __future__ import annotations

from datetime import UTC, datetime
from io import BytesIO

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields
from weasyprint import HTML

from pooling import signing, verification
from pooling.signing import (
    Authority,
    Credential,
    create_authority,
    issue_credential,
    sign_pdf,
    stamp_box,
)
from pooling.verification import NotAPdf, verify_pdf

PASS = b"derived-from-secret-key"
WHEN = datetime(2026, 11, 22, 14, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def authority() -> Authority:
    return create_authority("Elm Street Cooperative", passphrase=PASS)


@pytest.fixture(scope="module")
def jane(authority: Authority) -> Credential:
    return issue_credential(
        authority, name="Jane Doe", email="jane@example.org", role="Chair", passphrase=PASS
    )


@pytest.fixture(scope="module")
def luis(authority: Authority) -> Credential:
    return issue_credential(
        authority,
        name="Luis Fernández",
        email="luis@example.org",
        role="Treasurer",
        passphrase=PASS,
    )


@pytest.fixture(scope="module")
def unsigned() -> bytes:
    # Uncompressed so a test can alter a known string without breaking the file's structure.
    html = "<title>Board minutes</title><h1>Minutes</h1><p>The board approves the report.</p>"
    return HTML(string=html).write_pdf(uncompressed_pdf=True)


def _sign(pdf: bytes, credential: Credential, authority: Authority, n: int, name: str) -> bytes:
    return sign_pdf(
        pdf,
        credential,
        authority.cert_pem,
        field_name=f"board-{n}",
        signer_name=name,
        role="Board",
        reason="Approved",
        passphrase=PASS,
        signed_at=WHEN,
    )


@pytest.fixture(scope="module")
def signed_twice(
    unsigned: bytes, authority: Authority, jane: Credential, luis: Credential
) -> bytes:
    once = _sign(unsigned, jane, authority, 1, "Jane Doe")
    return _sign(once, luis, authority, 2, "Luis Fernández")


def test_authority_is_a_ca_named_after_the_community(authority: Authority) -> None:
    cert = x509.load_pem_x509_certificate(authority.cert_pem)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        "Elm Street Cooperative signing authority"
    )
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == (
        "Elm Street Cooperative"
    )
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign
    assert authority.key_pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")


def test_credential_names_the_member_and_allows_document_signing(
    authority: Authority, jane: Credential
) -> None:
    cert = x509.load_pem_x509_certificate(jane.cert_pem)
    ca = x509.load_pem_x509_certificate(authority.cert_pem)
    cert.verify_directly_issued_by(ca)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Jane Doe"
    assert cert.subject.get_attributes_for_oid(NameOID.TITLE)[0].value == "Chair"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == ["jane@example.org"]
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment and not usage.key_cert_sign
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert signing.DOCUMENT_SIGNING in eku and ExtendedKeyUsageOID.EMAIL_PROTECTION in eku
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert cert.not_valid_after_utc <= ca.not_valid_after_utc


def test_long_community_names_are_shortened_to_fit_the_certificate() -> None:
    authority = create_authority("A" * 100)
    cert = x509.load_pem_x509_certificate(authority.cert_pem)
    name = str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)
    assert len(name.encode()) <= 64 and name.endswith("…")


def test_two_members_sign_one_after_another(signed_twice: bytes, authority: Authority) -> None:
    verdict = verify_pdf(signed_twice, [authority.cert_pem])
    assert verdict.ok, verdict.problems
    assert verdict.problems == ()
    assert [s.signer for s in verdict.signatures] == ["Jane Doe", "Luis Fernández"]
    assert [s.field for s in verdict.signatures] == ["board-1", "board-2"]
    assert all(s.intact and s.trusted for s in verdict.signatures)
    assert [s.covers_whole_file for s in verdict.signatures] == [False, True]
    assert verdict.signatures[0].signed_at == WHEN


def test_a_flipped_byte_in_the_signed_range_is_caught(
    signed_twice: bytes, authority: Authority
) -> None:
    at = signed_twice.index(b"(Board minutes)") + 7
    tampered = signed_twice[:at] + b"n" + signed_twice[at + 1 :]
    verdict = verify_pdf(tampered, [authority.cert_pem])
    assert not verdict.ok
    assert not any(s.intact for s in verdict.signatures)
    assert (
        "Signature 'board-2' by Luis Fernández: the document was changed after it was signed."
        in verdict.problems
    )


def test_an_update_after_the_last_signature_is_caught(
    signed_twice: bytes, authority: Authority
) -> None:
    writer = IncrementalPdfFileWriter(BytesIO(signed_twice))
    writer.root["/Lang"] = generic.TextStringObject("fr")
    writer.update_root()
    out = BytesIO()
    writer.write(out)
    verdict = verify_pdf(out.getvalue(), [authority.cert_pem])
    assert not verdict.ok
    assert all(s.intact and s.trusted for s in verdict.signatures)
    assert not verdict.signatures[-1].covers_whole_file
    assert verdict.problems == (
        # The earlier signature is told too: the update is more than another signature.
        "Signature 'board-1' by Jane Doe: the document was changed after it was signed, "
        "beyond adding further signatures.",
        "Signature 'board-2' by Luis Fernández: bytes were added after the last signature.",
    )


def test_appended_junk_is_caught(signed_twice: bytes, authority: Authority) -> None:
    verdict = verify_pdf(signed_twice + b"\n% appended\n", [authority.cert_pem])
    assert not verdict.ok
    assert any("added after the last signature" in p for p in verdict.problems)


def test_a_credential_from_another_authority_is_not_trusted(
    unsigned: bytes, authority: Authority
) -> None:
    other = create_authority("Someone Else")
    mallory = issue_credential(other, name="Mallory", email="m@example.org", role="Chair")
    pdf = sign_pdf(
        unsigned,
        mallory,
        other.cert_pem,
        field_name="board-1",
        signer_name="Mallory",
        role="Chair",
        reason="Approved",
    )
    verdict = verify_pdf(pdf, [authority.cert_pem])
    assert not verdict.ok
    assert verdict.signatures[0].intact and not verdict.signatures[0].trusted
    assert verdict.problems == (
        "Signature 'board-1' by Mallory: Mallory's certificate was not issued by a trusted "
        "signing authority.",
    )
    assert verify_pdf(pdf, [other.cert_pem]).ok
    assert not verify_pdf(pdf, []).ok


def test_signing_with_the_wrong_authority_cert_is_refused(
    unsigned: bytes, jane: Credential
) -> None:
    other = create_authority("Someone Else")
    with pytest.raises(ValueError, match="not issued by the given authority"):
        sign_pdf(
            unsigned,
            jane,
            other.cert_pem,
            field_name="board-1",
            signer_name="Jane Doe",
            role="Chair",
            reason="Approved",
            passphrase=PASS,
        )


def test_a_field_cannot_be_signed_twice(
    signed_twice: bytes, authority: Authority, jane: Credential
) -> None:
    with pytest.raises(ValueError, match="already has a signature field named 'board-1'"):
        _sign(signed_twice, jane, authority, 1, "Jane Doe")


def test_encrypted_keys_need_their_passphrase(
    unsigned: bytes, authority: Authority, jane: Credential
) -> None:
    assert jane.key_pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    for wrong in (None, b"not it"):
        with pytest.raises(ValueError, match="passphrase is missing or wrong"):
            sign_pdf(
                unsigned,
                jane,
                authority.cert_pem,
                field_name="board-1",
                signer_name="Jane",
                role="Chair",
                reason="Approved",
                passphrase=wrong,
            )
        with pytest.raises(ValueError, match="passphrase is missing or wrong"):
            issue_credential(authority, name="X", email="x@example.org", role="Y", passphrase=wrong)


def test_plain_keys_work_without_a_passphrase(unsigned: bytes) -> None:
    authority = create_authority("Plain Co-op")
    member = issue_credential(authority, name="Ana", email="ana@example.org", role="Chair")
    assert member.key_pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    pdf = sign_pdf(
        unsigned,
        member,
        authority.cert_pem,
        field_name="board-1",
        signer_name="Ana",
        role="Chair",
        reason="Approved",
    )
    assert verify_pdf(pdf, [authority.cert_pem]).ok


def test_not_a_pdf_raises() -> None:
    with pytest.raises(NotAPdf):
        verify_pdf(b"hello, I am a text file", [])
    with pytest.raises(NotAPdf):
        verify_pdf(b"%PDF-1.7\nthis is not really a PDF\n%%EOF", [])


def test_an_unsigned_pdf_is_not_ok(unsigned: bytes, authority: Authority) -> None:
    verdict = verify_pdf(unsigned, [authority.cert_pem])
    assert verdict == verification.Verdict(
        ok=False, signatures=(), problems=("The document carries no signatures.",)
    )


def test_a_garbled_signature_is_reported_not_raised(
    signed_twice: bytes, authority: Authority
) -> None:
    start = signed_twice.rindex(b"/Contents <") + len(b"/Contents <") + 10
    garbled = signed_twice[:start] + b"0000000000" + signed_twice[start + 10 :]
    verdict = verify_pdf(garbled, [authority.cert_pem])
    assert not verdict.ok
    assert any("board-2" in p for p in verdict.problems)


def test_stamps_fill_the_zone_without_overlapping() -> None:
    boxes = [stamp_box(i) for i in range(9)]
    assert stamp_box(9) is None
    placed = [b for b in boxes if b is not None]
    assert len(placed) == 9
    for x1, y1, x2, y2 in placed:
        assert signing.STAMP_MARGIN_X - 1 <= x1 < x2 <= signing.A4[0] - signing.STAMP_MARGIN_X + 1
        assert signing.STAMP_ZONE_BOTTOM - 1 <= y1 < y2 <= signing.STAMP_ZONE_TOP + 1
    for i, a in enumerate(placed):
        for b in placed[i + 1 :]:
            apart = a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
            assert apart, (a, b)
    letter = stamp_box(2, (612.0, 792.0))
    assert letter is not None and letter[2] <= 612 - signing.STAMP_MARGIN_X + 1


def test_stamp_text_falls_back_to_latin_letters() -> None:
    assert signing._stamp_text("Łucja  Żółć") == "Lucja Zólc"
    assert signing._stamp_text("Li Wei 李伟") == "Li Wei"
    assert signing._stamp_text("李伟") == "?"
    assert signing._stamp_text("José Müller") == "José Müller"


def test_stamp_text_is_sized_by_its_widest_line() -> None:
    # pyHanko sizes text as characters x average width; capitals must not overflow the box.
    assert signing._stamp_style(["WWWW", "ii"]).text_box_style.font.avg_width == 0.944
    narrow = signing._stamp_style(["Digitally signed", "Ana"]).text_box_style.font.avg_width
    assert 0.4 < narrow < 0.55


# -- changes after the last signature: every kind is refused ---------------------------


def _revise(pdf: bytes, change) -> bytes:
    """Apply ``change`` to an incremental writer over ``pdf``: a new revision, as any PDF
    editor would append it."""
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    change(writer)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def _add_annotation(writer: IncrementalPdfFileWriter) -> None:
    page_ref = writer.find_page_for_modification(0)[1]
    note = generic.DictionaryObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/Annot"),
            generic.NameObject("/Subtype"): generic.NameObject("/Text"),
            generic.NameObject("/Rect"): generic.ArrayObject(
                [generic.FloatObject(v) for v in (100, 100, 120, 120)]
            ),
            generic.NameObject("/Contents"): generic.TextStringObject("Approved: 9,000"),
        }
    )
    writer.register_annotation(page_ref, writer.add_object(note))


def _add_page(writer: IncrementalPdfFileWriter) -> None:
    page = generic.DictionaryObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/Page"),
            generic.NameObject("/MediaBox"): generic.ArrayObject(
                [generic.NumberObject(v) for v in (0, 0, 595, 842)]
            ),
            generic.NameObject("/Resources"): generic.DictionaryObject(),
        }
    )
    writer.insert_page(page)


def _edit_metadata(writer: IncrementalPdfFileWriter) -> None:
    writer.set_info(
        generic.DictionaryObject(
            {generic.NameObject("/Title"): generic.TextStringObject("Minutes (amended)")}
        )
    )


@pytest.mark.parametrize(
    "change", [_add_annotation, _add_page, _edit_metadata], ids=["annotation", "page", "metadata"]
)
def test_a_revision_after_the_last_signature_is_refused(
    signed_twice: bytes, authority: Authority, change
) -> None:
    assert verify_pdf(signed_twice, [authority.cert_pem]).ok
    revised = _revise(signed_twice, change)
    assert revised.startswith(signed_twice)  # the signed bytes are untouched...
    verdict = verify_pdf(revised, [authority.cert_pem])
    assert not verdict.ok  # ...but the last signature no longer covers the file
    assert all(s.intact and s.trusted for s in verdict.signatures)
    assert not verdict.signatures[-1].covers_whole_file
    assert (
        "Signature 'board-2' by Luis Fernández: bytes were added after the last signature."
        in verdict.problems
    )


def test_a_field_placed_in_advance_is_filled_where_it_is(
    unsigned: bytes, authority: Authority, jane: Credential, luis: Credential
) -> None:
    """The lead's field sits in their block; board stamps still fill the zone from its
    first place, whatever the order of signing."""
    placed = signing.place_signature_field(unsigned, "lead", 0, (60, 500, 230, 550))
    assert signing.has_empty_field(placed, "lead")
    board = _sign(placed, jane, authority, 1, "Jane Doe")
    lead = sign_pdf(
        board,
        luis,
        authority.cert_pem,
        field_name="lead",
        signer_name="Luis Fernández",
        role="Project lead",
        reason="Terms accepted",
        passphrase=PASS,
        stamp_heading="Terms accepted",
    )
    assert not signing.has_empty_field(lead, "lead")
    both = _sign(lead, luis, authority, 2, "Luis Fernández")
    verdict = verify_pdf(both, [authority.cert_pem])
    assert verdict.ok, verdict.problems
    assert [s.field for s in verdict.signatures] == ["board-1", "lead", "board-2"]
    rects = {}
    reader = PdfFileReader(BytesIO(both))
    for name, _, ref in fields.enumerate_sig_fields(reader):
        rects[name] = [round(float(v)) for v in ref.get_object()["/Rect"]]
    assert rects["lead"] == [60, 500, 230, 550]
    assert rects["board-1"] == list(stamp_box(0)) and rects["board-2"] == list(stamp_box(1))
    with pytest.raises(ValueError, match="already has a signature field named 'lead'"):
        sign_pdf(
            both,
            luis,
            authority.cert_pem,
            field_name="lead",
            signer_name="Luis",
            role="Project lead",
            reason="again",
            passphrase=PASS,
        )
