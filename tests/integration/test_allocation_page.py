"""The allocation page: every rule (equal shares with its completion) run from the web form,
the constraints set on the constraints page reaching the optimizer, and the stored run
shown with its plan, the optimizer's explanations (projects named by title), its notes,
the solver status and the input's SHA-256.

The round, worked by hand: Garden $3,000 (Food security), Tutoring $4,000 (Education),
Safety App $5,000 (Place security), $7,000 in the pot; three ballots approve {Garden,
Tutoring, Safety App}, {Garden, Tutoring} and {Garden}. Support 3, 2, 1. Without
constraints greedy and maximum support fund Garden and Tutoring ($7,000); Safety App
never fits beside Garden.
"""

from __future__ import annotations

import hashlib
import html
import re

import pytest
from sqlalchemy import select

import optimizer
from commonpot.extensions import db
from commonpot.models import RoundStatus
from commonpot.rounds.services import transition
from pooling.allocation import build_input, chosen_run
from pooling.hours import pledge_hours
from pooling.models import FundingLine, OverflowRule
from pooling.terms import set_project_funding
from tests import factories

ORGANIZER = "organizer@eastside.test"
PROJECTS = (("Garden", 0, 300_000), ("Tutoring", 1, 400_000), ("Safety App", 2, 500_000))
BALLOTS = [{0, 1, 2}, {0, 1}, {0}]


@pytest.fixture
def round_(app, client):
    c, people = factories.community()
    r = factories.voted_round(c, people, PROJECTS, BALLOTS, pot_cents=700_000)
    client.login(ORGANIZER)
    return r


def url(r, page: str = "allocation") -> str:
    return f"/c/eastside/rounds/{r.id}/{page}"


def funded(r) -> set[str]:
    db.session.expire_all()
    run = chosen_run(r)
    return {o.project.title for o in run.outcomes if o.funded}


def selected_without_constraints(r, rule: str) -> set[str]:
    titles = {str(p.id): p.title for p in r.projects}
    result = optimizer.allocate(*build_input(r), rule)
    return {titles[p] for p in result.selected}


def run(client, r, rule: str, completion: str = "add1") -> str:
    response = client.post(url(r), {"rule": rule, "completion": completion})
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    return html.unescape(client.get(url(r)).get_data(as_text=True))


@pytest.mark.parametrize("rule", ["greedy", "equal-shares", "max-welfare"])
def test_a_dependency_changes_the_selection(round_, client, rule):
    r = round_
    garden, tutoring, safety = r.projects
    assert selected_without_constraints(r, rule) == {"Garden", "Tutoring"}
    data = {"project_id": garden.id, "requires_id": safety.id}  # Garden only with Safety App
    assert client.post(url(r, "constraints/dependencies"), data).status_code == 302
    page = run(client, r, rule)
    assert funded(r) == {"Tutoring"}  # Garden and Safety App together cost more than $7,000
    unfunded = page.split("Not funded")[1]
    garden_row = re.search(
        r'<tbody class="project-rows">\s*<tr><th[^>]*>Garden .*?</tbody>', unfunded, re.S
    ).group(0)
    assert "“Safety App”" in garden_row and "Related: Safety App" in garden_row
    assert not re.search(r"“\d+”", page)  # projects are named by title, never by id


def test_an_incompatible_group_changes_the_selection(round_, client):
    r = round_
    garden, tutoring, _ = r.projects
    assert client.post(url(r, "constraints/incompatible"), {"projects": [garden.id, tutoring.id]})
    page = run(client, r, "greedy")
    assert funded(r) == {"Garden"}
    assert "Incompatible with “Garden”, which was funded." in page


def test_an_area_maximum_holds_in_the_stored_plan(round_, client):
    r = round_
    food = r.priority_areas[0]
    data = {f"min_{a.id}": "" for a in r.priority_areas} | {
        f"max_{a.id}": "40" if a.id == food.id else "" for a in r.priority_areas
    }
    assert client.post(url(r, "constraints/shares"), data).status_code == 302
    run(client, r, "max-welfare")
    assert funded(r) == {"Tutoring"}  # Garden beside Tutoring would be 42.9% Food security
    lines = db.session.scalars(select(FundingLine).where(FundingLine.run_id == chosen_run(r).id))
    by_area: dict[int, int] = {}
    for line in lines:
        area = line.project.priority_area_id
        by_area[area] = by_area.get(area, 0) + line.cents
    total = sum(by_area.values())
    assert total == 400_000 and 10_000 * by_area.get(food.id, 0) <= 4_000 * total


def test_the_threshold_and_volunteer_hours_reach_the_optimizer(app, client):
    c, people = factories.community()
    r = factories.voted_round(c, people, PROJECTS, BALLOTS, pot_cents=700_000, close=False)
    garden, tutoring, _ = r.projects
    organizer = people["organizer"][0]
    set_project_funding(
        tutoring,
        actor=organizer,
        min_cents=None,
        optimum_cents=None,
        max_cents=None,
        overflow=OverflowRule.REFUSE,
        hours_needed=30,
    )
    pledge_hours(r, people["residents"][1], tutoring, hours=20)
    pledge_hours(r, people["residents"][2], garden, hours=5)
    transition(r, RoundStatus.CLOSED, actor=organizer)
    db.session.commit()
    instance, _ = build_input(r)
    hours = {p.id: (p.hours_needed, p.hours_offered) for p in instance.projects}
    assert hours[str(tutoring.id)] == (30, 20) and hours[str(garden.id)] == (None, 5)
    client.login(ORGANIZER)
    assert client.post(url(r, "constraints/threshold"), {"min_support": "2"}).status_code == 302
    page = run(client, r, "greedy")
    assert funded(r) == {"Garden"}  # Tutoring is 10 hours short, Safety App below 2
    assert "Needs 30 volunteer hours; 20 were offered." in page
    assert "Its support of 1 is below the minimum of 2 needed to be funded." in page


def test_equal_shares_runs_with_the_completion_chosen_on_the_form(round_, client):
    for completion, expected, label in [
        ("none", {"Garden"}, "Equal shares (completion: None)"),
        ("add1", {"Garden", "Tutoring"}, "Equal shares (completion: Add 1 (default))"),
        ("add1-greedy", {"Garden", "Tutoring"}, "Equal shares (completion: Add 1, then greedy)"),
    ]:
        page = run(client, round_, "equal-shares", completion)
        stored = chosen_run(round_)
        assert (stored.rule, stored.completion) == ("equal-shares", completion)
        assert funded(round_) == expected and label in page
        assert stored.voters == 3 and stored.voters_served == 3


def test_a_bad_rule_or_completion_is_named_next_to_the_field(round_, client):
    page = client.post(url(round_), {"rule": "lottery", "completion": "add1"})
    assert page.status_code == 422
    assert '<p class="error">Choose one of the listed rules.</p>' in page.get_data(as_text=True)
    page = client.post(url(round_), {"rule": "equal-shares", "completion": "add2"})
    assert '<p class="error">Choose one of the listed completions.</p>' in page.get_data(
        as_text=True
    )
    assert chosen_run(round_) is None and round_.status == RoundStatus.CLOSED


def test_the_page_shows_explanations_notes_status_and_fingerprint(round_, client):
    r = round_
    food = r.priority_areas[0]
    data = {f"max_{a.id}": "" for a in r.priority_areas} | {
        f"min_{a.id}": "60" if a.id == food.id else "" for a in r.priority_areas
    }
    assert client.post(url(r, "constraints/shares"), data).status_code == 302
    page = run(client, r, "greedy")
    stored = chosen_run(r)
    notes = page.split("Remarks on this outcome")[1].split("Funded projects")[0]
    assert (
        "Area “Food security” got 42.8% of the money funded ($3,000.00 of $7,000.00), below "
        "its minimum share of 60%" in notes
    )
    assert stored.notes and stored.notes[0] in notes
    # Each project's explanation is the optimizer's text as stored, with its code.
    by_title = {o.project.title: o for o in stored.outcomes}
    assert by_title["Garden"].code == "funded" and by_title["Garden"].explanation in page
    assert by_title["Safety App"].code == "insufficient_funds"
    assert "Needed $5,000.00; only $0.00 could still be raised" in page
    assert f'<code class="hash">{stored.input_sha256}</code>' in page
    assert 'solver status: <strong class="solver-status">complete</strong>' in page
    assert "Not proven optimal" not in page


def test_a_max_welfare_result_short_of_proven_optimal_says_so(round_, client):
    page = run(client, round_, "max-welfare")
    assert "optimal</strong>" in page and "Not proven optimal" not in page
    # A time limit would leave "feasible": the page must not pass it off as the best.
    stored = chosen_run(round_)
    stored.solver_status = "feasible"
    db.session.commit()
    page = html.unescape(client.get(url(round_)).get_data(as_text=True))
    assert "Not proven optimal." in page and "status “feasible”" in page


@pytest.mark.parametrize("rule", ["greedy", "equal-shares", "max-welfare"])
def test_the_stored_snapshot_is_the_fingerprinted_input_and_reruns_the_same(round_, client, rule):
    run(client, round_, rule)
    stored = chosen_run(round_)
    assert hashlib.sha256(stored.snapshot.encode()).hexdigest() == stored.input_sha256
    instance, profile, same_rule, options = optimizer.read_input(stored.snapshot)
    again = optimizer.allocate(instance, profile, same_rule, completion=options.get("completion"))
    assert again.input_sha256 == stored.input_sha256
    assert set(again.selected) == {str(o.project_id) for o in stored.outcomes if o.funded}
