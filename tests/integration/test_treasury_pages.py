"""The organizers' money pages: terms, targets, grants, the treasury, the ledger, CSV exports
and statements, driven through the Flask test client as a treasurer would use them."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

from sqlalchemy import func, select

from commonpot.extensions import db
from commonpot.models import RoundStatus, utcnow
from commonpot.money import parse_cents
from commonpot.rounds.services import transition
from pooling import ledger
from pooling.allocation import run_allocation
from pooling.grants import add_grant
from pooling.issuing import generate_documents, sign_round
from pooling.ledger import Account, LedgerEntry
from pooling.ledger_checks import verify
from pooling.models import (
    Condition,
    Grant,
    Instrument,
    OverflowRule,
    PaymentMethod,
    Pledge,
    PledgeState,
    PledgeTerms,
    ProjectFunding,
    TargetKind,
)
from pooling.pledges import cancel_pledge, confirm_pledge, make_pledge
from pooling.terms import set_terms
from pooling.treasury import collect_pledge
from surveys.services import submit_response
from tests import factories

ORGANIZER = "organizer@eastside.test"


def setup():
    c, people = factories.community()
    r = factories.open_round(c, people["organizer"][0])
    return c, people, r


def pledged(r, who, cents, **kw):
    pledge = make_pledge(r, who, amount_cents=cents, **kw)
    confirm_pledge(pledge, who)
    db.session.commit()
    return pledge


def city_grant(r, organizer) -> None:
    """$6,000 from the city for any project: money that is there at approval."""
    add_grant(
        r,
        name="City seed",
        funder="City",
        amount_cents=600_000,
        priority_area_id=None,
        cap_per_project_cents=None,
        actor=organizer,
    )


def approve(r, people):
    """Everyone approves Garden and Tutoring; close, allocate and sign to quorum."""
    organizer = people["organizer"][0]
    garden, tutoring, _ = r.projects
    ranks = {a.id: i for i, a in enumerate(r.priority_areas, 1)}
    for resident in people["residents"]:
        submit_response(r, resident, rankings=ranks, votes={garden.id, tutoring.id})
    transition(r, RoundStatus.CLOSED, actor=organizer)
    run_allocation(r, "max-welfare", actor=organizer)
    generate_documents(r, actor=organizer)
    for member in people["board"][:2]:
        sign_round(r, member)
    db.session.commit()
    assert r.status == RoundStatus.APPROVED


def field_error(page: str, field_id: str) -> str:
    """The error message shown right under one field (its .field wrapper)."""
    match = re.search(
        r'<div class="field has-error">(?:(?!<div class="field).)*?id="'
        + re.escape(field_id)
        + r'".*?<p class="error"[^>]*>([^<]+)</p>',
        page,
        re.S,
    )
    assert match, f"no error next to {field_id}"
    return match.group(1)


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


# -- terms, targets, grants -------------------------------------------------------------


def test_terms_form_saves_validates_and_locks(app, client):
    _, people, r = setup()
    client.login(ORGANIZER)
    url = f"/c/eastside/rounds/{r.id}/terms"
    assert client.get(url).status_code == 200
    base = {"accepts_donations": "y", "min_pledge": "5", "max_pledge": "2,000"}

    bad_rate = client.post(url, {**base, "accepts_loans": "y", "loan_rate": "3.255"})
    assert bad_rate.status_code == 422
    page = bad_rate.get_data(as_text=True)
    assert field_error(page, "loan_rate") == "A rate has at most two decimals, e.g. 3.25."
    missing = client.post(url, {**base, "accepts_loans": "y", "loan_rate": "3.25"})
    assert missing.status_code == 422
    assert field_error(missing.get_data(as_text=True), "loan_term_months") == (
        "A term between 1 and 360 months."
    )
    upside_down = client.post(url, {**base, "min_pledge": "50", "max_pledge": "10"})
    assert upside_down.status_code == 422
    assert field_error(upside_down.get_data(as_text=True), "max_pledge") == (
        "The largest pledge cannot be below the smallest."
    )
    nothing = client.post(url, {"min_pledge": "5", "max_pledge": "10"})
    assert nothing.status_code == 422
    assert "Accept at least one kind of pledge." in nothing.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(PledgeTerms)) == 0

    saved = client.post(
        url,
        {
            **base,
            "accepts_shares": "y",
            "share_price": "25",
            "accepts_loans": "y",
            "loan_rate": "3,5",
            "loan_term_months": "24",
            "resident_cap": "1500",
        },
    )
    assert saved.status_code == 302
    terms = db.session.get(PledgeTerms, r.id)
    assert (terms.accepts_donations, terms.accepts_shares, terms.accepts_loans) == (
        True,
        True,
        True,
    )
    assert (terms.share_price_cents, terms.loan_rate_bps, terms.loan_term_months) == (2500, 350, 24)
    assert (terms.min_pledge_cents, terms.max_pledge_cents, terms.resident_cap_cents) == (
        500,
        200_000,
        150_000,
    )
    page = client.get(url).get_data(as_text=True)
    assert 'value="3.50"' in page and 'value="25.00"' in page

    pledged(r, people["residents"][0], 1_000)
    page = client.get(url).get_data(as_text=True)
    assert "Residents have pledged under these terms (1 pledge)" in page
    assert '<fieldset class="plain" disabled>' in page
    refused = client.post(url, {**base, "max_pledge": "50"})
    assert refused.status_code == 422
    assert "they can no longer change" in refused.get_data(as_text=True)
    db.session.refresh(terms)
    assert terms.max_pledge_cents == 200_000


def test_project_targets(app, client):
    _, _, r = setup()
    garden = r.projects[0]
    client.login(ORGANIZER)
    url = f"/c/eastside/rounds/{r.id}/projects/{garden.id}/targets"
    assert client.get(url).status_code == 200
    wrong = client.post(url, {"min_target": "2000", "max_target": "1000", "overflow": "refuse"})
    assert wrong.status_code == 422
    assert field_error(wrong.get_data(as_text=True), "max_target") == (
        "Targets go minimum ≤ optimum ≤ maximum."
    )
    hours = client.post(url, {"overflow": "pot", "hours_needed": "0"})
    assert hours.status_code == 422
    assert (
        field_error(hours.get_data(as_text=True), "hours_needed") == "Between 1 and 100,000 hours."
    )
    assert db.session.get(ProjectFunding, garden.id) is None
    ok = client.post(
        url,
        {
            "min_target": "1000",
            "optimum_target": "2500",
            "max_target": "3000",
            "overflow": "pot",
            "hours_needed": "40",
        },
    )
    assert ok.status_code == 302
    funding = db.session.get(ProjectFunding, garden.id)
    assert (funding.min_cents, funding.optimum_cents, funding.max_cents) == (
        100_000,
        250_000,
        300_000,
    )
    assert (funding.overflow, funding.hours_needed) == (OverflowRule.POT, 40)
    assert "$2,500.00" in client.get(f"/c/eastside/rounds/{r.id}/terms").get_data(as_text=True)
    westside, west_people = factories.community("westside")
    other = factories.open_round(westside, west_people["organizer"][0])
    assert (
        client.get(f"/c/eastside/rounds/{r.id}/projects/{other.projects[0].id}/targets").status_code
        == 404
    )


def test_grant_with_listed_projects_match_and_expiry(app, client):
    _, _, r = setup()
    garden, tutoring, _ = r.projects
    client.login(ORGANIZER)
    url = f"/c/eastside/rounds/{r.id}/grants"
    page = client.get(url).get_data(as_text=True)
    assert f'value="{garden.id}"' in page and 'type="checkbox"' in page
    past = (utcnow() - timedelta(days=1)).date().isoformat()
    expired = client.post(
        url, {"name": "Old", "amount": "100", "priority_area_id": 0, "expires_on": past}
    )
    assert expired.status_code == 422
    assert field_error(expired.get_data(as_text=True), "expires_on") == (
        "This date has passed; the grant would be unusable."
    )
    ratio = client.post(
        url, {"name": "Odd", "amount": "100", "priority_area_id": 0, "match_percent": "0"}
    )
    assert ratio.status_code == 422
    assert "A matching ratio is between 1% and 10,000%." in ratio.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Grant)) == 0
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 0

    until = (utcnow() + timedelta(days=60)).date()
    added = client.post(
        url,
        {
            "name": "Food fund",
            "funder": "Harvest Foundation",
            "amount": "1,500",
            "priority_area_id": 0,
            "projects": [str(garden.id), str(tutoring.id)],
            "match_percent": "150",
            "expires_on": until.isoformat(),
        },
    )
    assert added.status_code == 302
    grant = db.session.scalars(select(Grant)).one()
    assert [p.title for p in grant.projects] == ["Garden", "Tutoring"]
    assert (grant.amount_cents, grant.match_percent, grant.expires_on) == (150_000, 150, until)
    assert ledger.balance(r.id, Account.GRANTS, grant_id=grant.id) == 150_000
    page = client.get(url).get_data(as_text=True)
    assert "matches residents&#39; money 1.5:1 in each project" in page
    assert f"usable until {until.isoformat()}" in page


# -- the treasury ------------------------------------------------------------------------


def test_payments_and_refunds_before_approval(app, client):
    _, people, r = setup()
    r1, r2, r3 = people["residents"][:3]
    pot = pledged(r, r1, 100_000)
    gone = pledged(r, r2, 20_000)
    aon = pledged(
        r,
        r3,
        50_000,
        target=TargetKind.PROJECT,
        project_ids=[r.projects[2].id],
        condition=Condition.ALL_OR_NOTHING,
    )
    client.login(ORGANIZER)
    base = f"/c/eastside/rounds/{r.id}/treasury"
    page = client.get(base).get_data(as_text=True)
    assert "Record $1,000.00 received" in page
    assert "All-or-nothing: collected once the board approves" in page

    no_ref = client.post(f"{base}/pledges/{pot.id}/collect", {"method": "cheque"})
    assert no_ref.status_code == 422
    page = no_ref.get_data(as_text=True)
    assert "The payment was not recorded." in page
    assert "Give the cheque number or the bank transfer&#39;s reference." in page
    assert '<details class="act" open>' in page
    assert ledger.balance(r.id, Account.POOL) == 0

    paid = client.post(
        f"{base}/pledges/{pot.id}/collect?state=confirmed", {"method": "cash", "reference": "R-1"}
    )
    assert paid.status_code == 302
    assert paid.headers["Location"].endswith(f"treasury?state=confirmed#pledge-{pot.id}")
    db.session.refresh(pot)
    assert pot.state == PledgeState.COLLECTED and pot.payment_reference == "R-1"
    entry = db.session.scalars(select(LedgerEntry).filter_by(kind="collect")).one()
    assert entry.memo == "cash R-1"
    assert ledger.balance(r.id, Account.POOL, pledge_id=pot.id) == 100_000
    assert "Recorded $1,000.00 from Resident 1 (cash)" in client.get(base).get_data(as_text=True)

    twice = client.post(f"{base}/pledges/{pot.id}/collect", {"method": "cash", "reference": "R-1"})
    assert twice.status_code == 422
    assert "A collected pledge cannot be collected." in twice.get_data(as_text=True)
    early = client.post(
        f"{base}/pledges/{aon.id}/collect", {"method": "bank_transfer", "reference": "T-1"}
    )
    assert early.status_code == 422
    assert "collected only once the board approves" in early.get_data(as_text=True)
    assert (
        db.session.scalar(select(func.count()).select_from(LedgerEntry).filter_by(kind="collect"))
        == 1
    )

    # A paid pledge that was not cancelled is not refunded before approval ...
    refused = client.post(f"{base}/pledges/{pot.id}/refund", {"method": "cash"})
    assert refused.status_code == 422
    assert "Only a pledge its resident cancelled" in refused.get_data(as_text=True)
    # ... a cancelled one is, and the filter finds it.
    client.post(f"{base}/pledges/{gone.id}/collect", {"method": "cheque", "reference": "104"})
    cancel_pledge(db.session.get(Pledge, gone.id), r2)
    db.session.commit()
    due = client.get(f"{base}?state=to_refund").get_data(as_text=True)
    assert gone.receipt_code in due and pot.receipt_code not in due
    assert "Refund $200.00" in due
    refunded = client.post(
        f"{base}/pledges/{gone.id}/refund", {"method": "bank_transfer", "reference": "RF-7"}
    )
    assert refunded.status_code == 302
    db.session.refresh(gone)
    assert gone.state == PledgeState.REFUNDED
    assert ledger.balance(r.id, Account.REFUNDS) == 20_000
    assert ledger.balance(r.id, Account.POOL) == 100_000
    assert verify([r.id]).ok

    # Filters: instrument, target, search by resident or receipt code.
    assert pot.receipt_code in client.get(f"{base}?q=resident+1").get_data(as_text=True)
    found = client.get(f"{base}?q={aon.receipt_code.lower()}").get_data(as_text=True)
    assert aon.receipt_code in found and pot.receipt_code not in found
    aimed = client.get(f"{base}?target=project:{r.projects[2].id}").get_data(as_text=True)
    assert aon.receipt_code in aimed and pot.receipt_code not in aimed
    loans = client.get(f"{base}?instrument=loan").get_data(as_text=True)
    assert "No pledges match." in loans
    assert client.get(f"{base}?state=nonsense&target=project:x").status_code == 200


def test_after_approval_collect_disburse_and_ledger_csv_matches_the_page(app, client):
    _, people, r = setup()
    organizer = people["organizer"][0]
    r1, r2, r3 = people["residents"][:3]
    garden, tutoring, safety = r.projects
    set_terms(
        r,
        actor=organizer,
        accepts_donations=True,
        accepts_shares=False,
        accepts_loans=True,
        share_price_cents=None,
        loan_rate_bps=300,
        loan_term_months=24,
        min_pledge_cents=100,
        max_pledge_cents=500_000,
        resident_cap_cents=None,
    )
    pot = pledged(r, r1, 100_000)
    loan = pledged(
        r,
        r3,
        200_000,
        instrument=Instrument.LOAN,
        target=TargetKind.PROJECT,
        project_ids=[tutoring.id],
    )
    aon = pledged(
        r,
        r2,
        50_000,
        target=TargetKind.PROJECT,
        project_ids=[safety.id],
        condition=Condition.ALL_OR_NOTHING,
    )
    city_grant(r, organizer)
    collect_pledge(pot, method=PaymentMethod.CASH, reference="R-1", actor=organizer)
    db.session.commit()
    approve(r, people)
    db.session.refresh(aon)
    assert aon.state == PledgeState.RELEASED

    client.login(ORGANIZER)
    base = f"/c/eastside/rounds/{r.id}/treasury"
    page = client.get(base).get_data(as_text=True)
    assert "Record $2,000.00 received" in page
    early = client.post(f"{base}/projects/{tutoring.id}/disburse", {"reference": "cheque 12"})
    assert early.status_code == 302  # the grant's share of Tutoring is already there
    paid_early = ledger.balance(r.id, Account.DISBURSED, project_id=tutoring.id)
    assert 0 < paid_early < tutoring.cost_cents

    collected = client.post(
        f"{base}/pledges/{loan.id}/collect", {"method": "bank_transfer", "reference": "T-9"}
    )
    assert collected.status_code == 302
    db.session.refresh(loan)
    assert loan.state == PledgeState.ALLOCATED
    no_ref = client.post(f"{base}/projects/{tutoring.id}/disburse", {"reference": " "})
    assert no_ref.status_code == 422
    assert "Nothing was paid out." in no_ref.get_data(as_text=True)
    done = client.post(f"{base}/projects/{tutoring.id}/disburse", {"reference": "cheque 13"})
    assert done.status_code == 302
    assert ledger.balance(r.id, Account.DISBURSED, project_id=tutoring.id) == tutoring.cost_cents
    db.session.refresh(loan)
    assert loan.state == PledgeState.DISBURSED
    again = client.post(f"{base}/projects/{tutoring.id}/disburse", {"reference": "cheque 14"})
    assert again.status_code == 422
    assert "Nothing has been allocated to this project that is not paid." in again.get_data(
        as_text=True
    )
    not_ours = client.post(f"{base}/projects/999999/disburse", {"reference": "x"})
    assert not_ours.status_code == 404
    assert verify([r.id]).ok

    # The ledger page's running "money held" and the CSV's are the same numbers.
    page = client.get(f"/c/eastside/rounds/{r.id}/ledger").get_data(as_text=True)
    assert "Verified: every entry balances" in page
    on_page = {
        int(entry_id): parse_cents(re.search(r'class="num held[^"]*">([^<]+)</td>', body).group(1))
        for entry_id, body in re.findall(
            r'<tbody class="entry" id="entry-(\d+)">(.*?)</tbody>', page, re.S
        )
    }
    rows = csv_rows(client.get(f"/c/eastside/rounds/{r.id}/ledger.csv"))
    header, lines = rows[0], rows[1:]
    assert "debit (USD)" in header and "money_held_after_entry (USD)" in header
    held = header.index("money_held_after_entry (USD)")
    in_csv = {int(line[0]): parse_cents(line[held]) for line in lines}
    assert in_csv == on_page
    assert len(on_page) == db.session.scalar(
        select(func.count()).select_from(LedgerEntry).filter_by(round_id=r.id)
    )
    last = max(on_page)
    assert on_page[last] == ledger.balance(r.id, Account.POOL) + ledger.balance(
        r.id, Account.PROJECT
    )
    debit, credit = header.index("debit (USD)"), header.index("credit (USD)")
    assert sum(parse_cents(x[debit] or "0") for x in lines) == sum(
        parse_cents(x[credit] or "0") for x in lines
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", lines[0][1])
    assert re.search(r"\$[\d,]+\.\d\d", page)  # the page shows money, the CSV plain units
    assert all(re.fullmatch(r"\d+\.\d\d", line[held]) for line in lines)


def test_csv_exports_escape_formulas(app, client):
    _, people, r = setup()
    organizer = people["organizer"][0]
    evil = people["residents"][0]
    evil.name = '=HYPERLINK("http://evil.test","click")'
    db.session.commit()
    pledge = pledged(r, evil, 1_250)
    collect_pledge(pledge, method=PaymentMethod.CHEQUE, reference="@SUM(A1:A9)", actor=organizer)
    db.session.commit()
    client.login(ORGANIZER)
    rows = csv_rows(client.get(f"/c/eastside/rounds/{r.id}/treasury/pledges.csv"))
    header, line = rows[0], rows[1]
    assert "amount (USD)" in header
    record = dict(zip(header, line, strict=True))
    assert record["resident"] == "'" + evil.name
    assert record["payment_reference"] == "'@SUM(A1:A9)"
    assert record["amount (USD)"] == "12.50" and record["paid (USD)"] == "12.50"
    ledger_rows = csv_rows(client.get(f"/c/eastside/rounds/{r.id}/ledger.csv"))
    cells = [cell for row in ledger_rows[1:] for cell in row]
    assert "'" + evil.name in cells and "'cheque @SUM(A1:A9)" not in cells
    assert all(not cell.startswith(("=", "+", "-", "@")) for cell in cells)


# -- statements and who may see what ------------------------------------------------------


def test_statements_are_private(app, make_client):
    _, people, r = setup()
    r1, r2 = people["residents"][:2]
    mine = pledged(r, r1, 4_200)
    theirs = pledged(r, r2, 9_900)
    alice, bob, olga, board = make_client(), make_client(), make_client(), make_client()
    alice.login("r1@eastside.test")
    page = alice.get(f"/c/eastside/rounds/{r.id}/statement").get_data(as_text=True)
    assert mine.receipt_code in page and theirs.receipt_code not in page
    assert "Confirmed: $42.00 promised, not yet paid." in page
    assert alice.get(f"/c/eastside/rounds/{r.id}/statement/{r1.id}").status_code == 200
    assert alice.get(f"/c/eastside/rounds/{r.id}/statement/{r2.id}").status_code == 404
    bob.login("r2@eastside.test")
    assert bob.get(f"/c/eastside/rounds/{r.id}/statement/{r1.id}").status_code == 404
    board.login("board1@eastside.test")
    assert board.get(f"/c/eastside/rounds/{r.id}/statement/{r1.id}").status_code == 404
    olga.login(ORGANIZER)
    seen = olga.get(f"/c/eastside/rounds/{r.id}/statement/{r1.id}")
    assert seen.status_code == 200
    assert mine.receipt_code in seen.get_data(as_text=True)
    assert theirs.receipt_code not in seen.get_data(as_text=True)
    stranger = factories.user("someone@else.test")
    db.session.commit()
    assert olga.get(f"/c/eastside/rounds/{r.id}/statement/{stranger.id}").status_code == 404


def test_residents_and_board_cannot_handle_money(app, make_client):
    _, people, r = setup()
    pledge = pledged(r, people["residents"][0], 5_000)
    resident, board = make_client(), make_client()
    resident.login("r2@eastside.test")
    base = f"/c/eastside/rounds/{r.id}"
    for path in (
        "/treasury",
        "/treasury/pledges.csv",
        "/ledger",
        "/ledger.csv",
        "/terms",
        f"/projects/{r.projects[0].id}/targets",
        "/grants",
    ):
        assert resident.get(base + path).status_code == 403, path
    collect = f"{base}/treasury/pledges/{pledge.id}/collect"
    assert resident.post(collect, {"method": "cash", "reference": "x"}).status_code == 403
    board.login("board1@eastside.test")
    # Pledges name residents: the organizers keep the books; the board reads the report.
    for path in ("/treasury", "/treasury/pledges.csv", "/ledger", "/ledger.csv"):
        assert board.get(base + path).status_code == 403, path
    assert board.post(collect, {"method": "cash", "reference": "x"}).status_code == 403
    assert board.get(f"{base}/terms").status_code == 403
    db.session.refresh(pledge)
    assert pledge.state == PledgeState.CONFIRMED


def test_a_post_without_csrf_token_is_refused(app, client):
    _, people, r = setup()
    pledge = pledged(r, people["residents"][0], 5_000)
    client.login(ORGANIZER)
    url = f"/c/eastside/rounds/{r.id}/treasury/pledges/{pledge.id}/collect"
    response = client.post(url, {"method": "cash", "reference": "R-1"}, csrf=False)
    assert response.status_code == 400
    terms = client.post(
        f"/c/eastside/rounds/{r.id}/terms",
        {"accepts_donations": "y", "min_pledge": "5", "max_pledge": "10"},
        csrf=False,
    )
    assert terms.status_code == 400
    db.session.refresh(pledge)
    assert pledge.state == PledgeState.CONFIRMED
    assert db.session.get(PledgeTerms, r.id) is None
