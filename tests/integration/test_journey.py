"""One whole round through the browser's door (the Flask test client), on each database.

The figures are worked out by hand in the docstring of test_round_end_to_end.
"""

from __future__ import annotations

import io
import re

from pypdf import PdfReader
from sqlalchemy import func, select

from commonpot.extensions import db
from commonpot.models import FundingRound, RoundStatus
from pooling.jobs import join_threads
from pooling.models import Document, Pledge
from surveys.models import Response
from tests import factories

AREAS = "Food security\nEducation\nPlace security"
PROJECTS = [  # title, area position, cost
    ("Eastside Garden", 0, "3,000"),
    ("Grocery Co-op Start-up", 0, "6000.00"),
    ("Tutoring Circle", 1, "4000"),
    ("Safety App", 2, "5000"),
]
APPROVALS = {  # resident index -> approved project titles
    0: ["Eastside Garden", "Tutoring Circle"],
    1: ["Eastside Garden", "Grocery Co-op Start-up"],
    2: ["Grocery Co-op Start-up", "Tutoring Circle", "Safety App"],
    3: ["Tutoring Circle"],
    4: ["Eastside Garden", "Safety App"],
    5: ["Safety App", "Eastside Garden"],
}
PLEDGES = {
    0: ("500", None),
    1: ("500", None),
    2: ("1,000.00", None),
    3: ("200", "Tutoring Circle"),
    4: ("300", None),
}


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def form_options(html: str, name: str) -> dict[str, str]:
    """label -> value of the checkboxes or options named `name` on a page."""
    found = {}
    pattern = rf'name="{name}" type="checkbox" value="(\d+)">.*?<strong>([^<]+)</strong>'
    for value, label in re.findall(pattern, html, flags=re.S):
        found[label] = value
    return found


def test_round_end_to_end(app, make_client, tmp_path):
    """Money: pool 500+500+1000+300 = $2,300; $200 earmarked to Tutoring; Food grant $5,000
    (food security only); City grant $2,000 (any project). Approvals: Garden 4, Tutoring 3,
    Safety 3, Grocery 2.

    Max support: Garden + Tutoring (7). Garden + Grocery needs $9,000 of food-eligible money
    but only $5,000 + $4,300 exists... and gives 6; anything with Safety needs $5,000 of
    non-food money beside another project, and only $4,500 (+$200 for Tutoring) exists.
    Plan, least flexible money first: Garden $3,000 all from the Food grant; Tutoring $200
    earmarked, $2,000 City grant, $1,800 from the pool.
    """
    community, people = factories.community()
    slug = community.slug
    organizer = make_client()
    organizer.login("organizer@eastside.test", factories.PASSWORD)

    # The organizer creates the round, its projects and grants, and opens it.
    r = organizer.post(
        f"/c/{slug}/rounds/new",
        {
            "title": "Spring round",
            "description": "",
            "priority_areas": AREAS,
            "max_approvals": "3",
            "min_age": "16",
        },
    )
    assert r.status_code == 302
    round_id = int(r.headers["Location"].rstrip("/").split("/")[-1])
    funding_round = db.session.get(FundingRound, round_id)
    assert funding_round.min_age == 16  # saved; without a roll it would refuse every account
    funding_round.min_age = None  # this journey has no member roll; test_roll covers ages
    db.session.commit()
    areas = [a.id for a in funding_round.priority_areas]
    for title, area, cost in PROJECTS:
        r = organizer.post(
            f"/c/{slug}/rounds/{round_id}/projects",
            {
                "title": title,
                "priority_area_id": areas[area],
                "cost": cost,
                "description": f"{title} for the neighborhood",
                "lead_name": "Lee",
            },
        )
        assert r.status_code == 302, r.get_data(as_text=True)
    r = organizer.post(
        f"/c/{slug}/rounds/{round_id}/grants",
        {
            "name": "Food Access Grant",
            "funder": "Foundation",
            "amount": "5000",
            "priority_area_id": areas[0],
            "cap": "",
        },
    )
    assert r.status_code == 302
    r = organizer.post(
        f"/c/{slug}/rounds/{round_id}/grants",
        {
            "name": "City Seed Fund",
            "funder": "City",
            "amount": "2000",
            "priority_area_id": 0,
            "cap": "",
        },
    )
    assert r.status_code == 302
    assert organizer.post(f"/c/{slug}/rounds/{round_id}/open").status_code == 302
    db.session.expire_all()
    assert db.session.get(FundingRound, round_id).status == RoundStatus.OPEN

    # Residents answer and pledge, and see their receipts.
    for index, resident in enumerate(people["residents"]):
        browser = make_client()
        browser.login(resident.email, factories.PASSWORD)
        page = browser.get(f"/c/{slug}/rounds/{round_id}/survey").get_data(as_text=True)
        ids = form_options(page, "approvals")
        assert set(ids) == {t for t, *_ in PROJECTS}
        answer = {f"area_{a}": str(rank) for rank, a in enumerate(areas, 1)}
        answer["approvals"] = [ids[t] for t in APPROVALS[index]]
        r = browser.post(f"/c/{slug}/rounds/{round_id}/survey", answer)
        assert r.status_code == 302 and r.headers["Location"].endswith("/pledge")
        if index in PLEDGES:
            amount, target = PLEDGES[index]
            where = {"target": "project", "project": ids[target]} if target else {"target": "pot"}
            r = browser.post(f"/c/{slug}/rounds/{round_id}/pledge", {"amount": amount, **where})
            assert r.status_code == 302 and "/pledges/" in r.headers["Location"]
            review = browser.get(r.headers["Location"]).get_data(as_text=True)
            assert "Review and confirm your pledge" in review
            r = browser.post(r.headers["Location"] + "/confirm")  # only confirmed pledges count
            assert r.status_code == 302 and r.headers["Location"].endswith("/mine")
            receipt = browser.get(f"/c/{slug}/rounds/{round_id}/mine").get_data(as_text=True)
            assert "Receipt code" in receipt and amount.split(".")[0] in receipt
            assert "Confirmed" in receipt
        if index == 0:
            # Coming back changes the answer; it never makes a second one.
            r = browser.post(f"/c/{slug}/rounds/{round_id}/survey", answer)
            assert r.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(Response)) == 6
    assert db.session.scalar(select(func.sum(Pledge.amount_cents))) == 2_500_00

    # The organizer closes the round and runs the allocation.
    assert organizer.post(f"/c/{slug}/rounds/{round_id}/close").status_code == 302
    r = organizer.post(f"/c/{slug}/rounds/{round_id}/allocation", {"rule": "max-welfare"})
    assert r.status_code == 302, r.get_data(as_text=True)
    page = organizer.get(f"/c/{slug}/rounds/{round_id}/allocation").get_data(as_text=True)
    funded_html = page.split("Not funded")[0]
    assert "Eastside Garden" in funded_html and "Tutoring Circle" in funded_html
    assert "Safety App" not in funded_html and "Grocery Co-op Start-up" not in funded_html
    for amount in ("$3,000.00", "$4,000.00", "$1,800.00", "$2,000.00", "$200.00", "$7,000.00"):
        assert amount in funded_html
    unfunded_html = page.split("Not funded")[1]
    assert unfunded_html.count("<tr>") - 1 == 2  # header row + the two unfunded projects

    # Documents: the report and one term sheet per funded project, with the real figures.
    assert organizer.post(f"/c/{slug}/rounds/{round_id}/documents/generate").status_code == 302
    join_threads(app)  # generation is a background job (a thread here)
    documents = db.session.scalars(select(Document).order_by(Document.id)).all()
    assert [d.kind.value for d in documents] == ["report", "term_sheet", "term_sheet"]
    report = pdf_text(documents[0].pdf)
    for text in ("Eastside Garden", "$3,000.00", "Tutoring Circle", "$4,000.00"):
        assert text in report
    sheets = {d.project.title: pdf_text(d.pdf) for d in documents[1:]}
    assert "$3,000.00" in sheets["Eastside Garden"]
    assert "$4,000.00" in sheets["Tutoring Circle"]

    # Two board members sign; quorum 2 approves the round.
    for member in people["board"][:2]:
        board = make_client()
        board.login(member.email, factories.PASSWORD)
        listing = board.get(f"/c/{slug}/rounds/{round_id}/documents").get_data(as_text=True)
        assert "Sign all 3 documents" in listing
        assert board.post(f"/c/{slug}/rounds/{round_id}/documents/sign").status_code == 302
    db.session.expire_all()
    assert db.session.get(FundingRound, round_id).status == RoundStatus.APPROVED

    # The signed report verifies; a copy with one byte changed does not.
    signed = db.session.scalars(select(Document).order_by(Document.id)).first()
    assert len(signed.signatures) == 2
    download = organizer.get(f"/c/{slug}/rounds/{round_id}/documents/{signed.id}/{signed.filename}")
    assert download.status_code == 200 and download.data == signed.pdf
    good, bad = tmp_path / "signed.pdf", tmp_path / "changed.pdf"
    good.write_bytes(download.data)
    tampered = bytearray(download.data)
    first_range = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)", download.data)
    tampered[int(first_range.group(2)) // 2] ^= 1  # inside bytes every signature covers
    bad.write_bytes(bytes(tampered))
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["verify", str(good)])
    assert ok.exit_code == 0, ok.output
    assert "Board Member 1" in ok.output and "Board Member 2" in ok.output
    assert runner.invoke(args=["verify", str(bad)]).exit_code == 1
