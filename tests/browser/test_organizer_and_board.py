"""An organizer runs a round in a real browser, against gunicorn: creates it through the
forms, adds projects and a seed grant, opens and closes it, allocates and generates the
documents; imports a Pabulib file; two board members sign; the organizer records a
payment, pays the projects out and closes the books; the verification page accepts the
signed report as downloaded.

Each step is a function. Between allocating and generating, the organizer compares the
three rules side by side on the same snapshot; documents are made by a background job
whose progress bar the page follows until it reloads with them.
"""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from commonpot.extensions import db
from commonpot.models import FundingRound, RoundStatus, User
from pooling.pledges import confirm_pledge, make_pledge
from surveys.services import submit_response
from tests import factories

SLUG = "southside"
PABULIB = """META
key;value
description;Riverside 2024
country;Utopia
unit;Riverside
instance;2024
budget;10000
vote_type;approval
PROJECTS
project_id;cost;name;category
1;4000;Bike racks;transport
2;5000;Tree planting;environment
3;3000;Bench repair;environment
VOTES
voter_id;vote
v1;1,2
v2;2,3
v3;1
v4;2
"""


@pytest.fixture(scope="module")
def southside(site):
    with site.app.app_context():
        factories.community(SLUG, residents=4)


def create_round(me) -> int:
    me.go(f"/c/{SLUG}/")
    me.step("community")
    me.page.get_by_role("link", name="New round").click()
    me.step("new-round")
    me.page.get_by_label("Title").fill("Spring 2027")
    me.page.get_by_label("What this round is for").fill("Small things that make the block better.")
    me.page.get_by_label("Priority areas (one per line)").fill("Green spaces\nYouth\nSafety")
    me.page.get_by_role("button", name="Create round").click()
    assert "Round created." in me.main_text()
    me.step("round-created")
    return int(me.page.url.rstrip("/").rsplit("/", 1)[1])


def add_projects(me, projects) -> None:
    for title, area, dollars in projects:
        me.page.get_by_label("Project title").fill(title)
        me.page.get_by_label("Priority area").select_option(label=area)
        me.page.get_by_label("Cost").fill(dollars)
        me.page.get_by_role("button", name="Add project").click()
        assert f"Added “{title}”." in me.main_text()
    me.step("projects-added")


def add_grant(me, round_id: int) -> None:
    me.go(f"/c/{SLUG}/rounds/{round_id}/grants")
    me.step("grants")
    me.page.get_by_label("Grant name").fill("Tree Fund")
    me.page.get_by_label("Funder").fill("City of Southside")
    me.page.get_by_label("Amount", exact=True).fill("6,000")
    me.page.get_by_label("Only for projects in").select_option(label="Green spaces")
    me.page.get_by_role("button", name="Add grant").click()
    assert "Added the grant “Tree Fund”." in me.main_text()
    me.step("grant-added")


def change_status(me, round_id: int, button: str, status: str) -> None:
    me.go(f"/c/{SLUG}/rounds/{round_id}")
    me.page.get_by_role("button", name=button).click()
    assert f"The round is now {status}." in me.main_text()
    me.step(f"round-{status}")


def residents_answer(site, round_id: int) -> None:
    """Residents answer and pledge through the services (their own pages are the resident
    journey's)."""
    with site.app.app_context():
        r = db.session.get(FundingRound, round_id)
        titles = {p.title: p.id for p in r.projects}
        ranks = {a.id: i for i, a in enumerate(r.priority_areas, 1)}
        for n, picks in enumerate((["Tree planting", "Skate ramp"], ["Tree planting"]), 1):
            user = db.session.scalar(select(User).where(User.email == f"r{n}@{SLUG}.test"))
            submit_response(r, user, rankings=ranks, votes={titles[t] for t in picks})
            confirm_pledge(make_pledge(r, user, amount_cents=150_000), user)
        db.session.commit()


def allocate(me, round_id: int) -> None:
    me.go(f"/c/{SLUG}/rounds/{round_id}")
    me.page.get_by_role("link", name="Run the allocation").click()
    me.step("allocation-form")
    me.page.get_by_role("radio", name=re.compile(r"^Greedy by support")).check()
    me.page.get_by_role("button", name="Run the allocation").click()
    assert "Allocation done" in me.main_text()
    funded = me.page.locator("table").first.inner_text()
    assert "Tree planting" in funded and "$4,500.00" in funded, funded
    me.step("allocated")


def compare_rules(me, round_id: int) -> None:
    """The three rules on one snapshot, one column each; the allocation stays as chosen."""
    me.go(f"/c/{SLUG}/rounds/{round_id}/allocation")
    me.page.get_by_role("link", name="Compare the rules").first.click()
    me.step("compare-form")
    me.page.get_by_role("button", name="Compare the rules").click()
    totals = me.page.locator("table.compare-totals").inner_text()
    for label in ("Greedy by support", "Equal shares", "Maximum support"):
        assert label in totals, totals
    assert "Voters with at least one funded project" in totals
    assert "snapshot SHA-256" in me.main_text()  # one snapshot for every rule
    assert "This is the allocation" in totals  # comparing did not replace the allocation
    me.step("compared")


def generate_documents(me, round_id: int) -> None:
    """A background job: the page shows a progress bar and reloads when it is done."""
    me.go(f"/c/{SLUG}/rounds/{round_id}/allocation")
    me.page.get_by_role("button", name="Generate documents").click()
    me.page.wait_for_selector("text=Term sheet: Tree planting", timeout=60_000)
    assert "Allocation report" in me.main_text()
    me.step("documents")


def import_pabulib(me, tmp_path) -> None:
    me.go(f"/c/{SLUG}/")
    me.page.get_by_role("link", name="Import a Pabulib file").click()
    me.step("import")
    broken = tmp_path / "broken.pb"
    broken.write_text(PABULIB.replace("v3;1\n", "v3;9\n"))
    me.page.get_by_label("Pabulib file (.pb)").set_input_files(broken)
    me.page.get_by_role("button", name="Import the round").click()
    error = me.page.locator("#file-err").inner_text()
    assert "broken.pb: line 18:" in error and "Nothing was imported" in error, error
    me.step("import-refused")
    good = tmp_path / "riverside.pb"
    good.write_text(PABULIB)
    me.page.get_by_label("Pabulib file (.pb)").set_input_files(good)
    me.page.get_by_role("button", name="Import the round").click()
    text = me.main_text()
    assert "Imported riverside.pb as a closed round: 3 projects, 4 ballots, 6 votes." in text
    assert "Riverside 2024" in text and "Bike racks" in text and "closed" in text
    me.step("imported")


def sign_all(me, round_id: int, count: int) -> None:
    me.go(f"/c/{SLUG}/rounds/{round_id}/documents")
    me.step("documents")
    me.page.get_by_role("button", name=f"Sign all {count} documents").click()
    assert f"You signed {count} documents." in me.main_text()
    me.step("signed")


def close_the_books(me, round_id: int) -> None:
    """After approval: one called pledge is paid, the projects are paid out, and the books
    close with the other, never paid, written off."""
    me.go(f"/c/{SLUG}/rounds/{round_id}/treasury")
    me.step("treasury-approved")
    row = me.page.locator("tr", has=me.page.get_by_text("Record payment")).first
    row.get_by_text("Record payment").click()
    row.get_by_label("Method").select_option(label="Cash")
    row.get_by_label("Reference", exact=True).fill("receipt 1")
    row.get_by_role("button", name=re.compile(r"^Record .* received$")).click()
    assert "Recorded $1,500.00 from Resident" in me.main_text()
    while me.page.get_by_text(re.compile(r"^Pay out \$")).count():
        row = me.page.locator("tr", has=me.page.get_by_text(re.compile(r"^Pay out \$"))).first
        row.get_by_text(re.compile(r"^Pay out \$")).first.click()
        row.get_by_label("Payment reference").fill("transfer 7")
        row.get_by_role("button", name=re.compile(r"^Pay out \$")).click()
        assert "Paid $" in me.main_text()
    me.step("paid-out")
    closing = me.page.locator("#closing")
    assert "1 called pledge is not paid ($1,500.00)" in closing.inner_text()
    me.page.get_by_role("button", name="Close the books").click()
    assert "not paid: record the payments, or write them off" in me.main_text()
    me.step("close-refused")
    me.page.get_by_label("Write off the called pledges that were never paid").check()
    me.page.get_by_role("button", name="Close the books").click()
    assert "The books are closed: the round is settled." in me.main_text()
    me.step("settled")


def download_report(me, tmp_path):
    with me.page.expect_download() as download:
        me.page.get_by_role("link", name=re.compile(r"Download .*allocation-report")).click(
            modifiers=["Alt"]
        )
    path = tmp_path / "report.pdf"
    download.value.save_as(path)
    return path


def verify(me, pdf) -> str:
    me.go("/verify")
    me.step("verify")
    me.page.get_by_label("Signed PDF").set_input_files(pdf)
    me.page.get_by_role("button", name="Verify").click()
    me.step("verdict")
    return me.page.locator(".verdict").inner_text()


def test_organizer_runs_a_round_and_the_board_signs(journey, site, southside, tmp_path):
    organizer = journey("organizer")
    organizer.sign_in(f"organizer@{SLUG}.test")
    round_id = create_round(organizer)
    add_projects(
        organizer,
        [
            ("Tree planting", "Green spaces", "4,500"),
            ("Skate ramp", "Youth", "2,500"),
            ("Street lights", "Safety", "9,000"),
        ],
    )
    add_grant(organizer, round_id)
    change_status(organizer, round_id, "Open the round", "open")
    residents_answer(site, round_id)
    change_status(organizer, round_id, "Close the round", "closed")
    allocate(organizer, round_id)
    compare_rules(organizer, round_id)
    documents = 1 + 2  # the report and one term sheet per funded project
    generate_documents(organizer, round_id)
    import_pabulib(organizer, tmp_path)
    organizer.finish()

    for n in (1, 2):
        board = journey(f"board{n}")
        board.sign_in(f"board{n}@{SLUG}.test")
        sign_all(board, round_id, documents)
        board.finish()
    assert "Quorum reached: the round is approved." in board.main_text()
    with site.app.app_context():
        assert db.session.get(FundingRound, round_id).status == RoundStatus.APPROVED

    treasurer = journey("treasurer")
    treasurer.sign_in(f"organizer@{SLUG}.test")
    close_the_books(treasurer, round_id)
    treasurer.finish()
    with site.app.app_context():
        assert db.session.get(FundingRound, round_id).status == RoundStatus.SETTLED

    report = download_report(board, tmp_path)
    visitor = journey("visitor")
    verdict = verify(visitor, report)
    assert "Valid" in verdict and "Board Member 1" in verdict and "Board Member 2" in verdict
    visitor.finish()

    for command in (["audit", "verify", "--json"], ["ledger", "verify", "--json"]):
        checked = site.commonpot(*command)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert json.loads(checked.stdout)["ok"] is True
