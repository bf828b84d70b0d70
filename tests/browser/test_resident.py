"""A resident in a real browser, against gunicorn: signs in, answers a round of each ballot
type (the live meter follows every tick and number), pledges, reads the receipt, and comes
back to change the answers. The survey is also completed with the keyboard alone."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from commonpot.extensions import db
from commonpot.models import User
from pooling.models import Pledge, PledgeState
from surveys.models import Response
from surveys.services import update_ballot_settings
from tests import factories

BALLOTS = {  # ballot type: the settings that make it
    "approval": {"max_approvals": 2},
    "knapsack": {"budget_cents": 800_000},
    "cumulative": {"points_total": 10},
    "ranked": {"rank_limit": 2},
}


@pytest.fixture(scope="module")
def northside(site):
    """One open round per ballot type; projects Garden $3,000, Tutoring $4,000, Safety App
    $5,000 in three priority areas."""
    with site.app.app_context():
        community, people = factories.community("northside", residents=3)
        organizer = people["organizer"][0]
        ids = {}
        for kind, settings in BALLOTS.items():
            r = factories.open_round(community, organizer, title=f"{kind.title()} round")
            update_ballot_settings(r, {"ballot_type": kind, **settings}, actor=organizer)
            ids[kind] = r.id
        db.session.commit()
    return ids


def _rank_areas(page) -> None:
    for rank, area in enumerate(["Education", "Food security", "Place security"], 1):
        page.get_by_label(area, exact=True).select_option(str(rank))


def _meter(page) -> str:
    return page.locator("#ballot-meter-text").inner_text()


def _fill_ballot(page, kind: str) -> None:
    """Fill the project ballot, checking that the meter follows each change."""
    before = _meter(page)
    if kind == "approval":
        assert before == "0 of at most 2 projects ticked"
        page.get_by_label("Garden").check()
        assert _meter(page) == "1 of at most 2 projects ticked"
        page.get_by_label("Tutoring").check()
        assert _meter(page) == "2 of at most 2 projects ticked"
    elif kind == "knapsack":
        assert before.startswith("$0.00 of $8,000.00 spent")
        page.get_by_label("Garden").check()
        assert _meter(page) == "$3,000.00 of $8,000.00 spent · $5,000.00 left"
        page.get_by_label("Safety App").check()
        assert _meter(page) == "$8,000.00 of $8,000.00 spent · $0.00 left"
    elif kind == "cumulative":
        assert before == "0 of 10 points given · 10 left"
        page.get_by_label("Garden", exact=True).fill("7")
        assert _meter(page) == "7 of 10 points given · 3 left"
        page.get_by_label("Tutoring", exact=True).fill("3")
        assert _meter(page) == "10 of 10 points given · 0 left"
    else:
        assert before == "0 of 2 projects ranked"
        page.get_by_label("Tutoring", exact=True).select_option("1")
        assert _meter(page) == "1 of 2 projects ranked"
        page.get_by_label("Garden", exact=True).select_option("2")
        assert _meter(page) == "2 of 2 projects ranked"


def _responses(site, email: str) -> dict[int, int]:
    with site.app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        rows = db.session.execute(
            select(Response.round_id, func.count())
            .where(Response.user_id == user.id)
            .group_by(Response.round_id)
        ).all()
        return dict(rows)


def test_resident_answers_every_ballot_pledges_and_edits(journey, site, northside):
    me = journey("resident")
    page = me.page
    me.sign_in("r1@northside.test")
    for kind, round_id in northside.items():
        me.go(f"/c/northside/rounds/{round_id}")
        me.step(f"{kind}-round")
        page.get_by_role("link", name="Answer the survey").click()
        me.step(f"{kind}-survey")
        _rank_areas(page)
        _fill_ballot(page, kind)
        me.step(f"{kind}-filled")
        page.get_by_role("button", name="Save my answers").click()
        assert "Your answers are saved. Receipt code" in me.main_text()
        me.step(f"{kind}-saved")
    assert _responses(site, "r1@northside.test") == {i: 1 for i in northside.values()}

    # A pledge in the approval round: review, confirm, receipt.
    approval = northside["approval"]
    me.go(f"/c/northside/rounds/{approval}/pledge")
    page.get_by_label("Amount", exact=True).fill("50")
    me.step("pledge")
    page.get_by_role("button", name="Review my pledge").click()
    assert "Review and confirm your pledge" in me.main_text()
    me.step("pledge-review")
    page.get_by_role("button", name="Confirm my pledge of $50.00").click()
    receipt = me.main_text()
    assert "$50.00" in receipt and "Counts towards the round." in receipt
    me.step("receipt")
    with site.app.app_context():
        pledge = db.session.scalars(select(Pledge).where(Pledge.round_id == approval)).one()
        assert pledge.state == PledgeState.CONFIRMED and pledge.amount_cents == 5_000
        assert pledge.receipt_code in receipt
        code = db.session.scalar(select(Response.receipt_code).where(Response.round_id == approval))

    # Back to the survey: the saved answers are shown and can be changed.
    me.go(f"/c/northside/rounds/{approval}/survey")
    assert f"receipt {code}" in me.main_text()
    assert page.get_by_label("Garden").is_checked() and page.get_by_label("Tutoring").is_checked()
    me.step("survey-again")
    page.get_by_label("Garden").uncheck()
    page.get_by_label("Safety App").check()
    assert _meter(page) == "2 of at most 2 projects ticked"
    page.get_by_role("button", name="Save my answers").click()
    assert f"Receipt code {code}" in me.main_text()
    me.step("edited")
    me.go(f"/c/northside/rounds/{approval}/mine")
    me.step("mine")
    with site.app.app_context():
        response = db.session.scalars(select(Response).where(Response.round_id == approval)).one()
        voted = {v.project.title for v in response.votes}
    assert voted == {"Tutoring", "Safety App"}
    me.finish()


def test_the_survey_can_be_completed_with_the_keyboard_alone(journey, site, northside):
    """Tab to each control, arrows and Space to choose, Enter to send: no mouse at all."""
    me = journey("keyboard")
    page = me.page
    me.go("/login")
    me.step("sign-in")
    keys = page.keyboard

    def tab_to(name: str, limit: int = 60) -> None:
        for _ in range(limit):
            keys.press("Tab")
            focused = page.evaluate(
                "() => { const e = document.activeElement;"
                " return (e.labels && e.labels[0] ? e.labels[0].innerText : e.innerText || '')"
                ".trim(); }"
            )
            if focused.startswith(name):
                return
        raise AssertionError(f"Tab never reached {name!r}")

    tab_to("Email")
    keys.type("r2@northside.test")
    tab_to("Password")
    keys.type(factories.PASSWORD)
    keys.press("Enter")
    page.wait_for_url(f"{site.url}/")
    me.step("home")
    me.go(f"/c/northside/rounds/{northside['approval']}")
    me.step("round")
    tab_to("Answer the survey")
    keys.press("Enter")
    page.wait_for_url("**/survey")
    me.step("survey")
    for area, presses in (("Education", 1), ("Food security", 2), ("Place security", 3)):
        tab_to(area)
        for _ in range(presses):
            keys.press("ArrowDown")
    tab_to("Tutoring")
    keys.press("Space")
    assert _meter(page) == "1 of at most 2 projects ticked"
    me.step("filled")
    tab_to("Save my answers")
    keys.press("Enter")
    page.wait_for_url("**/pledge")
    assert "Your answers are saved" in me.main_text()
    me.step("saved")
    with site.app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.email == "r2@northside.test"))
        response = db.session.scalars(
            select(Response).where(
                Response.round_id == northside["approval"], Response.user_id == user_id
            )
        ).one()
        ranks = {r.priority_area.name: r.rank for r in response.rankings}
        voted = [v.project.title for v in response.votes]
    assert ranks == {"Education": 1, "Food security": 2, "Place security": 3}
    assert voted == ["Tutoring"]
    me.finish()
