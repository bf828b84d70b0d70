"""The allocation sees each ballot type as it is: points and rankings, not just ticks."""

from __future__ import annotations

from commonpot.extensions import db
from commonpot.models import BallotType, RoundStatus
from commonpot.rounds.services import transition
from pooling.allocation import build_input, run_allocation
from pooling.grants import add_grant
from surveys.services import submit_response
from tests import factories


def test_cumulative_points_decide_the_allocation(app):
    """Money for one project. Points: Garden 10 + 2 = 12, Tutoring 8 + 10 = 18, so Tutoring
    wins; counted as approvals both have 2 and Garden (the lower id) would win the tie."""
    community, people = factories.community()
    organizer = people["organizer"][0]
    r = factories.open_round(
        community, organizer, projects=(("Garden", 0, 30_000), ("Tutoring", 1, 30_000))
    )
    r.ballot_type, r.points_total, r.points_exact = BallotType.CUMULATIVE, 10, True
    add_grant(
        r,
        name="Seed",
        funder="City",
        amount_cents=30_000,
        priority_area_id=None,
        cap_per_project_cents=None,
        actor=organizer,
    )
    garden, tutoring = (p.id for p in r.projects)
    ranks = {a.id: i for i, a in enumerate(r.priority_areas, 1)}
    for resident, votes in zip(
        people["residents"], [{garden: 10}, {garden: 2, tutoring: 8}, {tutoring: 10}], strict=False
    ):
        submit_response(r, resident, rankings=ranks, votes=votes)
    transition(r, RoundStatus.CLOSED, actor=organizer)
    _, profile = build_input(r)
    assert profile.kind == "cumulative"
    run = run_allocation(r, "max-welfare", actor=organizer)
    db.session.commit()
    funded = {o.project.title: (o.funded, o.support) for o in run.outcomes}
    assert funded == {"Garden": (False, 12), "Tutoring": (True, 18)}


def test_ranked_ballots_become_an_ordinal_profile(app):
    community, people = factories.community()
    organizer = people["organizer"][0]
    r = factories.open_round(community, organizer)
    r.ballot_type, r.rank_limit = BallotType.RANKED, 3
    garden, tutoring, safety = (p.id for p in r.projects)
    ranks = {a.id: i for i, a in enumerate(r.priority_areas, 1)}
    submit_response(
        r, people["residents"][0], rankings=ranks, votes={safety: 1, garden: 2, tutoring: 3}
    )
    _, profile = build_input(r)
    assert profile.kind == "ordinal"
    assert profile.ballots[0].projects == (str(safety), str(garden), str(tutoring))
