"""A round in a real browser: a resident answers and pledges, the organizer closes and
allocates, two board members sign, and the verification page accepts the signed report."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import select

from commonpot.extensions import db
from commonpot.models import FundingRound, RoundStatus
from pooling.grants import add_grant
from surveys.models import Response
from tests import factories


def sign_in(page, base, email):
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


def test_round_in_the_browser(app, live_server, new_page, tmp_path):
    community, people = factories.community()
    organizer = people["organizer"][0]
    r = factories.open_round(community, organizer)
    add_grant(
        r,
        name="Food Access Grant",
        funder="Foundation",
        amount_cents=300_000,
        priority_area_id=r.priority_areas[0].id,
        cap_per_project_cents=None,
        actor=organizer,
    )
    db.session.commit()
    round_url = f"{live_server}/c/eastside/rounds/{r.id}"

    # A resident ranks, approves, pledges, and reads the receipt.
    page = new_page()
    sign_in(page, live_server, "r1@eastside.test")
    page.goto(round_url)
    page.get_by_role("link", name="Answer the survey").click()
    for rank, area in enumerate(["Education", "Food security", "Place security"], 1):
        page.get_by_label(area, exact=True).select_option(str(rank))
    page.get_by_label("Garden").check()
    page.get_by_label("Tutoring").check()
    page.get_by_role("button", name="Save my answers").click()
    page.get_by_label("Amount", exact=True).fill("4,000")
    page.get_by_label("One project").check()
    page.get_by_label("Which project", exact=True).select_option(label="Tutoring ($4,000.00)")
    page.get_by_role("button", name="Review my pledge").click()
    review = page.locator("main").inner_text()
    assert "Review and confirm your pledge" in review and "Only “Tutoring”." in review
    page.get_by_role("button", name="Confirm my pledge of $4,000.00").click()
    receipt = page.locator("main")
    assert "$4,000.00" in receipt.inner_text() and "Tutoring" in receipt.inner_text()
    assert "Counts towards the round." in receipt.inner_text()
    assert "Education" in page.locator(".receipt ol").inner_text().split("\n")[0]
    db.session.commit()  # end the test's snapshot: see what the server wrote
    code = db.session.scalar(select(Response.receipt_code))
    assert code and code in receipt.inner_text(), (code, receipt.inner_text())

    # The organizer closes the round and runs the allocation.
    page = new_page()
    sign_in(page, live_server, "organizer@eastside.test")
    page.goto(round_url)
    page.get_by_role("button", name="Close the round").click()
    page.get_by_role("link", name="Run the allocation").click()
    page.get_by_role("button", name="Run the allocation").click()
    funded = page.locator("table").first.inner_text()
    assert "Garden" in funded and "Tutoring" in funded and "$3,000.00" in funded
    page.get_by_role("button", name="Generate documents").click()
    # A background job: the page's script follows its progress and reloads when done.
    expect(page.locator("main")).to_contain_text("Term sheet: Garden", timeout=60_000)
    assert "Allocation report" in page.locator("main").inner_text()

    # Two board members sign; the second reaches the quorum.
    for member in people["board"][:2]:
        page = new_page()
        sign_in(page, live_server, member.email)
        page.goto(f"{round_url}/documents")
        page.get_by_role("button", name="Sign all 3 documents").click()
    assert "Quorum reached" in page.locator("main").inner_text()
    db.session.commit()  # end the test's snapshot
    assert db.session.get(FundingRound, r.id).status == RoundStatus.APPROVED

    # Anyone can check the downloaded report.
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile(r"Download .*allocation-report")).click(
            modifiers=["Alt"]
        )
    report = tmp_path / "report.pdf"
    download.value.save_as(report)
    visitor = new_page()
    visitor.goto(f"{live_server}/verify")
    visitor.get_by_label("Signed PDF").set_input_files(report)
    visitor.get_by_role("button", name="Verify").click()
    verdict = visitor.locator(".verdict").inner_text()
    assert "Valid" in verdict and "Board Member 1" in verdict and "Board Member 2" in verdict
