"""The resident's side: one response per round, clear messages, private answers."""

from __future__ import annotations

import re
import threading

from sqlalchemy import func, select

from commonpot.extensions import db
from commonpot.models import RoundStatus
from commonpot.rounds.services import transition
from pooling.models import Pledge
from surveys.models import Response
from tests import factories


def setup(max_approvals=None):
    c, people = factories.community()
    r = factories.open_round(c, people["organizer"][0], max_approvals=max_approvals)
    return c, people, r


def ballot(r, ranks=(1, 2, 3), approve=(0,)):
    data = {f"area_{a.id}": str(rank) for a, rank in zip(r.priority_areas, ranks, strict=True)}
    data["approvals"] = [str(r.projects[i].id) for i in approve]
    return data


def test_ballot_errors_are_shown_and_nothing_is_saved(app, client):
    _, _, r = setup(max_approvals=1)
    client.login("r1@eastside.test", factories.PASSWORD)
    url = f"/c/eastside/rounds/{r.id}/survey"
    page = client.post(url, ballot(r, ranks=(1, 1, 2))).get_data(as_text=True)
    assert "Give each priority area a different rank" in page
    page = client.post(url, ballot(r, approve=())).get_data(as_text=True)
    assert "Approve at least one project." in page
    response = client.post(url, ballot(r, approve=(0, 1)))
    assert response.status_code == 422
    assert "Approve at most 1 projects (you chose 2)." in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Response)) == 0


def test_resident_changes_answers_and_keeps_one_response(app, client):
    _, people, r = setup()
    client.login("r1@eastside.test", factories.PASSWORD)
    url = f"/c/eastside/rounds/{r.id}/survey"
    assert client.post(url, ballot(r, approve=(0,))).status_code == 302
    code = db.session.scalar(select(Response.receipt_code))
    assert client.post(url, ballot(r, ranks=(3, 2, 1), approve=(1, 2))).status_code == 302
    db.session.expire_all()
    responses = db.session.scalars(select(Response)).all()
    assert len(responses) == 1 and responses[0].receipt_code == code
    assert sorted(v.project.title for v in responses[0].votes) == ["Safety App", "Tutoring"]
    assert [x.priority_area.name for x in responses[0].rankings] == [
        "Place security",
        "Education",
        "Food security",
    ]
    page = client.get(url).get_data(as_text=True)
    assert code in page  # the form says when they answered, with their receipt


def test_two_tabs_submitting_at_once_still_make_one_response(app, make_client):
    _, _, r = setup()
    tabs = [make_client() for _ in range(2)]
    for tab in tabs:
        tab.login("r1@eastside.test", factories.PASSWORD)
    tokens = [tab.csrf() for tab in tabs]
    url, answer = f"/c/eastside/rounds/{r.id}/survey", ballot(r)
    results = []

    def submit(tab, token):
        response = tab.http.post(url, data={**answer, "csrf_token": token})
        results.append(response.status_code)

    threads = [
        threading.Thread(target=submit, args=pair) for pair in zip(tabs, tokens, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    db.session.commit()
    assert sorted(results) == [302, 302], results
    assert db.session.scalar(select(func.count()).select_from(Response)) == 1
    assert 500 not in results


def test_closed_round_takes_no_answers_or_pledges(app, client):
    _, people, r = setup()
    transition(r, RoundStatus.CLOSED, actor=people["organizer"][0])
    db.session.commit()
    client.login("r1@eastside.test", factories.PASSWORD)
    response = client.post(f"/c/eastside/rounds/{r.id}/survey", ballot(r))
    assert response.status_code == 302
    response = client.post(f"/c/eastside/rounds/{r.id}/pledge", {"amount": "10", "target": "pot"})
    assert response.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(Response)) == 0
    assert db.session.scalar(select(func.count()).select_from(Pledge)) == 0


def test_bad_pledge_amounts_get_clear_messages(app, client):
    _, _, r = setup()
    client.login("r1@eastside.test", factories.PASSWORD)
    url = f"/c/eastside/rounds/{r.id}/pledge"
    for amount, message in [
        ("abc", "Enter an amount like 25 or 25.50."),
        ("10.005", "Amounts have at most two decimals (cents)."),
        ("0.50", "The smallest pledge is $1.00."),
        ("1e9", "One pledge can hold at most $100,000.00."),
        ("", "Enter the amount you pledge, like 25 or 25.50."),
    ]:
        response = client.post(url, {"amount": amount, "target": "pot"})
        assert response.status_code == 422, amount
        assert message in response.get_data(as_text=True), amount
    assert db.session.scalar(select(func.count()).select_from(Pledge)) == 0
    response = client.post(url, {"amount": "12.5", "target": "pot"})
    assert response.status_code == 302 and "/pledges/" in response.headers["Location"]
    assert db.session.scalar(select(Pledge.amount_cents)) == 1250
    # A new amount for the same target changes the unconfirmed pledge and keeps its receipt.
    code = db.session.scalar(select(Pledge.receipt_code))
    assert client.post(url, {"amount": "40", "target": "pot"}).status_code == 302
    pledge = db.session.scalars(select(Pledge)).one()
    db.session.refresh(pledge)
    assert (pledge.amount_cents, pledge.receipt_code) == (4000, code)
    # Another target is another pledge.
    project = r.projects[0].id
    assert (
        client.post(url, {"amount": "40", "target": "project", "project": project}).status_code
        == 302
    )
    assert db.session.scalar(select(func.count()).select_from(Pledge)) == 2


def test_answers_are_private_and_tallies_hidden_while_open(app, make_client):
    _, _, r = setup()
    alice, bob, organizer = make_client(), make_client(), make_client()
    alice.login("r1@eastside.test", factories.PASSWORD)
    alice.post(f"/c/eastside/rounds/{r.id}/survey", ballot(r, approve=(2,)))
    made = alice.post(f"/c/eastside/rounds/{r.id}/pledge", {"amount": "77", "target": "pot"})
    alice.post(made.headers["Location"] + "/confirm")
    assert "$77.00" in alice.get(f"/c/eastside/rounds/{r.id}/mine").get_data(as_text=True)
    bob.login("r2@eastside.test", factories.PASSWORD)
    page = bob.get(f"/c/eastside/rounds/{r.id}/mine").get_data(as_text=True)
    assert "$77.00" not in page and "You have not answered" in page
    assert bob.get(f"/c/eastside/rounds/{r.id}/results").status_code == 403
    organizer.login("organizer@eastside.test", factories.PASSWORD)
    tally = organizer.get(f"/c/eastside/rounds/{r.id}/results").get_data(as_text=True)
    assert re.search(r"Safety App</td>\s*<td class=\"num\">1<", tally)


def test_residents_see_the_allocation_only_once_the_board_approved(app, client):
    from pooling.allocation import run_allocation

    _, people, r = setup()
    organizer = people["organizer"][0]
    transition(r, RoundStatus.CLOSED, actor=organizer)
    run_allocation(r, "greedy", actor=organizer)
    db.session.commit()
    client.login("r1@eastside.test", factories.PASSWORD)
    assert client.get(f"/c/eastside/rounds/{r.id}/allocation").status_code == 403
    assert client.get(f"/c/eastside/rounds/{r.id}/documents").status_code == 403
    page = client.get(f"/c/eastside/rounds/{r.id}").get_data(as_text=True)
    assert "Allocation result" not in page and "Survey results" in page
