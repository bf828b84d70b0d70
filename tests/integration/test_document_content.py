"""What the issued PDFs say, read back from their text and checked against the database.

One round with every instrument: donations, member shares ($25 each) and community loans
(4.50% over 24 months), to the common pot and earmarked to projects, plus a food grant.
Garden ($2,000) and Tutoring ($3,000) are funded; the Safety App ($4,000) is not.
"""

from __future__ import annotations

import io
import re
from collections import defaultdict
from dataclasses import dataclass

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from commonpot.extensions import db
from commonpot.models import Role, RoundStatus
from commonpot.money import format_cents
from commonpot.rounds.services import grant_role, transition
from pooling import loans
from pooling.allocation import pledge_sources, run_allocation
from pooling.grants import add_grant
from pooling.hours import pledge_hours
from pooling.issuing import generate_documents, sign_round
from pooling.models import (
    Condition,
    Instrument,
    OverflowRule,
    PaymentMethod,
    Pledge,
    PledgeShare,
    TargetKind,
)
from pooling.pledges import confirm_pledge, make_pledge
from pooling.settlement import pledge_allocations
from pooling.terms import set_project_funding, set_terms
from pooling.treasury import collect_pledge
from surveys.services import submit_response
from tests import factories

SHARE_PRICE = 2_500
RATE_BPS, MONTHS = 450, 24
# Residents with names that cannot appear in a document by accident.
NAMES = [f"Quillon Vantablack {chr(65 + i)}" for i in range(9)]
REPORT_SECTIONS = [
    "Money in",
    "Where the money goes",
    "Funded projects",
    "Projects not funded",
    "Priority areas",
    "Participation",
    "Money sources and their rules",
    "Method",
    "Approval by the board",
]


def money(cents: int) -> str:
    return format_cents(cents, "USD")


def cents_of(text: str) -> int:
    return int(text.replace("$", "").replace(",", "").replace(".", ""))


def pages_of(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def flat(pdf: bytes) -> str:
    return " ".join(" ".join(pages_of(pdf)).split())


def _round(community, organizer):
    r = factories.open_round(
        community,
        organizer,
        projects=(("Garden", 0, 200_000), ("Tutoring", 1, 300_000), ("Safety App", 2, 400_000)),
    )
    r.projects[0].lead_name = "Lena Lead"
    r.projects[1].lead_name = "Tomas Tutor"
    set_terms(
        r,
        actor=organizer,
        accepts_donations=True,
        accepts_shares=True,
        accepts_loans=True,
        share_price_cents=SHARE_PRICE,
        loan_rate_bps=RATE_BPS,
        loan_term_months=MONTHS,
        min_pledge_cents=500,
        max_pledge_cents=500_000,
        resident_cap_cents=None,
    )
    garden = r.projects[0]
    set_project_funding(
        garden,
        actor=organizer,
        min_cents=150_000,
        optimum_cents=200_000,
        max_cents=250_000,
        overflow=OverflowRule.REFUSE,
        hours_needed=40,
    )
    add_grant(
        r,
        name="Food Access Grant",
        funder="Harvest Foundation",
        amount_cents=150_000,
        priority_area_id=r.priority_areas[0].id,
        cap_per_project_cents=100_000,
        actor=organizer,
    )
    return r


def _pledges(r, residents, organizer) -> None:
    garden, tutoring, _ = r.projects
    pot = {"target": TargetKind.POT}
    plan = [
        (Instrument.DONATION, {"amount_cents": 50_000}, pot),
        (Instrument.SHARES, {"shares": 8}, pot),
        (Instrument.LOAN, {"amount_cents": 120_000}, pot),
        (
            Instrument.LOAN,
            {"amount_cents": 80_000},
            {"target": TargetKind.PROJECT, "project_ids": [tutoring.id]},
        ),
        (
            Instrument.SHARES,
            {"shares": 4},
            {
                "target": TargetKind.PROJECT,
                "project_ids": [garden.id],
                "condition": Condition.ALL_OR_NOTHING,
            },
        ),
        (
            Instrument.DONATION,
            {"amount_cents": 30_000},
            {"target": TargetKind.PROJECT, "project_ids": [garden.id]},
        ),
        (Instrument.DONATION, {"amount_cents": 100_000}, pot),
        (Instrument.SHARES, {"shares": 6}, pot),
    ]
    made = []
    for resident, (instrument, amount, target) in zip(residents, plan, strict=False):
        pledge = make_pledge(r, resident, instrument=instrument, **amount, **target)
        confirm_pledge(pledge, resident)
        made.append(pledge)
    make_pledge(r, residents[8], instrument=Instrument.LOAN, amount_cents=60_000)  # unconfirmed
    collect_pledge(made[0], method=PaymentMethod.CASH, reference="C-1", actor=organizer)


def build_round():
    """The round closed and allocated (documents not generated yet)."""
    community, people = factories.community(residents=0)
    organizer = people["organizer"][0]
    residents = []
    for i, name in enumerate(NAMES):
        resident = factories.user(f"q{i}@eastside.test", name)
        grant_role(resident, community, Role.RESIDENT, actor=None)
        residents.append(resident)
    r = _round(community, organizer)
    garden, tutoring, safety = r.projects
    ranks = {a.id: i for i, a in enumerate(r.priority_areas, 1)}
    for i, resident in enumerate(residents):
        votes = {garden.id, tutoring.id} | ({safety.id} if i % 3 == 0 else set())
        submit_response(r, resident, rankings=ranks, votes=votes)
    _pledges(r, residents, organizer)
    # Garden needs 40 volunteer hours: a project short of hours is never funded.
    pledge_hours(r, residents[0], garden, hours=25)
    pledge_hours(r, residents[1], garden, hours=15)
    transition(r, RoundStatus.CLOSED, actor=organizer)
    run = run_allocation(r, "max-welfare", actor=organizer)
    db.session.commit()
    return r, run, people


def expected_by_instrument(r, run) -> dict[int, dict[str, int]]:
    """{project id: {instrument or "grant": cents}} from the settlement arithmetic."""
    pledges = {p.id: p for p in db.session.scalars(select(Pledge).filter_by(round_id=r.id))}
    out: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for pledge_id, per_project in pledge_allocations(run, pledge_sources(r)).items():
        for project_id, cents in per_project.items():
            out[project_id][pledges[pledge_id].instrument.value] += cents
    for line in run.lines:
        if line.grant_id is not None:
            out[line.project_id]["grant"] += line.cents
    return {pid: {k: v for k, v in parts.items() if v} for pid, parts in out.items()}


def shares_subscribed(r, run) -> dict[int, int]:
    """Per project: the shares bought by the share pledges whose money funds it."""
    groups = pledge_sources(r)
    pledges = {p.id: p for members in groups.values() for p in members}
    out: dict[int, int] = defaultdict(int)
    for pledge_id, per_project in pledge_allocations(run, groups).items():
        if pledges[pledge_id].instrument == Instrument.SHARES:
            for project_id in per_project:
                out[project_id] += pledges[pledge_id].shares
    return out


AMOUNT = r"(\$[\d,.]+)"
ROWS = {
    "donation": rf"Donations \d+ gifts? Given outright; never repaid {AMOUNT}",
    "shares": rf"Member shares \d+ members? \d+ shares? × [$\d,.]+ = [$\d,.]+ subscribed {AMOUNT}",
    "loan": rf"Community loans \d+ loans? [\d.]+% a year, \d+ months, monthly annuity {AMOUNT}",
    "grant": rf"Grant: .+? Conditions below; not repaid {AMOUNT}",
}


def printed_parts(text: str) -> dict[str, int]:
    """The term sheet's amounts by instrument, read from its sources table."""
    found = {key: sum(cents_of(a) for a in re.findall(row, text)) for key, row in ROWS.items()}
    return {key: cents for key, cents in found.items() if cents}


@dataclass(frozen=True)
class Issued:
    """What the tests read: the PDFs, and the database's figures when they were made."""

    report: bytes
    sheets: dict[str, bytes]  # by project title
    parts: dict[str, dict[str, int]]  # by project title: instrument -> cents
    costs: dict[str, int]
    shares: dict[str, int]
    available_cents: int
    allocated_cents: int
    board: list[str]


_ISSUED: dict[str, Issued] = {}


@pytest.fixture
def issued(app) -> Issued:
    """Made once per database backend: rendering is the slow part, and these tests only
    read the PDFs and the figures the database held when they were generated."""
    key = str(db.engine.url)
    if key not in _ISSUED:
        r, run, people = build_round()
        documents = generate_documents(r, actor=people["organizer"][0])
        titles = {p.id: p.title for p in r.projects}
        _ISSUED[key] = Issued(
            report=documents[0].pdf,
            sheets={titles[d.project_id]: d.pdf for d in documents[1:]},
            parts={titles[pid]: parts for pid, parts in expected_by_instrument(r, run).items()},
            costs={o.project.title: o.project.cost_cents for o in run.outcomes if o.funded},
            shares={titles[pid]: n for pid, n in shares_subscribed(r, run).items()},
            available_cents=run.available_cents,
            allocated_cents=run.allocated_cents,
            board=[u.name for u in people["board"]],
        )
        db.session.rollback()
    return _ISSUED[key]


def test_funded_amounts_and_sources_by_instrument(issued: Issued) -> None:
    assert set(issued.costs) == set(issued.sheets) == {"Garden", "Tutoring"}
    report = flat(issued.report)
    for title, cost in issued.costs.items():
        parts = issued.parts[title]
        assert sum(parts.values()) == cost  # funded at full cost, every cent placed
        text = flat(issued.sheets[title])
        assert f"FUNDED AMOUNT {money(cost)}" in text.upper()
        assert printed_parts(text) == parts
        assert f"Total {money(cost)}" in text
        if "grant" in parts:
            assert f"Harvest Foundation Conditions below; not repaid {money(parts['grant'])}" in (
                text
            )
            assert "Food security projects only; at most $1,000.00 per project" in text
        # The report's funded-projects table breaks the same amounts down.
        assert title in report and money(cost) in report
        for label, key in (("Donations", "donation"), ("Member shares", "shares")):
            if key in parts:
                assert f"{label}: {money(parts[key])}" in report
    assert {"donation", "shares", "loan", "grant"} <= {
        key for parts in issued.parts.values() for key in parts
    }


def test_share_counts_times_price(issued: Issued) -> None:
    checked = 0
    for title, text in ((t, flat(pdf)) for t, pdf in issued.sheets.items()):
        match = re.search(rf"(\d+) shares? × {AMOUNT} = {AMOUNT} subscribed", text)
        if "shares" not in issued.parts[title]:
            assert match is None
            continue
        count, price, subscribed = int(match[1]), cents_of(match[2]), cents_of(match[3])
        assert price == SHARE_PRICE and count * price == subscribed
        assert count == issued.shares[title]
        checked += 1
    assert checked == 2


def test_loan_schedule_totals_are_principal_plus_interest(issued: Issued) -> None:
    checked = 0
    for title, pdf in issued.sheets.items():
        principal = issued.parts[title].get("loan", 0)
        text = flat(pdf)
        if not principal:
            assert "Community loans at" not in text
            continue
        match = re.search(
            rf"Total over {MONTHS} months payments {AMOUNT} interest {AMOUNT} principal {AMOUNT}",
            text,
        )
        assert match, text
        paid, interest, shown = (cents_of(g) for g in match.groups())
        assert shown == principal and paid == principal + interest
        assert (paid, interest) == loans.totals(loans.schedule(principal, RATE_BPS, MONTHS))
        monthly = loans.monthly_payment(principal, RATE_BPS, MONTHS)
        assert f"MONTHLY PAYMENT {money(monthly)}" in text.upper()
        assert f"TOTAL INTEREST {money(interest)}" in text.upper()
        assert f"TOTAL REPAID {money(paid)}" in text.upper()
        # Every month is printed, and the printed rows add up to the totals.
        printed = re.findall(
            rf"(?:^| )(\d{{1,2}}) {AMOUNT} {AMOUNT} {AMOUNT} {AMOUNT}(?= |$)", text
        )
        months = {int(m[0]): [cents_of(v) for v in m[1:]] for m in printed}
        assert sorted(months) == list(range(1, MONTHS + 1))
        assert [sum(v[i] for v in months.values()) for i in range(3)] == [
            paid,
            interest,
            principal,
        ]
        assert months[MONTHS][3] == 0
        # Each loan's part is listed with its rate and term; the parts add up.
        parts = [cents_of(p) for p in re.findall(rf"Loan \d+ {AMOUNT} · 4\.50% · 24 mo\.", text)]
        assert len(parts) >= 1 and sum(parts) == principal
        checked += 1
    assert checked >= 1  # Tutoring: its earmarked loan and a part of the pot's


def test_no_resident_is_named_in_a_term_sheet(issued: Issued) -> None:
    for pdf in issued.sheets.values():
        text = flat(pdf)
        for name in NAMES:
            assert name not in text
        assert "Vantablack" not in text
        assert "Project lead acceptance" in text
        assert all(member in text for member in issued.board)  # the board signs: named


def test_term_sheet_targets_tranches_and_risks(issued: Issued) -> None:
    text = flat(issued.sheets["Garden"])
    assert "Minimum $1,500.00 reached" in text
    assert "Optimum $2,000.00 reached" in text
    assert "Maximum $2,500.00 not reached: $500.00 short" in text
    assert "Volunteer hours: 40 offered of 40 needed." in text
    assert "Residents pledged $400.00 to this project alone." in text  # shares + donation
    assert re.search(r"1 · 50% on signature.*? \$1,000\.00 2 · 50% on the mid-point", text)
    assert "standard two-tranche plan" in text and "one member, one vote" in text
    assert "can lose some or all" in text  # its shares' risk
    assert "loans are unsecured" not in text  # no loan money reaches the garden
    assert "Lena Lead" in text
    tutoring = flat(issued.sheets["Tutoring"])
    assert "loans are unsecured" in tutoring and "Tomas Tutor" in tutoring
    assert "No minimum, optimum or maximum was set" in tutoring


def test_report_money_in_matches_the_run(issued: Issued) -> None:
    text = flat(issued.report)
    total = re.search(r"Money in .*? Total (\d+) ((?:\$[\d,.]+ ?){5})", text)
    assert total, text
    unconfirmed, confirmed, collected, counted, allocated = map(cents_of, total[2].split())
    assert int(total[1]) == 8  # counting pledges
    assert unconfirmed == 60_000  # the unconfirmed loan, not used
    assert collected == 50_000  # the one payment recorded
    assert confirmed + collected + 150_000 == counted  # and the grant
    assert counted == issued.available_cents and allocated == issued.allocated_cents
    row = re.search(r"Community loans (\d+) ((?:\$[\d,.]+ ?){5})", text)
    assert row and int(row[1]) == 2
    values = [cents_of(v) for v in row[2].split()]
    assert values[:4] == [60_000, 200_000, 0, 200_000]
    assert values[4] == sum(parts.get("loan", 0) for parts in issued.parts.values())


def test_report_contents_lists_every_section_with_its_page(issued: Issued) -> None:
    pages = pages_of(issued.report)
    toc = pages[0][pages[0].index("Contents") :]
    for title in REPORT_SECTIONS:
        match = re.search(rf"^{re.escape(title)}[ .]*?(\d+)$", toc, flags=re.M)
        assert match, (title, toc)
        headings = [
            line
            for line in pages[int(match[1]) - 1].splitlines()
            if line.startswith(title) and ". ." not in line  # not the contents' own line
        ]
        assert headings, (title, match[1])
    assert f"Page 1 of {len(pages)}" in pages[0]
    assert all("Eastside Cooperative" in page and "Test round" in page for page in pages)


def test_settlement_takes_what_the_term_sheets_say(app) -> None:
    r, run, people = build_round()
    documents = generate_documents(r, actor=people["organizer"][0])
    printed = {d.project_id: printed_parts(flat(d.pdf)) for d in documents[1:]}
    for member in people["board"][:2]:
        sign_round(r, member)
    db.session.commit()
    assert r.status == RoundStatus.APPROVED
    taken: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for share in db.session.scalars(select(PledgeShare)):
        pledge = db.session.get(Pledge, share.pledge_id)
        taken[share.project_id][pledge.instrument.value] += share.cents
    for project_id, parts in printed.items():
        assert dict(taken[project_id]) == {k: v for k, v in parts.items() if k != "grant"}
