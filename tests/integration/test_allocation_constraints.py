"""The organizer's allocation constraints through the pages: saved, audited, shown on the
round page, refused with a message next to the field (nothing saved), locked once the
round is allocated, and suggested from the priority ranking."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func, select

from commonpot.audit import AuditEvent
from commonpot.extensions import db
from commonpot.models import RoundStatus
from commonpot.rounds.services import transition
from pooling.allocation import run_allocation
from pooling.allocation_models import (
    AreaShareBound,
    IncompatibleGroup,
    ProjectDependency,
    SupportThreshold,
)
from pooling.constraints import add_dependency, add_incompatible
from surveys.services import submit_response
from tests import factories

ORGANIZER = "organizer@eastside.test"
# Food security has two projects, Education one, Place security none.
PROJECTS = (("Garden", 0, 300_000), ("Kitchen", 0, 200_000), ("Tutoring", 1, 400_000))


def error_of(page: str, field_id: str) -> str:
    """The message shown right under one field (or group of fields)."""
    match = re.search(r'<p class="error" id="' + re.escape(field_id) + r'-err">([^<]+)</p>', page)
    assert match, f"no error next to {field_id}"
    return html.unescape(match.group(1))


@pytest.fixture
def setup(app, client):
    c, people = factories.community()
    r = factories.open_round(c, people["organizer"][0], projects=PROJECTS)
    client.login(ORGANIZER)
    return r, people["organizer"][0], client


def base(r) -> str:
    return f"/c/eastside/rounds/{r.id}/constraints"


def shares(r, **values) -> dict:
    """Form data for the shares table: every area's fields, empty unless given
    (keys like min0 / max1: area by position)."""
    data = {}
    for i, area in enumerate(r.priority_areas):
        data[f"min_{area.id}"] = values.get(f"min{i}", "")
        data[f"max_{area.id}"] = values.get(f"max{i}", "")
    return data


def saved_state(r) -> tuple:
    """Everything a constraint change could touch, to prove a refusal saved nothing."""
    counts = tuple(
        db.session.scalar(select(func.count()).select_from(model))
        for model in (AreaShareBound, SupportThreshold, ProjectDependency, IncompatibleGroup)
    )
    return counts, db.session.scalar(select(func.count()).select_from(AuditEvent))


def test_each_constraint_is_saved_audited_and_shown(setup):
    r, _, client = setup
    garden, kitchen, tutoring = r.projects
    food, education, _ = r.priority_areas

    page = client.post(f"{base(r)}/shares", shares(r, min0="20", max0="50", max1="62.5"))
    assert page.status_code == 302 and page.headers["Location"].endswith("#shares")
    bounds = {
        b.priority_area_id: (b.min_bps, b.max_bps)
        for b in db.session.scalars(select(AreaShareBound))
    }
    assert bounds == {food.id: (2_000, 5_000), education.id: (None, 6_250)}
    assert client.post(f"{base(r)}/threshold", {"min_support": "2"}).status_code == 302
    assert db.session.get(SupportThreshold, r.id).min_support == 2
    dependency = {"project_id": kitchen.id, "requires_id": garden.id}
    assert client.post(f"{base(r)}/dependencies", dependency).status_code == 302
    group = {"projects": [garden.id, tutoring.id]}
    assert client.post(f"{base(r)}/incompatible", group).status_code == 302

    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.action.like("constraints.%"))
    ).all()
    assert actions == [
        "constraints.area_shares_set",
        "constraints.threshold_set",
        "constraints.dependency_added",
        "constraints.incompatible_added",
    ]
    # The page shows what is saved; the round page states the rules for everyone.
    page = client.get(base(r)).get_data(as_text=True)
    assert f'name="min_{food.id}" type="text" value="20"' in page
    assert f'name="max_{education.id}" type="text" value="62.5"' in page
    assert re.search(r'name="min_support" type="number" value="2"', page)
    round_page = html.unescape(client.get(f"/c/eastside/rounds/{r.id}").get_data(as_text=True))
    for line in (
        "Food security: between 20% and 50% of the money funded",
        "Education: at most 62.5% of the money funded",
        "A project needs at least 2 approvals",
        "“Kitchen” only with “Garden”",
        "At most one of “Garden” and “Tutoring”",
    ):
        assert line in round_page

    # Removing is audited too; emptying every share field removes the bounds.
    dep = db.session.scalar(select(ProjectDependency))
    assert client.post(f"{base(r)}/dependencies/{dep.id}/delete").status_code == 302
    grp = db.session.scalar(select(IncompatibleGroup))
    assert client.post(f"{base(r)}/incompatible/{grp.id}/delete").status_code == 302
    assert client.post(f"{base(r)}/shares", shares(r)).status_code == 302
    assert client.post(f"{base(r)}/threshold", {"min_support": ""}).status_code == 302
    assert saved_state(r)[0] == (0, 0, 0, 0)
    assert db.session.scalar(
        select(func.count()).where(AuditEvent.action.in_(["constraints.dependency_removed"]))
    )


BAD_SHARES = [
    ({"min0": "abc"}, "min0", "Enter a percentage like 20 or 12.5."),
    ({"min0": "120"}, "min0", "Enter a share from 0% to 100%."),
    ({"max1": "-5"}, "max1", "Enter a share from 0% to 100%."),
    ({"min0": "12.345"}, "min0", "Shares have at most two decimals (e.g. 12.25)."),
    ({"min0": "60", "max0": "40"}, "max0", "The maximum is below the minimum (60%)."),
    (
        {"min0": "60", "min1": "50"},
        "minimums",
        "The minimums add up to 110%; at most 100% can be.",
    ),
    (
        {"min2": "10"},
        "min2",
        "This area has no projects: a minimum share could only be met by funding nothing.",
    ),
    (
        {"max0": "40", "max1": "50"},
        "maximums",
        "Every area with projects has a maximum and they add up to 90%: below 100%, "
        "no project could be funded.",
    ),
]


def test_bad_area_shares_are_refused_next_to_their_field(setup):
    r, _, client = setup
    client.post(f"{base(r)}/shares", shares(r, min0="10"))  # something already saved
    before = saved_state(r)
    for values, field, message in BAD_SHARES:
        page = client.post(f"{base(r)}/shares", shares(r, **values))
        assert page.status_code == 422, values
        if field[:3] in ("min", "max") and field[3:].isdigit():
            field = f"{field[:3]}_{r.priority_areas[int(field[3:])].id}"
        assert error_of(page.get_data(as_text=True), field) == message
        assert saved_state(r) == before
    assert db.session.scalar(select(AreaShareBound)).min_bps == 1_000  # kept as it was


def test_bad_threshold_dependency_and_group_are_refused(setup):
    r, organizer, client = setup
    garden, kitchen, tutoring = r.projects
    add_dependency(r, kitchen.id, garden.id, actor=organizer)
    add_incompatible(r, [garden.id, tutoring.id], actor=organizer)
    db.session.commit()
    cases = [
        ("threshold", {"min_support": "many"}, "min_support", "Enter a whole number, like 25."),
        (
            "threshold",
            {"min_support": "0"},
            "min_support",
            "Enter a whole number of at least 1, or leave it empty for none.",
        ),
        (
            "dependencies",
            {"project_id": garden.id, "requires_id": garden.id},
            "requires_id",
            "A project cannot depend on itself.",
        ),
        (
            "dependencies",
            {"project_id": 0, "requires_id": garden.id},
            "project_id",
            "Choose a project of this round.",
        ),
        (
            "dependencies",
            {"project_id": kitchen.id, "requires_id": garden.id},
            "requires_id",
            "This dependency is already set.",
        ),
        (
            "dependencies",
            {"project_id": garden.id, "requires_id": kitchen.id},
            "requires_id",
            "This would close a cycle: “Garden” only with “Kitchen”, “Kitchen” only with "
            "“Garden”. Dependencies cannot go round.",
        ),
        (
            "dependencies",
            {"project_id": kitchen.id, "requires_id": tutoring.id},
            "requires_id",
            "“Kitchen” needs “Garden” and “Tutoring”, which are incompatible with each other: "
            "“Kitchen” could never be funded.",
        ),
        ("incompatible", {"projects": [garden.id]}, "projects", "Tick two projects or more."),
        (
            "incompatible",
            {"projects": [tutoring.id, garden.id]},
            "projects",
            "These projects already form a group.",
        ),
        (
            "incompatible",
            {"projects": [kitchen.id, garden.id]},
            "projects",
            "“Kitchen” needs “Garden”, which is incompatible with it: “Kitchen” could never "
            "be funded.",
        ),
    ]
    before = saved_state(r)
    for endpoint, data, field, message in cases:
        page = client.post(f"{base(r)}/{endpoint}", data)
        assert page.status_code == 422, (endpoint, data)
        assert error_of(page.get_data(as_text=True), field) == message
        assert saved_state(r) == before


def test_a_longer_cycle_is_named_link_by_link(setup):
    r, organizer, client = setup
    garden, kitchen, tutoring = r.projects
    add_dependency(r, garden.id, kitchen.id, actor=organizer)
    add_dependency(r, kitchen.id, tutoring.id, actor=organizer)
    db.session.commit()
    page = client.post(
        f"{base(r)}/dependencies", {"project_id": tutoring.id, "requires_id": garden.id}
    )
    assert error_of(page.get_data(as_text=True), "requires_id") == (
        "This would close a cycle: “Tutoring” only with “Garden”, “Garden” only with "
        "“Kitchen”, “Kitchen” only with “Tutoring”. Dependencies cannot go round."
    )


def test_constraints_are_locked_once_the_round_is_allocated(setup):
    r, organizer, client = setup
    transition(r, RoundStatus.CLOSED, actor=organizer)
    db.session.commit()
    # A closed round still takes constraints: the organizer sets them before allocating.
    assert client.post(f"{base(r)}/threshold", {"min_support": "1"}).status_code == 302
    run_allocation(r, "greedy", actor=organizer)
    db.session.commit()
    page = client.get(base(r)).get_data(as_text=True)
    assert "Locked." in page and "its allocation constraints are fixed" in page
    assert "Add the dependency</button>" not in page
    before = saved_state(r)
    refused = client.post(f"{base(r)}/threshold", {"min_support": "5"})
    assert refused.status_code == 422
    assert "The round is allocated: its allocation constraints are fixed." in html.unescape(
        refused.get_data(as_text=True)
    )
    assert saved_state(r) == before and db.session.get(SupportThreshold, r.id).min_support == 1


def test_minimums_are_suggested_from_the_priority_ranking_and_saved_only_when_confirmed(setup):
    r, _, client = setup
    people = {"residents": [m for m in _residents(r)]}
    food, education, place = r.priority_areas
    assert "Nobody has ranked" in client.get(f"{base(r)}?suggest=ranking").get_data(as_text=True)
    # Three areas: a first place earns 2 points, a second 1, a third 0.
    orders = [(food, education, place)] * 3 + [(education, food, place)]
    for resident, order in zip(people["residents"], orders, strict=False):
        ranks = {area.id: rank for rank, area in enumerate(order, 1)}
        submit_response(r, resident, rankings=ranks, votes={r.projects[0].id})
    db.session.commit()
    # Points: food 3x2 + 1 = 7, education 3 + 2 = 5, place 0; of 12. Half of each share,
    # rounded down to a whole percent: 7/24 = 29.2% -> 29%, 5/24 = 20.8% -> 20%, 0%.
    page = client.get(f"{base(r)}?suggest=ranking").get_data(as_text=True)
    assert "Suggested minimums from the priority ranking" in page
    assert f'name="min_{food.id}" type="text" value="29"' in page
    assert f'name="min_{education.id}" type="text" value="20"' in page
    assert f'name="min_{place.id}" type="text" value="0"' in page
    assert saved_state(r)[0][0] == 0  # nothing saved by suggesting
    data = shares(r, min0="29", min1="20", min2="0")
    assert client.post(f"{base(r)}/shares", data).status_code == 302
    assert {b.priority_area_id: b.min_bps for b in db.session.scalars(select(AreaShareBound))} == {
        food.id: 2_900,
        education.id: 2_000,
        place.id: 0,
    }


def _residents(r):
    from commonpot.models import User

    return db.session.scalars(
        select(User).where(User.email.like("r%@eastside.test")).order_by(User.id)
    ).all()


def test_every_bad_share_is_named_at_once(setup):
    r, _, client = setup
    food, education, place = r.priority_areas
    before = saved_state(r)
    page = client.post(f"{base(r)}/shares", shares(r, min0="70", max0="50", min1="45", max2="x"))
    text = page.get_data(as_text=True)
    assert error_of(text, f"max_{place.id}") == "Enter a percentage like 20 or 12.5."
    assert error_of(text, f"max_{food.id}") == "The maximum is below the minimum (70%)."
    assert error_of(text, "minimums") == "The minimums add up to 115%; at most 100% can be."
    assert saved_state(r) == before
