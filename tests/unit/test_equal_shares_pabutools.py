"""Equal shares and greedy against pabutools, the reference implementation (test-only).

pabutools is an optional test dependency: without it this module skips. Money is in
cents on both sides, so pabutools' `voter_budget_increment` is our `increment`.
pabutools' greedy ranks cumulative and ordinal ballots by support per cost, which is not
the city rule our `greedy` follows, and its Add1U completion inherits that; there, the
completion is checked against the small greedy below instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer import (
    Ballot,
    Election,
    Instance,
    Profile,
    Project,
    Result,
    Source,
    allocate,
    equal_shares,
    read_pabulib,
    support,
)

pabutools = pytest.importorskip("pabutools")
# pabutools' own deprecation warnings are not ours to fix; errors elsewhere still raise.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pabutools")

from pabutools.election import (  # noqa: E402
    Additive_Borda_Sat,
    Additive_Cardinal_Sat,
    ApprovalBallot,
    ApprovalProfile,
    Cost_Sat,
    CumulativeBallot,
    CumulativeProfile,
    OrdinalBallot,
    OrdinalProfile,
    parse_pabulib,
)
from pabutools.election import Instance as PInstance  # noqa: E402
from pabutools.election import Project as PProject  # noqa: E402
from pabutools.rules import (  # noqa: E402
    completion_by_rule_combination,
    greedy_utilitarian_welfare,
    method_of_equal_shares,
)

PABULIB = Path(__file__).resolve().parents[3] / "shared" / "pabulib"
SATISFACTION = {
    "approval": Cost_Sat,
    "cumulative": Additive_Cardinal_Sat,
    "ordinal": Additive_Borda_Sat,
}
# Ids whose string order differs from their numeric order, to exercise tie-breaking.
IDS = ("9", "10", "11", "a", "B", "b", "p1", "p10", "p2")


def to_pabutools(instance: Instance, profile: Profile):
    """The same election for pabutools; projects below the support threshold are left out."""
    scores = support(instance, profile)
    minimum = instance.min_support
    projects = {p.id: PProject(p.id, p.cost) for p in instance.projects}
    kept = [projects[p.id] for p in instance.projects if minimum is None or scores[p.id] >= minimum]
    budget = sum(s.amount for s in instance.sources)
    pinstance = PInstance(kept, budget_limit=budget)
    if profile.kind == "approval":
        ballots = [ApprovalBallot(projects[p] for p in b.projects) for b in profile.ballots]
        return pinstance, ApprovalProfile(ballots)
    if profile.kind == "cumulative":
        ballots = [
            CumulativeBallot(
                {projects[p]: x for p, x in zip(b.projects, b.points or (), strict=True)}
            )
            for b in profile.ballots
        ]
        return pinstance, CumulativeProfile(ballots)
    ballots = [OrdinalBallot([projects[p] for p in b.projects]) for b in profile.ballots]
    return pinstance, OrdinalProfile(ballots)


def pabutools_mes(instance: Instance, profile: Profile, completion: str, increment: int = 100):
    pinstance, pprofile = to_pabutools(instance, profile)
    sat = SATISFACTION[profile.kind]
    step = None if completion == "none" else increment
    outcome = method_of_equal_shares(
        pinstance, pprofile, sat_class=sat, voter_budget_increment=step
    )
    names = {p.name for p in outcome}
    if completion == "add1-greedy":
        names = small_greedy(instance, profile, names)
    return tuple(sorted(names))


def small_greedy(instance: Instance, profile: Profile, chosen: set[str]) -> set[str]:
    """Greedy by support (ties: id as a string) from `chosen`, one pot: obviously correct."""
    scores, minimum = support(instance, profile), instance.min_support
    left = sum(s.amount for s in instance.sources)
    left -= sum(p.cost for p in instance.projects if p.id in chosen)
    for project in sorted(instance.projects, key=lambda p: (-scores[p.id], p.id)):
        if project.id in chosen or (minimum is not None and scores[project.id] < minimum):
            continue
        if project.cost <= left:
            chosen = chosen | {project.id}
            left -= project.cost
    return chosen


@st.composite
def elections(draw: st.DrawFn, kind: str) -> tuple[Instance, Profile]:
    """≤ 8 projects (some free), ≤ 30 voters, one pot, sometimes a support threshold."""
    ids = draw(st.lists(st.sampled_from(IDS), min_size=1, max_size=8, unique=True))
    costs = draw(
        st.lists(
            st.one_of(st.just(0), st.integers(1, 3000), st.sampled_from([100, 200, 300, 600])),
            min_size=len(ids),
            max_size=len(ids),
        )
    )
    projects = tuple(Project(i, c) for i, c in zip(ids, costs, strict=True))
    budget = draw(st.integers(0, sum(costs) + 500))
    voters = draw(st.integers(0, 30))
    ballots = []
    for v in range(voters):
        chosen = draw(st.lists(st.sampled_from(ids), max_size=len(ids), unique=True))
        points = None
        if kind == "cumulative":
            points = tuple(
                draw(st.lists(st.integers(0, 5), min_size=len(chosen), max_size=len(chosen)))
            )
        ballots.append(Ballot(f"v{v}", tuple(chosen), points))
    minimum = draw(st.one_of(st.none(), st.integers(0, 6)))
    return Instance(projects, (Source("pool", budget),), minimum), Profile(kind, tuple(ballots))


FAST = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


@FAST
@given(election=elections("approval"), completion=st.sampled_from(["none", "add1", "add1-greedy"]))
def test_approval_matches_pabutools(election: tuple[Instance, Profile], completion: str) -> None:
    instance, profile = election
    ours = allocate(instance, profile, "equal-shares", completion=completion)
    theirs = pabutools_mes(instance, profile, completion)
    if completion == "add1-greedy":  # pabutools' Add1U on approval ballots, as such
        pinstance, pprofile = to_pabutools(instance, profile)
        outcome = completion_by_rule_combination(
            pinstance,
            pprofile,
            [method_of_equal_shares, greedy_utilitarian_welfare],
            [{"sat_class": Cost_Sat, "voter_budget_increment": 100}, {"sat_class": Cost_Sat}],
        )
        assert tuple(sorted(p.name for p in outcome)) == theirs
    assert ours.selected == theirs


@FAST
@given(
    election=st.sampled_from(["cumulative", "ordinal"]).flatmap(elections),
    completion=st.sampled_from(["none", "add1", "add1-greedy"]),
)
def test_points_and_rankings_match_pabutools(
    election: tuple[Instance, Profile], completion: str
) -> None:
    instance, profile = election
    ours = allocate(instance, profile, "equal-shares", completion=completion)
    assert ours.selected == pabutools_mes(instance, profile, completion)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(election=elections("approval"), increment=st.integers(1, 400))
def test_add1_with_small_steps_matches_pabutools(
    election: tuple[Instance, Profile], increment: int
) -> None:
    # Small steps mean many steps: the jumps over steps that cannot change the outcome
    # must land where pabutools' step-by-step loop stops.
    instance, profile = election
    ours = allocate(instance, profile, "equal-shares")  # default step: 100 cents
    assert ours.selected == pabutools_mes(instance, profile, "add1")
    stepped = equal_shares(instance, profile, increment=increment)
    assert stepped.selected == pabutools_mes(instance, profile, "add1", increment)


@FAST
@given(election=elections("approval"))
def test_greedy_matches_pabutools(election: tuple[Instance, Profile]) -> None:
    instance, profile = election
    pinstance, pprofile = to_pabutools(instance, profile)
    theirs = greedy_utilitarian_welfare(pinstance, pprofile, sat_class=Cost_Sat)
    assert allocate(instance, profile, "greedy").selected == tuple(sorted(p.name for p in theirs))


# Real elections. pabutools' add1 loop runs one full equal shares per unit added to every
# share; where that takes too long for a unit test, its outcome was recorded once
# (pabutools 1.2.3, `bench/bench_rules.py` re-checks it) and the test checks live, with
# pabutools' own equal shares, the steps that decide the loop: the last one, the next
# one and a few before.
LIVE_ADD1 = (
    "Poland_Gdansk_2020_Suchanino",
    "Poland_Czestochowa_2020_Trzech_Wieszczow",
    "US_Stanford_Dataset_PB_Vallejo_2015_vote_approvals",
)
RECORDED_ADD1 = {
    "Netherlands_Amsterdam_304": (
        "37337 37338 37341 37342 37343 37344 37345 37346 37348 37349 "
        "37350 37351 37354 37355 37357 37359 37363 37365 37366"
    ),
    "Poland_Krakow_2022_Czyzyny": "1 10 12 14 15 22 23 24 26 32 36 5 6",
}
SMALL = (
    *LIVE_ADD1,
    *RECORDED_ADD1,
    "US_Stanford_Dataset_SF_Tenderloin_December_2022_vote_knapsacks",
)


def election(name: str) -> Election:
    if not PABULIB.is_dir():
        pytest.skip(f"real Pabulib files not available: folder {PABULIB} is absent")
    path = PABULIB / f"{name}.pb"
    if not path.is_file():
        pytest.skip(f"real Pabulib file not available: {path} is absent")
    return read_pabulib(path)


def their_completion(pinstance, pprofile, sat, outcome, real: Election) -> set[str]:
    """pabutools' Add1U from its add1 outcome; our greedy's order on points and ranks."""
    if sat is not Cost_Sat:
        return small_greedy(real.instance(), real.profile, {p.name for p in outcome})
    if pinstance.is_exhaustive(outcome):
        return {p.name for p in outcome}
    completed = greedy_utilitarian_welfare(
        pinstance, pprofile, sat_class=sat, initial_budget_allocation=outcome
    )
    return {p.name for p in completed}


@pytest.mark.parametrize("name", SMALL)
def test_plain_equal_shares_on_real_files(name: str) -> None:
    real = election(name)
    pinstance, pprofile = parse_pabulib(str(PABULIB / f"{name}.pb"))
    sat = SATISFACTION[real.profile.kind]
    theirs = method_of_equal_shares(pinstance, pprofile, sat_class=sat)
    ours = allocate(real.instance(), real.profile, "equal-shares", completion="none")
    assert ours.selected == tuple(sorted(p.name for p in theirs))


@pytest.mark.parametrize("name", LIVE_ADD1)
def test_add1_on_real_files(name: str) -> None:
    real = election(name)
    pinstance, pprofile = parse_pabulib(str(PABULIB / f"{name}.pb"))
    sat = SATISFACTION[real.profile.kind]
    outcome = method_of_equal_shares(pinstance, pprofile, sat_class=sat, voter_budget_increment=1)
    add1 = allocate(real.instance(), real.profile, "equal-shares")
    assert add1.selected == tuple(sorted(p.name for p in outcome))
    completed = their_completion(pinstance, pprofile, sat, outcome, real)
    full = allocate(real.instance(), real.profile, "equal-shares", completion="add1-greedy")
    assert full.selected == tuple(sorted(completed))


def check_steps(name: str, real: Election, full: Result) -> None:
    """pabutools' equal shares at our last add1 step gives our add1 outcome, that step
    ends pabutools' loop (exhaustive, or the next one overspends), and a few earlier
    steps do not; then pabutools' completion of it is our add1-greedy outcome."""
    from pabutools.fractions import frac
    from pabutools.rules.budgetallocation import BudgetAllocation
    from pabutools.rules.mes.mes_rule import method_of_equal_shares_scheme
    from pabutools.tiebreaking import lexico_tie_breaking

    pinstance, pprofile = parse_pabulib(str(PABULIB / f"{name}.pb"))
    sat = SATISFACTION[real.profile.kind]
    bought = {e.project for e in full.explanations if e.code == "funded"}
    # Our last step: the share every voter had, in whole currency units above the start.
    share = next(e.numbers["voter_share"] for e in full.explanations if e.code == "funded")
    steps = round((share - real.budget_cents / len(real.profile.ballots)) / 100)
    satisfaction = pprofile.as_sat_profile(sat)
    start = frac(pinstance.budget_limit, pprofile.num_ballots())
    candidates = [
        p for p in pinstance if p.cost > 0 and satisfaction.total_satisfaction_project(p) > 0
    ]

    def step(k: int) -> BudgetAllocation:
        return method_of_equal_shares_scheme(
            pinstance,
            pprofile,
            satisfaction,
            start + k,
            BudgetAllocation(),
            lexico_tie_breaking,
            binary_sat=sat is Cost_Sat,
        )

    last = step(steps)
    assert {p.name for p in last} == bought
    assert pinstance.is_exhaustive(last, available_projects=candidates) or (
        not pinstance.is_feasible(step(steps + 1))
    )
    for k in sorted({0, steps // 3, 2 * steps // 3, steps - 1} - {steps}):
        if k >= 0:
            outcome = step(k)
            assert pinstance.is_feasible(outcome)
            assert not pinstance.is_exhaustive(outcome, available_projects=candidates)
    completed = their_completion(pinstance, pprofile, sat, last, real)
    assert full.selected == tuple(sorted(completed))


@pytest.mark.parametrize("name", sorted(RECORDED_ADD1))
def test_add1_on_real_files_against_pabutools_steps(name: str) -> None:
    real = election(name)
    add1 = equal_shares(real.instance(), real.profile)
    assert " ".join(add1.selected) == RECORDED_ADD1[name]
    full = equal_shares(real.instance(), real.profile, completion="add1-greedy")
    assert {e.project for e in full.explanations if e.code == "funded"} == set(add1.selected)
    check_steps(name, real, full)


@pytest.mark.skipif(
    not os.environ.get("COMMONPOT_SLOW_TESTS"),
    reason="about 30-70 s (3,243 add1 steps); set COMMONPOT_SLOW_TESTS=1 to run it",
)
def test_add1_on_tenderloin_against_pabutools_steps() -> None:
    # 3,243 add1 steps of one dollar on shares of about 3,000 dollars, while pabutools'
    # own loop went past 5 minutes and 7 GB before it was stopped. One add1-greedy run
    # gives both outcomes: its "funded" projects are add1's.
    name = "US_Stanford_Dataset_SF_Tenderloin_December_2022_vote_knapsacks"
    real = election(name)
    full = equal_shares(real.instance(), real.profile, completion="add1-greedy")
    check_steps(name, real, full)
