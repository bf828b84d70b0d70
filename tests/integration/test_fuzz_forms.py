"""Every form of the app, filled with hostile values by hypothesis: never a 500, and a
request that is refused (anything but a redirect) saves nothing at all.

The forms are found the way a browser finds them: every page of the URL map, fetched by
each kind of caller, read for its <form method="post">s. A new form is fuzzed without
anyone listing it here.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from commonpot.extensions import db
from commonpot.models import BallotType, RoundStatus, User
from commonpot.rounds.services import transition
from surveys import eligibility
from surveys.services import submit_response, update_ballot_settings
from tests import factories
from tests.hostile import HOSTILE, fill, forms_of, snapshot
from tests.integration.test_access_control import POLICY, _rules, _url

CALLERS = ("anonymous", "resident", "organizer", "board")
EXTRA_BALLOTS = {
    BallotType.KNAPSACK: {"budget_cents": 600_000},
    BallotType.CUMULATIVE: {"points_total": 10, "points_cap": 6},
    BallotType.RANKED: {"rank_limit": 2},
}


def _user(email: str) -> User:
    return db.session.scalar(select(User).where(User.email == email))


@pytest.fixture
def fuzz_world(app, world):
    """The walk's world plus an open round of every other ballot type and a closed round
    with answers (the allocation form)."""
    community = world["open"].community
    first_organizer = _user(world["users"]["organizer"])
    pages = []
    for kind, settings in EXTRA_BALLOTS.items():
        r = factories.open_round(community, first_organizer, title=f"{kind.value} round")
        update_ballot_settings(r, {"ballot_type": kind.value, **settings}, actor=first_organizer)
        pages.append(("resident", f"/c/eastside/rounds/{r.id}/survey"))
    closed = factories.open_round(community, first_organizer, title="Closed round")
    resident = _user(world["users"]["resident"])
    ranks = {a.id: i for i, a in enumerate(closed.priority_areas, 1)}
    submit_response(closed, resident, rankings=ranks, votes={closed.projects[0].id})
    transition(closed, RoundStatus.CLOSED, actor=first_organizer)
    pages.append(("organizer", f"/c/eastside/rounds/{closed.id}/allocation"))
    # A member roll, with the resident's own line claimed, for the paper ballot form.
    roll = b"name,block,member_number,birth_year\nResident 1,B1,1,1980\nPat Paper,B2,2,1975\n"
    eligibility.import_roll(community, roll, actor=first_organizer)
    eligibility.claim_by_matching(
        community, resident, member_number="1", name="Resident 1", birth_year=1980
    )
    pages.append(("organizer", f"/c/eastside/rounds/{world['open'].id}/paper?member=2"))
    db.session.commit()
    return pages


def _discover(app, make_client, world, extra_pages):
    clients = {"anonymous": make_client()}
    for caller in CALLERS[1:]:
        clients[caller] = make_client()
        clients[caller].login(world["users"][caller])
    pages = [
        (caller, _url(app, rule, world))
        for rule in _rules(app)
        if "GET" in rule.methods and rule.endpoint in POLICY
        for caller in CALLERS
    ] + extra_pages
    found, seen = [], set()
    for caller, url in pages:
        response = clients[caller].get(url)
        if response.status_code != 200 or not response.mimetype == "text/html":
            continue
        for form in forms_of(url, response.get_data(as_text=True)):
            if form.editable() and form.signature() not in seen:
                seen.add(form.signature())
                found.append((caller, form))
    return clients, found


def test_every_form_survives_hostile_input_and_a_refusal_saves_nothing(
    app, make_client, world, fuzz_world
):
    clients, forms = _discover(app, make_client, world, fuzz_world)
    actions = {form.action.split("?")[0] for _, form in forms}
    # The walk must really reach the forms: each of these is a form residents, organizers
    # or visitors fill in (a missing one means the discovery broke, not that it is safe).
    for expected in (
        "/login",
        "/verify",
        "/password",
        "/password/reset",
        "/c/eastside/roll",
        "/c/eastside/rounds/import",
        "/c/eastside/rounds/new",
        "/c/eastside/join",
        "/c/eastside/people",
    ):
        assert expected in actions, (expected, sorted(actions))
    for fragment in (
        "/survey",
        "/pledge",
        "/grants",
        "/terms",
        "/targets",
        "/hours",
        "/projects",
        "/edit",
        "/ballot",
        "/collect",
        "/allocation",
        "/paper",
    ):
        assert any(fragment in a for a in actions), (fragment, sorted(actions))

    for caller, form in forms:
        _fuzz(clients[caller], caller, form)


def _fuzz(client, caller: str, form) -> None:
    @HOSTILE
    @given(data=st.data())
    def submit(data):
        fields = fill(form, data.draw)
        before = snapshot()
        response = client.post(form.action, fields)
        assert response.status_code < 500, (caller, form.action, fields)
        if response.status_code not in (301, 302, 303):
            assert snapshot() == before, (caller, form.action, response.status_code)

    submit()


def test_refund_and_disburse_forms_survive_hostile_input(app, make_client):
    """The treasury's refund and pay-out forms only appear once money has moved (a paid
    pledge cancelled; an approved round), which the walk's world does not reach."""
    from pooling.models import PaymentMethod
    from pooling.pledges import cancel_pledge
    from pooling.treasury import collect_pledge

    from .test_treasury_pages import ORGANIZER, approve, city_grant, pledged

    community, people = factories.community()
    organizer = people["organizer"][0]
    r = factories.open_round(community, organizer)
    first, second = people["residents"][:2]
    collect_pledge(
        pledged(r, first, 100_000), method=PaymentMethod.CASH, reference="R-1", actor=organizer
    )
    gone = pledged(r, second, 20_000)
    collect_pledge(gone, method=PaymentMethod.CASH, reference="R-2", actor=organizer)
    cancel_pledge(gone, second)
    city_grant(r, organizer)
    db.session.commit()
    approve(r, people)  # the grant's money is there at once: projects can be paid out
    client = make_client()
    client.login(ORGANIZER)
    url = f"/c/{community.slug}/rounds/{r.id}/treasury"
    page = client.get(url)
    assert page.status_code == 200
    forms = [f for f in forms_of(url, page.get_data(as_text=True)) if f.editable()]
    wanted = [f for f in forms if f.action.endswith(("/refund", "/disburse"))]
    assert {f.action.rsplit("/", 1)[1] for f in wanted} == {"refund", "disburse"}, [
        f.action for f in forms
    ]
    for form in wanted:
        _fuzz(client, "organizer", form)
