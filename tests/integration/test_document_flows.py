"""Signing as the board and the project lead do it, through the pages: quorum per document,
one signature per person and version, corrections as new versions, own PKCS#12 keys, and
what `verify` says about current and superseded files."""

from __future__ import annotations

import io
import json
import re

from pypdf import PdfReader
from sqlalchemy import select

from commonpot.extensions import db
from commonpot.models import Community, RoundStatus, User
from commonpot.rounds.services import transition
from pooling import signing
from pooling.allocation import run_allocation
from pooling.authority import key_passphrase
from pooling.issuing import generate_documents, sign_round
from pooling.jobs import join_threads
from pooling.models import Document, KeySource, SignerRole
from pooling.pkcs12 import make_pkcs12
from pooling.pledges import confirm_pledge, make_pledge
from surveys.services import submit_response
from tests import factories


def allocated_round(titles=("Garden", "Tutoring", "Safety App")):
    """Garden ($3,000) and Tutoring ($4,000) funded from a $7,000 pot; Garden's lead is
    Resident 1, a member."""
    community, people = factories.community()
    organizer = people["organizer"][0]
    r = factories.open_round(
        community,
        organizer,
        projects=((titles[0], 0, 300_000), (titles[1], 1, 400_000), (titles[2], 2, 500_000)),
    )
    garden, tutoring, _ = r.projects
    lead = people["residents"][0]
    garden.lead_id = lead.id
    ranks = {a.id: i for i, a in enumerate(r.priority_areas, 1)}
    for resident in people["residents"]:
        submit_response(r, resident, rankings=ranks, votes={garden.id, tutoring.id})
    pledger = people["residents"][1]
    confirm_pledge(make_pledge(r, pledger, amount_cents=700_000), pledger)
    transition(r, RoundStatus.CLOSED, actor=organizer)
    run_allocation(r, "greedy", actor=organizer)
    db.session.commit()
    return r, people


def current(r) -> dict[str, Document]:
    docs = db.session.scalars(select(Document).filter_by(round_id=r.id, superseded_at=None))
    return {d.slot: d for d in docs}


def own_key_file(community: Community, user: User, password: str) -> bytes:
    """A PKCS#12 file the community's authority issued to ``user``, as the board would hand it."""
    issued = signing.issue_credential(
        signing.Authority(community.authority_key_pem, community.authority_cert_pem),
        name=user.name,
        email=user.email,
        role="Board member",
        authority_passphrase=key_passphrase(),
    )
    return make_pkcs12(user.name, issued.cert_pem, issued.key_pem, password)


def verify_json(runner, tmp_path, pdf: bytes) -> dict:
    path = tmp_path / "check.pdf"
    path.write_bytes(pdf)
    result = runner.invoke(args=["verify", str(path), "--json"])
    return json.loads(result.output.splitlines()[0]) | {"exit": result.exit_code}


def test_quorum_versions_and_the_leads_acceptance(app, make_client, runner, tmp_path):
    r, people = allocated_round()
    base = f"/c/eastside/rounds/{r.id}"
    organizer, b1, b2, lead, other = (make_client() for _ in range(5))
    organizer.login("organizer@eastside.test")
    b1.login("board1@eastside.test")
    b2.login("board2@eastside.test")
    lead.login("r1@eastside.test")
    other.login("r2@eastside.test")

    # Generating is a job; its row says when it is done.
    assert organizer.post(f"{base}/documents/generate").status_code == 302
    join_threads(app)
    docs = current(r)
    garden_slot = f"term_sheet:{r.projects[0].id}"
    assert set(docs) == {"report", garden_slot, f"term_sheet:{r.projects[1].id}"}
    report, garden = docs["report"], docs[garden_slot]
    assert garden.lead_id == people["residents"][0].id
    assert docs[f"term_sheet:{r.projects[1].id}"].lead_id is None  # no lead member named

    # Board member 1 signs the report alone; never the same version twice.
    assert b1.post(f"{base}/documents/{report.id}/sign").status_code == 302
    again = b1.post(f"{base}/documents/{report.id}/sign")
    assert again.status_code == 422 and "already signed this version" in again.get_data(True)
    # Residents do not sign as the board; a board member cannot use a colleague's key.
    assert lead.post(f"{base}/documents/{garden.id}/sign").status_code == 403
    community = r.community
    colleague = own_key_file(community, people["board"][1], "pw")
    refused = b1.post(
        f"{base}/documents/{garden.id}/sign",
        {"p12": (io.BytesIO(colleague), "b2.p12"), "password": "pw"},
    )
    assert refused.status_code == 422
    assert "not to your account (board1@eastside.test)" in refused.get_data(True)
    wrong = b1.post(
        f"{base}/documents/{garden.id}/sign",
        {"p12": (io.BytesIO(colleague), "b2.p12"), "password": "nope"},
    )
    assert "password is wrong" in wrong.get_data(True)
    mine = own_key_file(community, people["board"][0], "pw")
    signed = b1.post(
        f"{base}/documents/{garden.id}/sign",
        {"p12": (io.BytesIO(mine), "me.p12"), "password": "pw"},
    )
    assert signed.status_code == 302
    assert [s.key_source for s in current(r)[garden_slot].signatures] == [KeySource.OWN]

    # Signed documents are locked: no regeneration, a correction is a new version.
    organizer.post(f"{base}/documents/generate")
    page = organizer.get(f"{base}/documents").get_data(True)
    assert "Signing has started" in page
    empty = organizer.post(f"{base}/documents/{report.id}/versions", {"reason": " "})
    assert empty.status_code == 422 and "Say what the new version corrects." in empty.get_data(True)
    fixed = organizer.post(
        f"{base}/documents/{report.id}/versions", {"reason": "Board list was out of date"}
    )
    assert fixed.status_code == 302
    join_threads(app)
    db.session.expire_all()
    report_v1 = db.session.get(Document, report.id)
    report_v2 = current(r)["report"]
    assert report_v1.superseded_at is not None and [s.user.name for s in report_v1.signatures] == [
        "Board Member 1"
    ]
    assert (report_v2.version, report_v2.reason) == (2, "Board list was out of date")
    assert report_v2.filename.endswith("-allocation-report-v2.pdf") and not report_v2.signatures
    page = b2.get(f"{base}/documents").get_data(True)
    assert "Corrects version 1: Board list was out of date" in page
    assert "superseded" in page and page.count("Board Member 1") >= 2
    stale = b2.post(f"{base}/documents/{report_v1.id}/sign")
    assert stale.status_code == 422 and "superseded" in stale.get_data(True)
    old_file = b2.get(f"{base}/documents/{report_v1.id}/{report_v1.filename}")
    assert old_file.status_code == 200 and old_file.data == report_v1.pdf

    # The lead accepts their own term sheet, once; nobody else can.
    assert other.post(f"{base}/documents/{garden.id}/accept").status_code == 403
    assert "Accept the terms and sign" in lead.get(f"{base}/documents").get_data(True)
    assert lead.get(f"{base}/documents/{report_v2.id}/{report_v2.filename}").status_code == 403
    assert lead.post(f"{base}/documents/{garden.id}/accept").status_code == 302
    twice = lead.post(f"{base}/documents/{garden.id}/accept")
    assert twice.status_code == 422 and "already been accepted" in twice.get_data(True)

    # Quorum counts board signatures on current versions only, the lead's not at all.
    assert b1.post(f"{base}/documents/sign").status_code == 302  # report v2 and Tutoring
    db.session.expire_all()
    assert r.status == RoundStatus.ALLOCATED
    sheet = current(r)[garden_slot]
    assert [s.role for s in sheet.signatures] == [SignerRole.BOARD, SignerRole.LEAD]
    before_board_2 = sheet.pdf
    assert b2.post(f"{base}/documents/sign").status_code == 302
    db.session.expire_all()
    assert r.status == RoundStatus.APPROVED
    assert all(len(d.board_signatures()) == 2 for d in current(r).values())
    assert len(report_v1.board_signatures()) == 1  # superseded: left as it was

    # verify: the current and the superseded version pass, and say which they are.
    now = verify_json(runner, tmp_path, current(r)[garden_slot].pdf)
    assert now["ok"] and now["exit"] == 0 and now["document"]["state"] == "current"
    assert [(s["name"], s["role"]) for s in now["signers"]] == [
        ("Board Member 1", "board"),
        ("Resident 1", "lead"),
        ("Board Member 2", "board"),
    ]
    old = verify_json(runner, tmp_path, report_v1.pdf)
    assert old["ok"] and old["document"]["state"] == "superseded"
    assert old["document"]["version"] == 1
    halfway = verify_json(runner, tmp_path, before_board_2)  # downloaded before board 2 signed
    assert halfway["ok"] and halfway["document"]["signatures_in_file"] == 2
    assert halfway["document"]["signatures_now"] == 3
    text = runner.invoke(args=["verify", str(tmp_path / "check.pdf")]).output
    assert "valid" in text and "Resident 1 (project lead)" in text
    # The public page says the same to anyone, with times in the community's zone.
    r.community.timezone = "America/Chicago"
    db.session.commit()
    public = make_client()
    shown = public.post("/verify", {"pdf": (io.BytesIO(report_v1.pdf), "report.pdf")})
    page = " ".join(shown.get_data(True).split())
    assert shown.status_code == 200 and "✔ Valid" in page and "version 1" in page
    assert "This version was superseded on" in page and "board member" in page
    assert re.search(r"board member — \d+ \w+ \d{4}, \d\d:\d\d C[SD]T", page), page
    tampered = public.post("/verify", {"pdf": (io.BytesIO(report_v1.pdf + b"%x\n"), "r.pdf")})
    assert "✘ Not valid" in tampered.get_data(True)


def test_titles_with_markup_come_out_as_text(app):
    """A project's title is the organizer's text: it is escaped, never rendered as HTML."""
    title = '<script>alert("x")</script> & <b>Bold</b>'
    r, people = allocated_round(titles=(title, "Tutoring", "Safety App"))
    docs = generate_documents(r, actor=people["organizer"][0])
    for document in docs[:2]:  # the report and the garden's term sheet
        text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(document.pdf)).pages)
        assert '<script>alert("x")</script> & <b>Bold</b>' in " ".join(text.split())
    db.session.rollback()


def test_verify_refuses_any_change_after_the_last_signature(app, runner, tmp_path):
    from tests.unit.test_signing import _add_annotation, _edit_metadata, _revise

    r, people = allocated_round()
    generate_documents(r, actor=people["organizer"][0])
    for member in people["board"][:2]:
        sign_round(r, member)
    db.session.commit()
    signed = current(r)["report"].pdf
    good = verify_json(runner, tmp_path, signed)
    assert good["ok"] and good["exit"] == 0 and len(good["signers"]) == 2

    flipped = bytearray(signed)
    flipped[len(signed) // 3] ^= 0x01  # inside what both signatures cover
    changed = {
        "byte": bytes(flipped),
        "annotation": _revise(signed, _add_annotation),
        "metadata": _revise(signed, _edit_metadata),
    }
    for what, pdf in changed.items():
        verdict = verify_json(runner, tmp_path, pdf)
        assert not verdict["ok"] and verdict["exit"] == 1, what
        assert verdict["document"] is None, what  # and these bytes were never issued
        expected = "changed after it was signed" if what == "byte" else "added after the last"
        assert any(expected in p for p in verdict["problems"]), (what, verdict["problems"])


def test_a_board_brings_its_own_authority(app, make_client, runner, tmp_path):
    # At set-up, on the command line: the board's CA (with its key) replaces a generated one.
    board_ca = signing.create_authority("Northside Board CA")
    key_file = tmp_path / "ca.p12"
    key_file.write_bytes(make_pkcs12("CA", board_ca.cert_pem, board_ca.key_pem, "pw"))
    args = ["community", "create", "--name", "Northside", "--slug", "northside"]
    args += ["--organizer-email", "ada@north.test", "--organizer-name", "Ada"]
    refused = runner.invoke(args=[*args, "--authority-p12", str(key_file)], input="wrong\n")
    assert refused.exit_code == 1 and "password is wrong" in refused.output
    assert db.session.scalar(select(Community).filter_by(slug="northside")) is None
    made = runner.invoke(
        args=[*args, "--authority-p12", str(key_file), "--authority-p12-password", "pw"]
    )
    assert made.exit_code == 0, made.output
    north = db.session.scalar(select(Community).filter_by(slug="northside"))
    assert north.authority_cert_pem == board_ca.cert_pem and north.authority_key_pem
    from pooling.authority import trusted_roots
    from pooling.models import AuthoritySource, SigningAuthority

    rows = db.session.scalars(select(SigningAuthority).filter_by(community_id=north.id)).all()
    assert [(a.source, a.retired_at) for a in rows] == [(AuthoritySource.BROUGHT, None)]
    assert board_ca.cert_pem in trusted_roots()

    # On the organizers' page: a certificate alone; members then sign with their own files.
    r, people = allocated_round()
    organizer, b1 = make_client(), make_client()
    organizer.login("organizer@eastside.test")
    b1.login("board1@eastside.test")
    generated = r.community.authority_cert_pem
    other_ca = signing.create_authority("Eastside Board CA")
    cert_only = make_pkcs12("CA", other_ca.cert_pem, None, "")
    bad = organizer.post("/c/eastside/authority", {"p12": (io.BytesIO(b"nonsense"), "x.p12")})
    assert bad.status_code == 422 and "not a PKCS#12 file" in bad.get_data(True)
    assert (
        organizer.post(
            "/c/eastside/authority", {"p12": (io.BytesIO(cert_only), "ca.p12"), "password": ""}
        ).status_code
        == 302
    )
    page = organizer.get("/c/eastside/authority").get_data(True)
    assert "Eastside Board CA" in page and "brought by the board" in page
    assert "its key stays with the board" in page
    db.session.expire_all()
    assert r.community.authority_key_pem is None
    generate_documents(r, actor=people["organizer"][0])
    db.session.commit()
    report = current(r)["report"]
    base = f"/c/eastside/rounds/{r.id}/documents/{report.id}/sign"
    without = b1.post(base)
    assert without.status_code == 422 and "sign with the PKCS#12 file" in without.get_data(True)
    member = people["board"][0]
    issued = signing.issue_credential(
        other_ca, name=member.name, email=member.email, role="Board member"
    )
    own = make_pkcs12(member.name, issued.cert_pem, issued.key_pem, "pw")
    assert b1.post(base, {"p12": (io.BytesIO(own), "me.p12"), "password": "pw"}).status_code == 302
    checked = verify_json(runner, tmp_path, current(r)["report"].pdf)
    assert checked["ok"] and checked["signers"][0]["trusted"], checked
    # Nothing was signed or certified under the generated authority: it is not kept.
    assert other_ca.cert_pem in trusted_roots() and generated not in trusted_roots()
    # Replaced after signatures were made under it, an authority stays trusted.
    third = signing.create_authority("Eastside Board CA 2")
    replace = make_pkcs12("CA", third.cert_pem, third.key_pem, "pw")
    upload = {"p12": (io.BytesIO(replace), "ca2.p12"), "password": "pw"}
    assert organizer.post("/c/eastside/authority", upload).status_code == 302
    assert "Earlier authorities (still trusted)" in organizer.get("/c/eastside/authority").get_data(
        True
    )
    assert verify_json(runner, tmp_path, current(r)["report"].pdf)["ok"]


def test_a_lead_named_after_the_close_accepts_a_new_version(app, make_client):
    r, people = allocated_round()
    tutoring = r.projects[1]
    base = f"/c/eastside/rounds/{r.id}"
    organizer, lead = make_client(), make_client()
    organizer.login("organizer@eastside.test")
    lead.login("r3@eastside.test")
    generate_documents(r, actor=people["organizer"][0])
    db.session.commit()
    sheet = current(r)[f"term_sheet:{tutoring.id}"]
    assert sheet.lead_id is None
    assert lead.post(f"{base}/documents/{sheet.id}/accept").status_code == 403

    edit = f"{base}/projects/{tutoring.id}/edit"
    form = {
        "title": "Tutoring",
        "description": "",
        "priority_area_id": tutoring.priority_area_id,
        "cost": "4000",
        "lead_name": "",
        "lead_id": people["residents"][2].id,
    }
    assert "Project lead (a member" in organizer.get(edit).get_data(True)
    dearer = organizer.post(edit, form | {"cost": "4500"})
    assert dearer.status_code == 422
    assert "only the project&#39;s lead can be changed" in dearer.get_data(True)
    stranger = organizer.post(edit, form | {"lead_id": 99999})
    assert stranger.status_code == 422
    assert organizer.post(edit, form).status_code == 302
    db.session.expire_all()
    assert tutoring.lead_id == people["residents"][2].id and tutoring.lead_display == "Resident 3"

    fixed = organizer.post(f"{base}/documents/{sheet.id}/versions", {"reason": "Lead named"})
    assert fixed.status_code == 302
    join_threads(app)
    newer = current(r)[f"term_sheet:{tutoring.id}"]
    assert newer.version == 2 and newer.lead_id == people["residents"][2].id
    text = " ".join(PdfReader(io.BytesIO(newer.pdf)).pages[-1].extract_text().split())
    assert "represented by its lead" not in text and "Resident 3" in text
    assert lead.post(f"{base}/documents/{newer.id}/accept").status_code == 302
    db.session.expire_all()
    accepted = current(r)[f"term_sheet:{tutoring.id}"].lead_signature()
    assert accepted is not None and accepted.user.name == "Resident 3"


def test_a_board_member_who_leads_a_project_does_not_sign_its_term_sheet(app, make_client):
    """Recusal: the lead's colleagues approve the term sheet; the lead signs the rest and
    accepts their own terms as the lead."""
    r, people = allocated_round()
    board1 = people["board"][0]
    r.projects[0].lead_id = board1.id  # Garden is led by a board member
    db.session.commit()
    base = f"/c/eastside/rounds/{r.id}"
    organizer, b1, b2, b3 = (make_client() for _ in range(4))
    organizer.login("organizer@eastside.test")
    for number, client in enumerate((b1, b2, b3), 1):
        client.login(f"board{number}@eastside.test")
    organizer.post(f"{base}/documents/generate")
    join_threads(app)
    docs = current(r)
    garden = docs[f"term_sheet:{r.projects[0].id}"]
    assert garden.lead_id == board1.id

    page = b1.get(f"{base}/documents").get_data(True)
    assert "you do not sign its term sheet for the board" in page
    assert "Sign all 2 documents" in page  # the report and Tutoring's sheet, not Garden's
    assert "Not to the term sheet of a project you lead" in page
    refused = b1.post(f"{base}/documents/{garden.id}/sign")
    assert refused.status_code == 422
    assert "You lead this project" in refused.get_data(True)
    db.session.expire_all()
    assert current(r)[garden.slot].signatures == []  # nothing was signed
    assert b1.post(f"{base}/documents/sign").status_code == 302
    db.session.expire_all()
    signed = {slot: [s.user_id for s in d.board_signatures()] for slot, d in current(r).items()}
    assert signed.pop(garden.slot) == []
    assert list(signed.values()) == [[board1.id], [board1.id]]
    again = b1.post(f"{base}/documents/sign")
    assert "every document of this round that you may sign" in again.get_data(True)

    # As the lead, board member 1 accepts the terms; that is not a board signature.
    assert b1.post(f"{base}/documents/{garden.id}/accept").status_code == 302
    assert b2.post(f"{base}/documents/sign").status_code == 302  # quorum on all but Garden
    db.session.expire_all()
    assert r.status == RoundStatus.ALLOCATED  # Garden's sheet has one board signature
    assert b3.post(f"{base}/documents/{garden.id}/sign").status_code == 302
    db.session.expire_all()
    assert r.status == RoundStatus.APPROVED
    sheet = current(r)[garden.slot]
    assert sorted(s.user_id for s in sheet.board_signatures()) == sorted(
        u.id for u in people["board"][1:]
    )
    assert sheet.lead_signature().user_id == board1.id


def test_a_board_too_small_for_a_recusal_is_told(app, make_client):
    """Two board members, a quorum of two, one of them leads Garden: its term sheet can
    never be approved, and the page says why and what to do."""
    r, people = allocated_round()
    third = people["board"][2]
    membership = [m for m in third.memberships if m.role.value == "board"][0]
    db.session.delete(membership)
    r.projects[0].lead_id = people["board"][0].id
    db.session.commit()
    base = f"/c/eastside/rounds/{r.id}"
    organizer = make_client()
    organizer.login("organizer@eastside.test")
    organizer.post(f"{base}/documents/generate")
    join_threads(app)
    page = organizer.get(f"{base}/documents").get_data(True)
    assert "This term sheet cannot reach quorum" in page
    assert "Board Member 1 leads the project" in page
    assert page.count("cannot reach quorum") == 1  # the report and Tutoring's sheet can
