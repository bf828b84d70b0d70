"""The residents' pledge pages through the browser's door: the form, review and confirm,
cancel, reconfirm, notices, hours, the round page's progress bars, and privacy."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from sqlalchemy import func, select

from commonpot.extensions import db
from commonpot.models import Role, RoundStatus, utcnow
from commonpot.rounds.services import grant_role
from pooling import loans, pledge_figures
from pooling.grants import add_grant
from pooling.models import (
    Condition,
    HoursPledge,
    Instrument,
    Notice,
    OverflowRule,
    Pledge,
    PledgeState,
    TargetKind,
)
from pooling.pledges import ask_reconfirmation, confirm_pledge, make_pledge
from pooling.terms import set_project_funding, set_terms
from tests import factories

TERMS = {
    "accepts_donations": True,
    "accepts_shares": True,
    "accepts_loans": True,
    "share_price_cents": 5_000,
    "loan_rate_bps": 350,
    "loan_term_months": 36,
    "min_pledge_cents": 500,
    "max_pledge_cents": 500_000,
    "resident_cap_cents": 1_000_000,
}


def setup(terms=None):
    """A community and an open round (Garden, Tutoring, Safety App), with pledge terms."""
    c, people = factories.community()
    organizer = people["organizer"][0]
    r = factories.open_round(c, organizer)
    if terms is not False:
        set_terms(r, actor=organizer, **(terms or TERMS))
    db.session.commit()
    return c, people, r


def signed_in(make_client, email="r1@eastside.test"):
    browser = make_client()
    browser.login(email, factories.PASSWORD)
    return browser


def base(r) -> str:
    return f"/c/eastside/rounds/{r.id}"


def pledge_id(response) -> int:
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    found = re.search(r"/pledges/(\d+)", response.headers["Location"])
    assert found, response.headers["Location"]
    return int(found.group(1))


def count(model=Pledge) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def fresh(pledge_id_: int) -> Pledge:
    db.session.expire_all()
    return db.session.get(Pledge, pledge_id_)


# ---- the form: every instrument and target ------------------------------------------


def test_each_instrument_and_target_through_the_form(app, make_client):
    _, _, r = setup()
    garden, tutoring, safety = r.projects
    food = r.priority_areas[0]
    browser = signed_in(make_client)
    page = browser.get(f"{base(r)}/pledge").get_data(as_text=True)
    assert "Member shares at $50.00 a share" in page
    assert "A community loan at 3.50% a year, repaid over 36 months" in page
    assert "From $5.00 to $5,000.00 per pledge." in page

    pot = pledge_id(browser.post(f"{base(r)}/pledge", {"amount": "25", "target": "pot"}))
    shares = pledge_id(
        browser.post(
            f"{base(r)}/pledge",
            {
                "instrument": "shares",
                "shares": "3",
                "amount": "ignored: shares are counted",
                "target": "area",
                "priority_area": food.id,
                "condition": "all_or_nothing",
            },
        )
    )
    loan = pledge_id(
        browser.post(
            f"{base(r)}/pledge",
            {
                "instrument": "loan",
                "amount": "1,200",
                "target": "project",
                "project": tutoring.id,
                "condition": "keep_it_all",
            },
        )
    )
    several = pledge_id(
        browser.post(
            f"{base(r)}/pledge",
            {
                "amount": "60.50",
                "target": "projects",
                "projects": [str(garden.id), str(safety.id)],
                "condition": "all_or_nothing",
            },
        )
    )
    assert count() == 4
    p = fresh(pot)
    assert (p.instrument, p.target, p.amount_cents, p.condition) == (
        Instrument.DONATION,
        TargetKind.POT,
        2_500,
        Condition.KEEP_IT_ALL,
    )
    assert p.state == PledgeState.PLEDGED  # it counts only once confirmed
    p = fresh(shares)
    assert (p.instrument, p.shares, p.amount_cents) == (Instrument.SHARES, 3, 15_000)
    assert (p.target, p.priority_area_id, p.condition) == (
        TargetKind.AREA,
        food.id,
        Condition.ALL_OR_NOTHING,
    )
    p = fresh(loan)
    assert (p.instrument, p.amount_cents, p.project_id) == (Instrument.LOAN, 120_000, tutoring.id)
    assert (p.loan_rate_bps, p.loan_term_months) == (350, 36)
    p = fresh(several)
    assert p.target == TargetKind.PROJECTS and p.amount_cents == 6_050
    assert sorted(p.target_project_ids) == sorted([garden.id, safety.id])

    # The review pages say the terms in plain words.
    page = browser.get(f"{base(r)}/pledges/{shares}").get_data(as_text=True)
    assert "3 shares × $50.00 a share = $150.00." in page
    assert "Shares are risk capital" in page
    assert "All or nothing: you pay only if" in page
    assert "Only projects in “Food security”" in page
    assert "You can cancel this pledge while the round is open" in page
    page = browser.get(f"{base(r)}/pledges/{loan}").get_data(as_text=True)
    assert "You lend $1,200.00 to the cooperative at 3.50% a year for 36 months." in page
    assert "$35.16" in page  # 1,200 at 3.5 % over 36 months: an annuity of $35.16
    total, interest = loans.totals(loans.schedule(120_000, 350, 36))
    assert f"${total / 100:,.2f} in all over 36 months (${interest / 100:,.2f} of interest)" in page
    assert "A community loan is unsecured" in page
    page = browser.get(f"{base(r)}/pledges/{several}").get_data(as_text=True)
    assert "never more than $60.50 from you in total" in page
    assert "Garden" in page and "Safety App" in page
    page = browser.get(f"{base(r)}/pledges/{pot}").get_data(as_text=True)
    assert "A gift of $25.00 to the round" in page
    assert "always “keep it all”" in page
    assert "The risk" not in page


def test_the_pages_quote_the_repayment_the_term_sheet_states():
    """A pledge's review page and the term sheet give one monthly repayment (the page's
    own estimate used to round an interest-free loan up, a cent off the term sheet)."""
    for principal, rate_bps, months in ((100_000, 0, 3), (120_000, 350, 36), (5_000, 1_250, 7)):
        page = pledge_figures.monthly_payment(principal, rate_bps, months)
        assert page == loans.monthly_payment(principal, rate_bps, months)
    assert pledge_figures.monthly_payment(100_000, 0, 3) == 33_333
    assert pledge_figures.monthly_payment(100_000, None, None) is None


def test_a_round_without_terms_takes_donations_only(app, make_client):
    _, _, r = setup(terms=False)
    browser = signed_in(make_client)
    page = browser.get(f"{base(r)}/pledge").get_data(as_text=True)
    assert "This round takes donations" in page and "Member shares" not in page
    response = browser.post(
        f"{base(r)}/pledge", {"instrument": "loan", "amount": "20", "target": "pot"}
    )
    assert response.status_code == 422
    assert "Choose one of the ways this round takes pledges." in response.get_data(as_text=True)
    assert count() == 0
    assert pledge_id(browser.post(f"{base(r)}/pledge", {"amount": "20", "target": "pot"}))


def test_confirming_makes_the_pledge_count(app, make_client):
    _, people, r = setup()
    browser = signed_in(make_client)
    pid = pledge_id(browser.post(f"{base(r)}/pledge", {"amount": "40", "target": "pot"}))
    page = browser.get(f"{base(r)}/mine").get_data(as_text=True)
    assert "Not confirmed yet" in page and "Review and confirm" in page
    response = browser.post(f"{base(r)}/pledges/{pid}/confirm")
    assert response.status_code == 302 and response.headers["Location"].endswith("/mine")
    pledge = fresh(pid)
    assert pledge.state == PledgeState.CONFIRMED and pledge.counts
    page = browser.get(f"{base(r)}/mine").get_data(as_text=True)
    assert "Confirmed: your pledge of $40.00 counts" in page  # the flash
    assert pledge.receipt_code in page and "$40.00 counts towards the round." in page
    # Confirming twice is confirming once.
    assert browser.post(f"{base(r)}/pledges/{pid}/confirm").status_code == 302
    assert fresh(pid).state == PledgeState.CONFIRMED


def test_shares_and_loans_ask_the_resident_to_accept_the_risk(app, make_client):
    _, _, r = setup()
    browser = signed_in(make_client)
    pid = pledge_id(
        browser.post(f"{base(r)}/pledge", {"instrument": "shares", "shares": "2", "target": "pot"})
    )
    response = browser.post(f"{base(r)}/pledges/{pid}/confirm")
    assert response.status_code == 422
    assert "Tick this box to say you have read the risks" in response.get_data(as_text=True)
    assert fresh(pid).state == PledgeState.PLEDGED
    response = browser.post(f"{base(r)}/pledges/{pid}/confirm", {"understood": "y"})
    assert response.status_code == 302
    assert fresh(pid).state == PledgeState.CONFIRMED


# ---- cancelling ----------------------------------------------------------------------


def test_cancel_before_the_deadline(app, make_client):
    _, _, r = setup()
    r.closes_at = utcnow() + timedelta(days=5)
    db.session.commit()
    browser = signed_in(make_client)
    pid = pledge_id(browser.post(f"{base(r)}/pledge", {"amount": "30", "target": "pot"}))
    browser.post(f"{base(r)}/pledges/{pid}/confirm")
    page = browser.get(f"{base(r)}/pledges/{pid}").get_data(as_text=True)
    assert "You can cancel this pledge until" in page and "Cancel this pledge" in page
    response = browser.post(f"{base(r)}/pledges/{pid}/cancel")
    assert response.status_code == 302 and response.headers["Location"].endswith("/mine")
    assert fresh(pid).state == PledgeState.CANCELLED
    page = browser.get(f"{base(r)}/mine").get_data(as_text=True)
    assert "is cancelled" in page and "Cancelled" in page
    # A new pledge to the same target is a new pledge with a new receipt.
    again = pledge_id(browser.post(f"{base(r)}/pledge", {"amount": "30", "target": "pot"}))
    assert again != pid and count() == 2


def test_no_cancelling_within_48_hours_of_the_close(app, make_client):
    _, _, r = setup()
    browser = signed_in(make_client)
    pid = pledge_id(browser.post(f"{base(r)}/pledge", {"amount": "30", "target": "pot"}))
    browser.post(f"{base(r)}/pledges/{pid}/confirm")
    r.closes_at = utcnow() + timedelta(hours=30)
    db.session.commit()
    page = browser.get(f"{base(r)}/pledges/{pid}").get_data(as_text=True)
    assert "The time to cancel has passed." in page and "Cancel this pledge" not in page
    response = browser.post(f"{base(r)}/pledges/{pid}/cancel")
    assert response.status_code == 302
    page = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "Pledges can be cancelled until 48 hours before the round closes" in page
    assert fresh(pid).state == PledgeState.CONFIRMED


# ---- a material change: reconfirm, notices -------------------------------------------


def test_reconfirm_after_a_material_change(app, make_client):
    _, people, r = setup()
    tutoring = r.projects[1]
    browser = signed_in(make_client)
    pid = pledge_id(
        browser.post(
            f"{base(r)}/pledge",
            {"amount": "100", "target": "project", "project": tutoring.id},
        )
    )
    browser.post(f"{base(r)}/pledges/{pid}/confirm")
    ask_reconfirmation(tutoring, {"cost_cents": (400_000, 450_000)}, actor=people["organizer"][0])
    db.session.commit()
    assert not fresh(pid).counts

    page = browser.get(f"{base(r)}/mine").get_data(as_text=True)
    assert "Notices" in page and "“Tutoring” changed (cost)" in page
    assert "Needs your reconfirmation" in page and "Reconfirm" in page
    page = browser.get(f"{base(r)}/pledges/{pid}").get_data(as_text=True)
    assert "A project you pledged to has changed since you confirmed." in page
    assert "Reconfirm my pledge" in page

    assert browser.post(f"{base(r)}/pledges/{pid}/reconfirm").status_code == 302
    pledge = fresh(pid)
    assert pledge.state == PledgeState.CONFIRMED and pledge.counts

    notice = db.session.scalars(select(Notice)).one()
    assert browser.post(f"{base(r)}/notices/{notice.id}/dismiss").status_code == 302
    db.session.expire_all()
    assert db.session.get(Notice, notice.id).dismissed_at is not None
    page = browser.get(f"{base(r)}/mine").get_data(as_text=True)
    assert "“Tutoring” changed (cost)" not in page


# ---- bad input: clear messages, nothing saved, never a 500 ----------------------------


def test_bad_input_gets_a_message_next_to_the_field_and_saves_nothing(app, make_client):
    _, people, r = setup()
    garden, tutoring, _ = r.projects
    browser = signed_in(make_client)
    url = f"{base(r)}/pledge"
    cases = [
        ({"amount": "abc", "target": "pot"}, "Enter an amount like 25 or 25.50."),
        ({"amount": "10.005", "target": "pot"}, "Amounts have at most two decimals (cents)."),
        ({"amount": "", "target": "pot"}, "Enter the amount you pledge, like 25 or 25.50."),
        ({"amount": "0", "target": "pot"}, "Pledge a positive amount."),
        ({"amount": "-5", "target": "pot"}, "Pledge a positive amount."),
        ({"amount": "4.99", "target": "pot"}, "The smallest pledge is $5.00."),
        ({"amount": "5000.01", "target": "pot"}, "One pledge can hold at most $5,000.00."),
        ({"amount": "1e9", "target": "pot"}, "One pledge can hold at most $5,000.00."),
        (
            {"instrument": "shares", "shares": "", "target": "pot"},
            "Enter how many shares you take, at least one.",
        ),
        (
            {"instrument": "shares", "shares": "two", "target": "pot"},
            "Enter a whole number of shares.",
        ),
        (
            {"instrument": "shares", "shares": "0", "target": "pot"},
            "Choose how many shares, at least one.",
        ),
        (
            {"instrument": "shares", "shares": "101", "target": "pot"},
            "at most 100 shares.",
        ),
        ({"instrument": "bonds", "amount": "10", "target": "pot"}, "Choose one of the ways"),
        ({"amount": "10", "target": "moon"}, "Choose one of the options."),
        ({"amount": "10", "target": "area"}, "Choose a priority area."),
        ({"amount": "10", "target": "area", "priority_area": "x"}, "Choose one of this round"),
        (
            {"amount": "10", "target": "area", "priority_area": "999999"},
            "Choose one of this round's priority areas.",
        ),
        ({"amount": "10", "target": "project"}, "Choose a project."),
        ({"amount": "10", "target": "project", "project": "999999"}, "Choose projects of this"),
        (
            {"amount": "10", "target": "projects", "projects": [str(garden.id)]},
            "Tick at least two projects",
        ),
        (
            {"amount": "10", "target": "projects", "projects": [str(garden.id), "x"]},
            "Choose projects of this round.",
        ),
        (
            {"amount": "10", "target": "project", "project": garden.id, "condition": "maybe"},
            "Choose one of the options.",
        ),
    ]
    for data, message in cases:
        response = browser.post(url, data)
        assert response.status_code == 422, (data, response.status_code)
        page = html.unescape(response.get_data(as_text=True))
        assert message in page, (data, message)
        assert 'aria-invalid="true"' in page or "error" in page
    assert count() == 0

    # Several problems at once are all told at once.
    page = browser.post(url, {"amount": "1", "target": "project"}).get_data(as_text=True)
    assert "The smallest pledge is $5.00." in page and "Choose a project." in page

    # The per-resident cap ($10,000) and a project's maximum come from the services.
    made = make_pledge(r, people["residents"][0], amount_cents=500_000)
    confirm_pledge(made, people["residents"][0])
    make_pledge(
        r,
        people["residents"][0],
        amount_cents=450_000,
        target=TargetKind.PROJECT,
        project_ids=[garden.id],
    )
    db.session.commit()
    response = browser.post(url, {"amount": "1000", "target": "project", "project": tutoring.id})
    assert response.status_code == 422
    assert "you can add $500.00" in response.get_data(as_text=True)
    set_project_funding(
        tutoring,
        actor=people["organizer"][0],
        min_cents=None,
        optimum_cents=None,
        max_cents=20_000,
        overflow=OverflowRule.REFUSE,
        hours_needed=None,
    )
    db.session.commit()
    response = browser.post(url, {"amount": "300", "target": "project", "project": tutoring.id})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "at most $200.00 more can be pledged to it" in page
    assert 'id="project-err"' in page  # next to the project chosen, not the checkboxes
    # A confirmed pledge is not changed by a new amount for the same target.
    response = browser.post(url, {"amount": "60", "target": "pot"})
    assert response.status_code == 422
    assert "Cancel it first" in response.get_data(as_text=True)
    assert count() == 2


def test_the_same_form_posted_twice_makes_one_pledge(app, make_client):
    _, _, r = setup()
    browser = signed_in(make_client)
    data = {"amount": "15", "target": "project", "project": r.projects[0].id}
    first = browser.post(f"{base(r)}/pledge", data)
    second = browser.post(f"{base(r)}/pledge", data)
    assert pledge_id(first) == pledge_id(second)
    assert count() == 1
    # A new amount for the same unconfirmed target changes that pledge, receipt kept.
    code = fresh(pledge_id(first)).receipt_code
    third = browser.post(f"{base(r)}/pledge", {**data, "amount": "20"})
    assert pledge_id(third) == pledge_id(first) and count() == 1
    pledge = fresh(pledge_id(first))
    assert pledge.amount_cents == 2_000 and pledge.receipt_code == code


def test_changing_an_unconfirmed_pledge_to_another_target_replaces_it(app, make_client):
    _, _, r = setup()
    browser = signed_in(make_client)
    old = pledge_id(browser.post(f"{base(r)}/pledge", {"amount": "15", "target": "pot"}))
    page = browser.get(f"{base(r)}/pledge?change={old}").get_data(as_text=True)
    assert "Change your pledge" in page and 'value="15.00"' in page
    new = pledge_id(
        browser.post(
            f"{base(r)}/pledge?change={old}",
            {"amount": "15", "target": "project", "project": r.projects[2].id},
        )
    )
    assert new != old
    assert fresh(old).state == PledgeState.CANCELLED
    assert fresh(new).project_id == r.projects[2].id


def test_a_full_project_sends_the_pledge_to_the_pot_and_says_so(app, make_client):
    _, people, r = setup()
    garden = r.projects[0]
    set_project_funding(
        garden,
        actor=people["organizer"][0],
        min_cents=None,
        optimum_cents=None,
        max_cents=10_000,
        overflow=OverflowRule.POT,
        hours_needed=None,
    )
    make_pledge(
        r,
        people["residents"][1],
        amount_cents=10_000,
        target=TargetKind.PROJECT,
        project_ids=[garden.id],
    )
    db.session.commit()
    browser = signed_in(make_client)
    page = browser.get(f"{base(r)}/pledge").get_data(as_text=True)
    assert "full: pledges go to the common pot" in page
    response = browser.post(
        f"{base(r)}/pledge", {"amount": "50", "target": "project", "project": garden.id}
    )
    pid = pledge_id(response)
    assert f"redirected_from={garden.id}" in response.headers["Location"]
    assert fresh(pid).target == TargetKind.POT
    page = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your pledge went to the common pot, not to “Garden”." in page
    assert "reached its maximum of $100.00" in page


# ---- privacy and who may see what -----------------------------------------------------


def test_another_residents_pledge_is_not_there(app, make_client):
    _, _, r = setup()
    alice = signed_in(make_client, "r1@eastside.test")
    pid = pledge_id(alice.post(f"{base(r)}/pledge", {"amount": "77", "target": "pot"}))
    bob = signed_in(make_client, "r2@eastside.test")
    assert bob.get(f"{base(r)}/pledges/{pid}").status_code == 404
    for action in ("confirm", "cancel", "reconfirm"):
        assert bob.post(f"{base(r)}/pledges/{pid}/{action}").status_code == 404, action
    assert fresh(pid).state == PledgeState.PLEDGED
    page = bob.get(f"{base(r)}/mine").get_data(as_text=True)
    assert "$77.00" not in page and "You have not pledged in this round." in page
    # A pledge of this round seen from another round's address is not there either.
    assert alice.get(f"/c/eastside/rounds/{r.id + 1000}/pledges/{pid}").status_code == 404
    # Nor is another resident's notice.
    notice = Notice(user_id=fresh(pid).user_id, round_id=r.id, kind="test", text="hello")
    db.session.add(notice)
    db.session.commit()
    assert bob.post(f"{base(r)}/notices/{notice.id}/dismiss").status_code == 404


def test_organizers_see_the_pages_and_outsiders_do_not(app, make_client, client):
    _, people, r = setup()
    organizer = signed_in(make_client, "organizer@eastside.test")  # also a resident
    for path in ("", "/pledge", "/mine", "/hours"):
        response = organizer.get(f"{base(r)}{path}")
        assert response.status_code == 200, path
    pid = pledge_id(organizer.post(f"{base(r)}/pledge", {"amount": "10", "target": "pot"}))
    assert organizer.get(f"{base(r)}/pledges/{pid}").status_code == 200
    # An account that is not a member of the community cannot pledge in it.
    outsider = factories.user("someone@elsewhere.test")
    db.session.commit()
    stranger = signed_in(make_client, "someone@elsewhere.test")
    assert stranger.get(f"{base(r)}/pledge").status_code == 403
    assert stranger.get(f"{base(r)}/pledges/{pid}").status_code == 403
    # A board member of the community who is not a resident may not pledge either.
    grant_role(outsider, r.community, Role.BOARD, actor=None)
    db.session.commit()
    assert stranger.get(f"{base(r)}/pledge").status_code == 403
    # Signed out: to the login page.
    assert client.get(f"{base(r)}/pledge").status_code == 302


def test_a_closed_round_takes_no_pledges(app, make_client):
    _, _, r = setup()
    browser = signed_in(make_client)
    pid = pledge_id(browser.post(f"{base(r)}/pledge", {"amount": "10", "target": "pot"}))
    r.closes_at = utcnow() - timedelta(minutes=1)  # past its scheduled close
    db.session.commit()
    assert browser.get(f"{base(r)}/pledge").status_code == 302
    response = browser.post(f"{base(r)}/pledges/{pid}/confirm")
    assert response.status_code == 302
    db.session.expire_all()
    assert r.status == RoundStatus.CLOSED  # the write request closed it
    assert fresh(pid).state == PledgeState.PLEDGED
    response = browser.post(f"{base(r)}/pledge", {"amount": "10", "target": "pot"})
    assert response.status_code == 302 and count() == 1
    page = browser.get(f"{base(r)}/pledges/{pid}").get_data(as_text=True)
    assert "Confirm my pledge" not in page


# ---- volunteer hours ------------------------------------------------------------------


def test_offering_changing_and_withdrawing_hours(app, make_client):
    _, people, r = setup()
    garden = r.projects[0]
    set_project_funding(
        garden,
        actor=people["organizer"][0],
        min_cents=None,
        optimum_cents=None,
        max_cents=None,
        overflow=OverflowRule.REFUSE,
        hours_needed=40,
    )
    db.session.commit()
    browser = signed_in(make_client)
    url = f"{base(r)}/hours"
    page = browser.get(url).get_data(as_text=True)
    assert "0 of 40 hours offered" in page
    for data, message in [
        ({"project": garden.id, "hours": "many"}, "Enter a whole number of hours"),
        ({"project": garden.id, "hours": ""}, "Enter how many hours you offer"),
        ({"project": garden.id, "hours": "1001"}, "Offer between 1 and 1,000 hours"),
        ({"project": garden.id, "hours": "-3"}, "Offer between 1 and 1,000 hours"),
        ({"project": garden.id, "hours": "3", "skills": "x" * 201}, "At most 200 characters."),
        ({"project": "999999", "hours": "3"}, "Choose a project of this round."),
    ]:
        response = browser.post(url, data)
        assert response.status_code == 422, data
        assert message in response.get_data(as_text=True), data
    assert count(HoursPledge) == 0
    response = browser.post(url, {"project": garden.id, "hours": "12", "skills": "carpentry"})
    assert response.status_code == 302
    assert browser.post(url, {"project": garden.id, "hours": "15"}).status_code == 302
    offer = db.session.scalars(select(HoursPledge)).one()
    assert offer.hours == 15
    page = browser.get(url).get_data(as_text=True)
    assert "15 of 40 hours offered" in page
    page = browser.get(f"{base(r)}/mine").get_data(as_text=True)
    assert "15 hours to “Garden”" in page
    page = browser.get(base(r)).get_data(as_text=True)
    assert "15 of 40 volunteer hours offered" in page
    assert browser.post(url, {"project": garden.id, "hours": "0"}).status_code == 302
    assert count(HoursPledge) == 0


# ---- the round page: progress bars, the pot and the grants ------------------------------


def test_round_page_shows_progress_against_targets(app, make_client, client):
    _, people, r = setup()
    organizer = people["organizer"][0]
    garden, tutoring, _ = r.projects
    set_project_funding(
        garden,
        actor=organizer,
        min_cents=100_000,
        optimum_cents=200_000,
        max_cents=300_000,
        overflow=OverflowRule.POT,
        hours_needed=50,
    )
    add_grant(
        r,
        name="Food Access Grant",
        funder="Bay Foundation",
        amount_cents=500_000,
        priority_area_id=r.priority_areas[0].id,
        cap_per_project_cents=None,
        actor=organizer,
    )
    residents = people["residents"]
    for who, cents in ((residents[0], 60_000), (residents[1], 50_000)):
        made = make_pledge(
            r, who, amount_cents=cents, target=TargetKind.PROJECT, project_ids=[garden.id]
        )
        confirm_pledge(made, who)
    make_pledge(
        r, residents[2], amount_cents=25_000, target=TargetKind.PROJECT, project_ids=[garden.id]
    )
    confirm_pledge(make_pledge(r, residents[3], amount_cents=7_000), residents[3])
    db.session.commit()

    page = client.get(base(r)).get_data(as_text=True)  # the round page is public once open
    assert "$70.00" in page and "in the common pot" in page
    assert "Food Access Grant" in page and "Food security projects only" in page
    assert "$1,100.00 confirmed of $2,000.00" in page
    assert "$250.00 awaiting confirmation" in page
    assert "Minimum $1,000.00" in page and "Optimum $2,000.00" in page
    assert "Maximum $3,000.00" in page and "Minimum reached." in page
    assert 'role="progressbar"' in page and 'aria-valuenow="110000"' in page
    assert 'aria-valuemax="200000"' in page
    assert "0 of 50 volunteer hours offered" in page
    # Tutoring has no targets: read against its cost.
    assert "$0.00 confirmed of $4,000.00" in page
    # Nobody's name or single pledge shows.
    assert "Resident 1" not in page and "$600.00" not in page
