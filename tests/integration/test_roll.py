"""The member roll: CSV import with a line-by-line report, access codes, claiming, age."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from commonpot.audit_chain import verify_chain
from commonpot.errors import ValidationFailed
from commonpot.extensions import db
from commonpot.models import Role, User
from surveys import eligibility
from surveys.models import RollMember
from tests import factories

ROLL = """name,address,member number,birth year
Amara Diallo,12 Euclid Ave,M-001,1980
José Núñez,14 Euclid Ave,M-002,2012
Grace Liu,Block C,M-003,
"""


def upload(client, text, name="roll.csv"):
    return client.post(
        "/c/eastside/roll",
        {"file": (io.BytesIO(text.encode()), name)},
        content_type="multipart/form-data",
    )


def count_members():
    return db.session.scalar(select(func.count()).select_from(RollMember))


def test_a_roll_with_bad_lines_is_refused_line_by_line(app, client):
    factories.community()
    client.login("organizer@eastside.test", factories.PASSWORD)
    bad = ROLL + "No Number,Block D,,1990\nAmara Again,Block E,M-001,1991\nOld,Block F,M-009,1700\n"
    page = upload(client, bad)
    assert page.status_code == 422
    text = page.get_data(as_text=True)
    assert "Line 5: the member number is empty." in text
    assert "Line 6: member number M-001 is already on line 2." in text
    assert "Line 7: the birth year &#39;1700&#39; is not a year." in text
    assert count_members() == 0
    page = upload(client, "who,what\nx,y\n").get_data(as_text=True)
    assert "Line 1: the header has no name and member number column" in page


def test_import_then_update_keeps_claims(app, client):
    community, people = factories.community()
    client.login("organizer@eastside.test", factories.PASSWORD)
    assert upload(client, ROLL).status_code == 302
    assert count_members() == 3
    amara = db.session.scalar(select(RollMember).filter_by(member_number="M-001"))
    eligibility.claim_by_matching(
        community,
        people["residents"][0],
        member_number="m-001",
        name="AMARA  diallo",
        birth_year=1980,
    )
    db.session.commit()
    assert upload(client, ROLL.replace("12 Euclid Ave", "16 Euclid Ave")).status_code == 302
    db.session.refresh(amara)
    assert amara.block == "16 Euclid Ave" and amara.user_id == people["residents"][0].id
    assert count_members() == 3
    assert verify_chain() == []


def test_access_code_sheet_and_claiming_with_a_new_account(app, make_client):
    factories.community()
    organizer = make_client()
    organizer.login("organizer@eastside.test", factories.PASSWORD)
    upload(organizer, ROLL)
    sheet = organizer.post("/c/eastside/roll/codes").get_data(as_text=True)
    codes = re.findall(r'<p class="code">([A-Z0-9]{5}-[A-Z0-9]{5})</p>', sheet)
    assert len(codes) == 3 and "José Núñez" in sheet
    stored = db.session.scalars(select(RollMember.access_code_hash)).all()
    assert all(h and len(h) == 64 for h in stored)
    assert not any(code.replace("-", "") in sheet.replace(code, "") for code in codes)

    newcomer = make_client()
    r = newcomer.post(
        "/c/eastside/join",
        {
            "code": codes[0].lower(),
            "name": "Amara Diallo",
            "email": "amara@home.test",
            "password": "a good long password",
        },
    )
    assert r.status_code == 302, r.get_data(as_text=True)
    user = db.session.scalar(select(User).filter_by(email="amara@home.test"))
    assert Role.RESIDENT in {m.role for m in user.memberships}
    member = db.session.scalar(select(RollMember).filter_by(user_id=user.id))
    assert member.claimed_at is not None and member.access_code_hash is None
    # Single use: the same code cannot claim again.
    other = make_client()
    again = other.post(
        "/c/eastside/join",
        {
            "code": codes[0],
            "name": "Someone",
            "email": "someone@home.test",
            "password": "another long password",
        },
    )
    assert again.status_code == 422
    assert "not valid, or it was already used" in again.get_data(as_text=True)
    assert db.session.scalar(select(User).filter_by(email="someone@home.test")) is None


def test_claiming_by_matching_the_roll(app, client):
    factories.community()
    organizer_page = type(client)(app)
    organizer_page.login("organizer@eastside.test", factories.PASSWORD)
    upload(organizer_page, ROLL)
    client.login("r1@eastside.test", factories.PASSWORD)
    wrong = client.post(
        "/c/eastside/join",
        {"member_number": "M-001", "member_name": "Amara Diallo", "birth_year": "1981"},
    )
    assert wrong.status_code == 422 and "No unclaimed member matches" in wrong.get_data(
        as_text=True
    )
    right = client.post(
        "/c/eastside/join",
        {"member_number": "M-001", "member_name": "amara diallo", "birth_year": "1980"},
    )
    assert right.status_code == 302
    assert db.session.scalar(select(RollMember.user_id).filter_by(member_number="M-001"))


def test_who_may_answer(app):
    community, people = factories.community()
    organizer = people["organizer"][0]
    r = factories.open_round(community, organizer)
    resident = people["residents"][0]
    assert eligibility.voter_member(r, resident) is None  # no roll: residents answer
    eligibility.import_roll(community, ROLL.encode(), actor=organizer)
    with pytest.raises(ValidationFailed, match="Claim your membership first"):
        eligibility.voter_member(r, resident)
    eligibility.claim_by_matching(
        community, resident, member_number="M-002", name="Jose Nunez", birth_year=2012
    )
    assert eligibility.voter_member(r, resident).member_number == "M-002"
    r.min_age = 16
    with pytest.raises(ValidationFailed, match="aged 16 and over"):
        eligibility.voter_member(r, resident)
    grace = people["residents"][1]
    eligibility.claim_by_matching(
        community, grace, member_number="M-003", name="Grace Liu", birth_year=None
    )
    with pytest.raises(ValidationFailed, match="no birth year"):
        eligibility.voter_member(r, grace)
    outsider = factories.user("outsider@else.test")
    with pytest.raises(ValidationFailed, match="Only members"):
        eligibility.voter_member(r, outsider)
