"""Hostile values where they matter most: markup in project titles (escaped in pages, kept
literally in the PDFs), amounts of any size and sign, malformed Pabulib and roll files.
Whatever comes in, the answer is a page (never a 500), and a refusal saves nothing."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import escape
from pypdf import PdfReader
from sqlalchemy import select

from commonpot.extensions import db
from commonpot.models import RoundStatus
from commonpot.rounds.services import create_round, transition
from pooling.allocation import run_allocation
from pooling.grants import add_grant
from pooling.issuing import generate_documents
from pooling.models import Document, Pledge
from pooling.pledge_forms import MAX_PLEDGE_CENTS
from surveys.services import submit_response
from tests import factories
from tests.hostile import HOSTILE, hostile_text, snapshot

MARKUP = "<script>alert('x')</script> & <b>Bold</b> \"quoted\""
PABULIB = b"""META
key;value
description;Riverside
budget;10000
vote_type;approval
PROJECTS
project_id;cost;name;category
1;4000;Bike racks;transport
2;5000;Trees;environment
VOTES
voter_id;vote
v1;1,2
v2;2
"""
ROLL = b"name,block,member_number,birth_year\nAna Alves,B1,101,1980\nBo Berg,B2,102,1991\n"


@pytest.fixture
def eastside(app):
    community, people = factories.community()
    organizer = people["organizer"][0]
    r = factories.open_round(community, organizer)
    draft = create_round(
        community,
        title="Draft round",
        description="",
        opens_at=None,
        closes_at=None,
        max_approvals=None,
        actor=organizer,
        priority_areas=["Streets", "Parks"],
    )
    db.session.commit()
    return {"round": r, "draft": draft, "organizer": organizer, "people": people}


def _organizer(make_client):
    client = make_client()
    client.login("organizer@eastside.test")
    return client


def test_markup_in_a_title_is_escaped_in_pages_and_literal_in_the_pdfs(app, make_client, eastside):
    r, organizer = eastside["draft"], eastside["organizer"]
    client = _organizer(make_client)
    added = client.post(
        f"/c/eastside/rounds/{r.id}/projects",
        {"title": MARKUP, "cost": "1,000", "priority_area_id": r.priority_areas[0].id},
    )
    assert added.status_code == 302
    other = {"title": "Plain", "cost": "50,000", "priority_area_id": r.priority_areas[1].id}
    assert client.post(f"/c/eastside/rounds/{r.id}/projects", other).status_code == 302
    assert client.post(f"/c/eastside/rounds/{r.id}/open").status_code == 302
    assert r.status == RoundStatus.OPEN
    resident = make_client()
    resident.login("r1@eastside.test")
    for who, page in (
        (client, f"/c/eastside/rounds/{r.id}"),
        (resident, f"/c/eastside/rounds/{r.id}"),
        (resident, f"/c/eastside/rounds/{r.id}/survey"),
        (resident, f"/c/eastside/rounds/{r.id}/pledge"),
    ):
        body = who.get(page).get_data(as_text=True)
        assert "<script>alert(" not in body and "<b>Bold</b>" not in body, page
        assert str(escape(MARKUP)) in body, page

    project = next(p for p in r.projects if p.title == MARKUP)
    add_grant(
        r,
        name="<i>Grant</i>",
        funder="",
        amount_cents=100_000,
        priority_area_id=None,
        cap_per_project_cents=None,
        actor=organizer,
    )
    ranks = {a.id: i for i, a in enumerate(r.priority_areas, 1)}
    submit_response(r, eastside["people"]["residents"][0], rankings=ranks, votes={project.id})
    transition(r, RoundStatus.CLOSED, actor=organizer)
    run_allocation(r, "greedy", actor=organizer)
    generate_documents(r, actor=organizer)
    db.session.commit()
    docs = db.session.scalars(select(Document).where(Document.round_id == r.id)).all()
    sheet = next(d for d in docs if "term-sheet" in d.filename)
    for document in (sheet, next(d for d in docs if "report" in d.filename)):
        text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(document.pdf)).pages)
        flat = " ".join(text.split())
        assert "<script>alert('x')</script>" in flat, document.filename
        assert "<b>Bold</b>" in flat and "&lt;" not in flat, document.filename
    assert "<i>Grant</i>" in " ".join(
        p.extract_text() for p in PdfReader(io.BytesIO(sheet.pdf)).pages
    )


TITLE = st.text(
    alphabet=st.sampled_from(list("<>&\"'/=;ab cé中🙂")) | st.characters(codec="utf-8"),
    min_size=1,
    max_size=80,
)


@HOSTILE
@given(title=TITLE)
def test_any_title_is_refused_cleanly_or_shown_escaped(app, make_client, eastside, title):
    r = eastside["draft"]
    client = _organizer(make_client)
    before = snapshot()
    response = client.post(
        f"/c/eastside/rounds/{r.id}/projects",
        {"title": title, "cost": "10", "priority_area_id": r.priority_areas[1].id},
    )
    assert response.status_code in ((400,) if "\x00" in title else (302, 422))
    if response.status_code != 302:
        assert snapshot() == before
        return
    body = client.get(f"/c/eastside/rounds/{r.id}").get_data(as_text=True)
    assert str(escape(title.strip())) in body
    if "<" in title:
        assert title.strip() not in body


AMOUNT = st.one_of(
    st.integers(-(10**20), 10**20).map(
        lambda c: f"{'-' if c < 0 else ''}{abs(c) // 100}.{abs(c) % 100:02d}"
    ),
    st.integers(-(10**12), 10**12).map(str),
    hostile_text(),
)


@HOSTILE
@given(amount=AMOUNT)
def test_any_amount_is_pledged_exactly_or_refused_next_to_the_field(
    app, make_client, eastside, amount
):
    from commonpot.money import parse_cents

    r = eastside["round"]
    resident = make_client()
    resident.login("r2@eastside.test")
    before = snapshot()
    response = resident.post(
        f"/c/eastside/rounds/{r.id}/pledge",
        {"instrument": "donation", "amount": amount, "target": "pot", "condition": "keep_it_all"},
    )
    try:
        cents = parse_cents(amount)
    except ValueError:
        cents = None
    if cents is not None and 100 <= cents <= min(MAX_PLEDGE_CENTS, 10_000_000):
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        pledge = db.session.scalars(select(Pledge).where(Pledge.round_id == r.id)).one()
        assert pledge.amount_cents == cents
        return
    if "\x00" in amount:  # refused before any form reads it
        assert response.status_code == 400
    else:
        assert response.status_code == 422
        assert 'id="amount-err"' in response.get_data(as_text=True)
    assert snapshot() == before


def _mutations(base: bytes):
    lines = base.split(b"\n")
    line = st.integers(0, len(lines) - 1)
    junk = hostile_text().map(lambda t: t.encode("utf-8"))

    def replace(i_text):
        i, text = i_text
        return b"\n".join(lines[:i] + [text] + lines[i + 1 :])

    return st.one_of(
        st.tuples(line, junk).map(replace),
        line.map(lambda i: b"\n".join(lines[:i] + lines[i + 1 :])),
        line.map(lambda i: b"\n".join(lines[: i + 1] + lines[i:])),
        st.integers(0, len(base)).map(lambda n: base[:n]),
        st.just(base.replace(b";", b",")),
        st.binary(max_size=200).map(lambda b: base + b),
    )


def _upload(client, url: str, field: str, content: bytes, name: str):
    return client.post(url, {field: (io.BytesIO(content), name)})


@HOSTILE
@given(content=_mutations(PABULIB))
def test_a_mangled_pabulib_file_is_imported_or_refused_with_nothing_saved(
    app, make_client, eastside, content
):
    client = _organizer(make_client)
    before = snapshot()
    response = _upload(client, "/c/eastside/rounds/import", "file", content, "mangled.pb")
    assert response.status_code in (302, 422)
    if response.status_code == 422:
        body = response.get_data(as_text=True)
        assert "Nothing was imported" in body and "mangled.pb: " in body
        assert snapshot() == before


@HOSTILE
@given(content=_mutations(ROLL))
def test_a_mangled_roll_is_imported_or_refused_with_nothing_saved(
    app, make_client, eastside, content
):
    client = _organizer(make_client)
    before = snapshot()
    response = _upload(client, "/c/eastside/roll", "file", content, "roll.csv")
    assert response.status_code in (302, 422)
    if response.status_code == 422:
        assert snapshot() == before


def test_nul_characters_and_giant_numbers_are_refused_and_save_nothing(app, make_client, eastside):
    """What fuzzing found: PostgreSQL refuses NUL in text, and WTForms' NumberRange and
    every integer column overflow on numbers past 32 bits; each was a 500."""
    client = _organizer(make_client)
    roll = b"name,block,member_number,birth_year\nA\x00na,B1,1,1980\n"
    pabulib = PABULIB.replace(b"Trees", b"Tr\x00ees")
    new_round = {"title": "Spring", "priority_areas": "Streets\nParks"}
    before = snapshot()
    answers = {
        "roll": _upload(client, "/c/eastside/roll", "file", roll, "roll.csv"),
        "pabulib": _upload(client, "/c/eastside/rounds/import", "file", pabulib, "x.pb"),
        "file name": _upload(client, "/c/eastside/rounds/import", "file", PABULIB, "a\x00.pb"),
        "field": client.post("/c/eastside/rounds/new", {**new_round, "title": "Spr\x00ing"}),
        "query": client.get("/c/eastside/audit?action=round%00"),
        "count": client.post("/c/eastside/rounds/new", {**new_round, "max_approvals": "9" * 30}),
        "age": client.post("/c/eastside/rounds/new", {**new_round, "min_age": str(2**40)}),
    }
    statuses = {name: response.status_code for name, response in answers.items()}
    assert statuses == {
        "roll": 422,
        "pabulib": 422,
        "file name": 400,
        "field": 400,
        "query": 400,
        "count": 422,
        "age": 422,
    }
    assert "Line 2: a NUL character" in answers["roll"].get_data(as_text=True)
    assert "x.pb: line 9: a NUL character" in answers["pabulib"].get_data(as_text=True)
    assert "This number is too large." in answers["count"].get_data(as_text=True)
    assert snapshot() == before
