"""The comparison page against a round worked by hand, and using a compared result.

P costs $900, Q and R $500 each; $1,000 in the pot. Six ballots: {P}, {P}, {P, Q}, {Q},
{R}, {R}. Support P 3, Q 2, R 2.
- greedy takes P first (most support); then $100 is left and neither Q nor R fits:
  funded P, cost $900, support 3, $100 unspent; voters 1-3 have a funded project: 3 of 6.
- maximum support: Q and R together (support 4) beat P (3): cost $1,000, nothing unspent,
  voters 3-6 served: 4 of 6.
- equal shares: each voter's share starts at $1,000 / 6 = $166.67; no project's
  supporters can pay for it. With add1 the shares grow by $1 until they reach $250.67,
  when Q's two supporters and R's two can each pay $250: Q and R, $1,000, 4 of 6. Without
  a completion ("none") nothing is bought: $1,000 unspent, 0 of 6.
"""

from __future__ import annotations

import html
import json
import re

import pytest
from sqlalchemy import select

from commonpot.audit import AuditEvent
from commonpot.extensions import db
from commonpot.models import RoundStatus
from pooling.allocation import chosen_run, run_allocation
from pooling.issuing import generate_documents
from pooling.models import AllocationRun, Document
from tests import factories

PROJECTS = (("P", 0, 90_000), ("Q", 1, 50_000), ("R", 2, 50_000))
BALLOTS = [{0}, {0}, {0, 1}, {1}, {2}, {2}]
ORGANIZER = "organizer@eastside.test"
RULE_COLUMNS = ["Greedy by support", "Equal shares", "Maximum support (optimal)"]


@pytest.fixture
def setup(app, client):
    c, people = factories.community()
    r = factories.voted_round(c, people, PROJECTS, BALLOTS, pot_cents=100_000)
    client.login(ORGANIZER)
    return r, people


def compare_url(r) -> str:
    return f"/c/eastside/rounds/{r.id}/allocation/compare"


def cells(page: str, row: str) -> list[str]:
    """The text of each rule's cell in one row of a comparison table."""
    pattern = r"<tr[^>]*>\s*<th[^>]*>" + re.escape(row) + r"(?=[\s<]).*?</tr>"
    match = re.search(pattern, page, re.S)
    assert match, f"no row {row!r}"
    found = re.findall(r"<td[^>]*>(.*?)</td>", match.group(0), re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", c)).split()) for c in found]


def test_the_comparison_matches_the_hand_worked_round(setup, client):
    r, _ = setup
    response = client.post(compare_url(r), {"completion": "add1"})
    assert response.status_code == 302
    page = html.unescape(client.get(compare_url(r)).get_data(as_text=True))
    totals = page.split("Each rule's outcome")[1].split("Project by project")[0]
    headers = re.findall(r'<th scope="col" class="num">([^<]+)', totals)
    assert headers == ["Greedy by support", "Equal shares (add1)", "Maximum support (optimal)"]
    assert cells(totals, "Projects funded") == ["1", "2", "2"]
    assert cells(totals, "Total cost") == ["$900.00", "$1,000.00", "$1,000.00"]
    assert cells(totals, "Total support") == ["3", "4", "4"]
    assert cells(totals, "Money not spent") == ["$100.00", "$0.00", "$0.00"]
    assert cells(totals, "Voters with at least one funded project") == [
        "3 of 6 (50%)",
        "4 of 6 (67%)",
        "4 of 6 (67%)",
    ]
    assert cells(totals, "Solver status") == ["complete", "complete", "optimal"]
    for seconds in cells(totals, "Time taken"):
        assert re.fullmatch(r"\d+\.\d{3} s", seconds)

    projects = page.split("Project by project")[1]
    assert "The rules disagree on 3 projects, highlighted." in projects
    no = "not funded —"
    assert cells(projects, "P") == ["3", "$900.00", "✓ funded: $900.00", no, no]
    assert cells(projects, "Q")[2:] == [no, "✓ funded: $500.00", "✓ funded: $500.00"]
    assert projects.count('<tr class="differs">') == 3
    # One input snapshot: the runs differ only in the rule.
    runs = db.session.scalars(select(AllocationRun).order_by(AllocationRun.id)).all()
    assert len({run.comparison_id for run in runs}) == 1 and len(runs) == 3
    inputs = [json.loads(run.snapshot) for run in runs]
    assert [i.pop("rule") for i in inputs] == ["greedy", "equal-shares", "max-welfare"]
    options = [i.pop("options") for i in inputs]
    assert options == [{}, {"completion": "add1", "increment": 100}, {}]
    assert inputs[0] == inputs[1] == inputs[2]


def test_equal_shares_is_compared_with_the_chosen_completion(setup, client):
    r, _ = setup
    assert client.post(compare_url(r), {"completion": "none"}).status_code == 302
    page = html.unescape(client.get(compare_url(r)).get_data(as_text=True))
    totals = page.split("Each rule's outcome")[1].split("Project by project")[0]
    assert "Equal shares (none)" in totals
    assert cells(totals, "Total cost")[1] == "$0.00"
    assert cells(totals, "Money not spent")[1] == "$1,000.00"
    assert cells(totals, "Voters with at least one funded project")[1] == "0 of 6 (0%)"
    # The form keeps the completion compared.
    assert re.search(r'<input checked[^>]*value="none"', page)


def test_comparing_keeps_the_allocation_until_one_result_is_used(setup, client, make_client):
    r, people = setup
    organizer = people["organizer"][0]
    greedy = run_allocation(r, "greedy", actor=organizer)
    generate_documents(r, actor=organizer)
    db.session.commit()
    assert client.post(compare_url(r), {"completion": "add1"}).status_code == 302
    db.session.expire_all()
    assert chosen_run(r).id == greedy.id  # comparing changed nothing
    assert db.session.scalars(select(Document).filter_by(round_id=r.id)).all()
    page = client.get(compare_url(r)).get_data(as_text=True)
    # The compared greedy run has the allocation's very input, rule and options.
    assert page.count(">Use this result</button>") == 2 and "This is the allocation" in page

    # A board member reads the comparison but can neither compare nor choose.
    board = make_client()
    board.login(people["board"][0].email)
    assert board.get(compare_url(r)).status_code == 200
    best = db.session.scalar(
        select(AllocationRun).where(
            AllocationRun.rule == "max-welfare", AllocationRun.comparison_id.is_not(None)
        )
    )
    use = f"{compare_url(r)}/runs/{best.id}/use"
    assert board.post(use).status_code == 403
    assert board.post(compare_url(r), {"completion": "add1"}).status_code == 403

    response = client.post(use)
    assert response.status_code == 302 and response.headers["Location"].endswith("/allocation")
    db.session.expire_all()
    assert chosen_run(r).id == best.id
    assert {o.project.title for o in best.outcomes if o.funded} == {"Q", "R"}
    assert db.session.scalars(select(Document).filter_by(round_id=r.id)).all() == []
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "allocation.chosen")
    ).one()
    assert event.subject == f"allocation:{best.id}" and '"rule": "max-welfare"' in event.data
    page = html.unescape(client.get(f"/c/eastside/rounds/{r.id}/allocation").get_data(as_text=True))
    funded_part = page.split("Not funded")[0]
    assert "Maximum support (optimal)" in page
    assert re.findall(r'class="title-cell">(\w+) ', funded_part) == ["Q", "R"]


def test_a_closed_round_stays_closed_until_a_compared_result_is_used(setup, client):
    r, _ = setup
    assert client.post(compare_url(r), {"completion": "add1"}).status_code == 302
    db.session.expire_all()
    assert r.status == RoundStatus.CLOSED and chosen_run(r) is None
    greedy = db.session.scalar(select(AllocationRun).where(AllocationRun.rule == "greedy"))
    assert client.post(f"{compare_url(r)}/runs/{greedy.id}/use").status_code == 302
    db.session.expire_all()
    assert r.status == RoundStatus.ALLOCATED and chosen_run(r).id == greedy.id
    # Using it again is refused (it would only throw the round's documents away).
    again = client.post(f"{compare_url(r)}/runs/{greedy.id}/use")
    assert again.status_code == 302
    page = client.get(compare_url(r)).get_data(as_text=True)
    assert "This result is already the round&#39;s allocation." in page
    db.session.expire_all()
    assert chosen_run(r).id == greedy.id


def test_comparing_an_open_round_is_refused(app, client):
    c, people = factories.community()
    r = factories.voted_round(c, people, PROJECTS, BALLOTS, pot_cents=100_000, close=False)
    client.login(ORGANIZER)
    page = client.get(compare_url(r)).get_data(as_text=True)
    assert "Close the round before comparing the rules." in page
    response = client.post(compare_url(r), {"completion": "add1"})
    assert response.status_code == 422
    assert "Close the round before running the allocation." in response.get_data(as_text=True)
    assert db.session.scalars(select(AllocationRun)).all() == []
