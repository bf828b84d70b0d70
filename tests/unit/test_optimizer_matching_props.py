"""Matching grants on random small instances, against an independent brute force.

The brute force tries every way of splitting every project's cost, in whole cents, among
the sources that may pay for it, so it knows nothing of flows or solvers: it is the
definition of "can be funded" written out.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from itertools import combinations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer import (
    Ballot,
    Instance,
    Profile,
    Project,
    Result,
    Source,
    check_plan,
    equal_shares,
    feasible,
    flow,
    greedy,
    max_welfare,
    raisable,
    support,
)
from optimizer.matching import MatchedFunding

from .test_optimizer_bruteforce import may_give

IDS = ("a", "b", "c", "d")
CATEGORIES = ("food", "park", None)
PERCENTS = (33, 50, 100, 150, 200)
SETTINGS = settings(
    max_examples=30, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


def splits(total: int, caps: list[int]) -> Iterator[tuple[int, ...]]:
    """Every way to write `total` as len(caps) whole parts with 0 <= part <= cap."""
    if not caps:
        if total == 0:
            yield ()
        return
    for first in range(min(total, caps[0]) + 1):
        for rest in splits(total - first, caps[1:]):
            yield (first, *rest)


def matched(payers: list[Source], parts: tuple[int, ...]) -> bool:
    """100 * grant <= match_percent * (pool + earmark cents) in this one project."""
    resident = sum(c for s, c in zip(payers, parts, strict=True) if s.kind in ("pool", "earmark"))
    return all(
        100 * c <= s.match_percent * resident
        for s, c in zip(payers, parts, strict=True)
        if s.match_percent is not None
    )


def most(instance: Instance, chosen: tuple[Project, ...], target: Project | None = None) -> int:
    """-1 when `chosen` cannot all be funded; otherwise the most cents `target` could get
    beside them (0 without a target)."""
    sources = instance.sources
    jobs = [p for p in chosen if p.cost > 0]

    def options(project: Project, total: int, left: tuple[int, ...]) -> Iterator[tuple[int, ...]]:
        payers = [i for i, s in enumerate(sources) if may_give(s, project) > 0]
        caps = [min(left[i], may_give(sources[i], project)) for i in payers]
        for parts in splits(total, caps):
            if matched([sources[i] for i in payers], parts):
                spent = dict(zip(payers, parts, strict=True))
                yield tuple(n - spent.get(i, 0) for i, n in enumerate(left))

    @cache
    def go(k: int, left: tuple[int, ...]) -> int:
        if k == len(jobs):
            if target is None:
                return 0
            return next((a for a in range(target.cost, 0, -1) if any(options(target, a, left))), 0)
        return max((go(k + 1, rest) for rest in options(jobs[k], jobs[k].cost, left)), default=-1)

    return go(0, tuple(s.amount for s in sources))


@st.composite
def elections(draw: st.DrawFn) -> tuple[Instance, Profile]:
    ids = draw(st.lists(st.sampled_from(IDS), min_size=1, max_size=4, unique=True))
    projects = tuple(
        Project(i, draw(st.integers(0, 6)), draw(st.sampled_from(CATEGORIES))) for i in ids
    )
    sources = []
    for n in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(("pool", "earmark", "grant", "grant")))
        named = draw(st.one_of(st.none(), st.frozensets(st.sampled_from(ids), max_size=2)))
        areas = draw(st.one_of(st.none(), st.just(frozenset({"food"}))))
        if kind == "earmark" and named is None and areas is None:
            areas = frozenset({"park"})
        grant = kind == "grant"
        sources.append(
            Source(
                f"s{n}",
                draw(st.integers(0, 12)),
                kind,
                projects=None if kind == "pool" else named,
                categories=None if kind == "pool" else areas,
                cap_per_project=draw(st.one_of(st.none(), st.integers(1, 6))) if grant else None,
                match_percent=draw(st.one_of(st.none(), st.sampled_from(PERCENTS)))
                if grant
                else None,
            )
        )
    # Always one matching grant, unrestricted or for food only.
    areas = draw(st.one_of(st.none(), st.just(frozenset({"food"}))))
    percent = draw(st.sampled_from(PERCENTS))
    sources.append(
        Source("m", draw(st.integers(1, 12)), "grant", categories=areas, match_percent=percent)
    )
    ballots = tuple(
        Ballot(f"v{n}", tuple(draw(st.lists(st.sampled_from(ids), max_size=3, unique=True))))
        for n in range(draw(st.integers(0, 4)))
    )
    threshold = draw(st.one_of(st.none(), st.integers(0, 1)))
    return Instance(projects, tuple(sources), threshold), Profile("approval", ballots)


def subsets(projects: tuple[Project, ...]) -> Iterator[tuple[Project, ...]]:
    for size in range(len(projects) + 1):
        yield from combinations(projects, size)


@SETTINGS
@given(elections(), st.data())
def test_feasibility_agrees_with_brute_force(
    election: tuple[Instance, Profile], data: st.DataObject
) -> None:
    instance, _ = election
    for chosen in subsets(instance.projects):
        assert feasible(instance, [p.id for p in chosen]) == (most(instance, chosen) >= 0)
    target = data.draw(st.sampled_from(instance.projects))
    others = tuple(p for p in instance.projects if p != target)
    keep = tuple(p for p in others if data.draw(st.booleans()))
    if most(instance, keep) >= 0:
        assert raisable(instance, [p.id for p in keep], target.id) == most(instance, keep, target)


@SETTINGS
@given(elections(), st.data())
def test_the_growing_funded_set_answers_as_brute_force(
    election: tuple[Instance, Profile], data: st.DataObject
) -> None:
    """What greedy and equal shares ask as their set grows (the max-flow kept up to date
    beside it, the integer model behind it): every answer exact, a refused `add_all`
    leaving nothing behind."""
    instance, _ = election
    by_id = {p.id: p for p in instance.projects}
    funding = MatchedFunding(instance)
    order = data.draw(st.permutations([p.id for p in instance.projects]))
    for project_id in order:
        rest = [p for p in order if p not in funding.funded]
        if rest and data.draw(st.booleans()):
            group = data.draw(st.lists(st.sampled_from(rest), max_size=2, unique=True))
            before = set(funding.funded)
            together = tuple(by_id[p] for p in sorted(before | set(group)))
            assert funding.add_all(group) == (most(instance, together) >= 0)
            if funding.funded != before | set(group):
                assert funding.funded == before
        funded = tuple(by_id[p] for p in sorted(funding.funded - {project_id}))
        expected = most(instance, funded, by_id[project_id])
        if project_id in funding.funded:
            expected = by_id[project_id].cost
        else:  # what explanations quote beside the exact answer: the max-flow's
            without = flow.raisable(instance, funding.funded, project_id)
            assert funding.without_matching(project_id) == without
        assert funding.fits(project_id) == (expected == by_id[project_id].cost)
        assert funding.try_add(project_id) == expected
        assert (project_id in funding.funded) == (expected == by_id[project_id].cost)
        assert funding.raised == sum(by_id[p].cost for p in funding.funded)


def assert_valid(result: Result, instance: Instance) -> None:
    assert check_plan(instance, result.selected, result.plan) == []
    assert {e.project for e in result.explanations if e.funded} == set(result.selected)


@SETTINGS
@given(elections())
def test_every_rule_returns_a_plan_that_keeps_the_ratio(election: tuple[Instance, Profile]) -> None:
    instance, profile = election
    scores = support(instance, profile)
    floor = instance.min_support
    allowed = [p for p in instance.projects if floor is None or scores[p.id] >= floor]
    # Greedy, simulated with the brute force.
    chosen: tuple[Project, ...] = ()
    for project in sorted(allowed, key=lambda p: (-scores[p.id], p.id)):
        if most(instance, (*chosen, project)) >= 0:
            chosen = (*chosen, project)
    result = greedy(instance, profile)
    assert set(result.selected) == {p.id for p in chosen}
    assert_valid(result, instance)
    # Max-welfare: support, then cost, then walking ids ascending.
    ordered = tuple(sorted(allowed, key=lambda p: p.id))
    best = max(
        (
            sum(scores[p.id] for p in subset),
            sum(p.cost for p in subset),
            tuple(p in subset for p in ordered),
        )
        for subset in subsets(ordered)
        if most(instance, subset) >= 0
    )
    result = max_welfare(instance, profile)
    assert result.status == "optimal"
    assert set(result.selected) == {p.id for p, keep in zip(ordered, best[2], strict=True) if keep}
    assert (result.objective, result.cost) == best[:2]
    assert_valid(result, instance)
    for completion in ("none", "add1", "add1-greedy"):
        result = equal_shares(instance, profile, completion=completion)
        assert_valid(result, instance)
        assert most(instance, tuple(instance.project(p) for p in result.selected)) >= 0


@SETTINGS
@given(elections(), st.data())
def test_the_flows_plan_is_a_valid_plan_and_leaves_the_graph_as_it_was(
    election: tuple[Instance, Profile], data: st.DataObject
) -> None:
    """`raisable_plan` (what lets matched funding skip the integer model): its plan keeps
    every flow rule, reaches the max-flow's answer unless repaired, keeps the edges a
    repair lowered, and the graph is unchanged afterwards."""
    instance, _ = election
    relaxed = flow.FundingFlow(instance)
    paying = [p for p in instance.projects if p.cost > 0]
    order = data.draw(st.permutations([p.id for p in paying]))
    by_id = {p.id: p for p in instance.projects}
    sources = {s.id: s for s in instance.sources}
    for project_id in order:
        before = [dict(edges) for edges in relaxed._net.residual]
        feeding = [set(nodes) for nodes in relaxed._net.feeding]
        cap = data.draw(st.integers(0, 3))
        repair = {(s.id, project_id): cap for s in instance.sources if s.limit(by_id[project_id])}
        used = data.draw(st.booleans())
        most, plan = relaxed.raisable_plan(project_id, (lambda _, r=repair: r) if used else None)
        assert most == flow.raisable(instance, relaxed.funded, project_id)
        assert [dict(edges) for edges in relaxed._net.residual] == before
        assert relaxed._net.feeding == feeding
        assert all(  # what the backward search walks: exactly the edges with capacity left
            nodes == {u for u, edges in enumerate(before) if edges.get(v, 0) > 0}
            for v, nodes in enumerate(feeding)
        )
        spent: dict[str, int] = {}
        for pid, cents in plan.items():
            assert sum(cents.values()) <= by_id[pid].cost
            for source_id, c in cents.items():
                assert 0 < c <= sources[source_id].limit(by_id[pid])
                spent[source_id] = spent.get(source_id, 0) + c
                if used and pid == project_id:
                    assert c <= cap
        assert all(spent[s] <= sources[s].amount for s in spent)
        if not used:
            assert sum(plan[project_id].values()) == most
            assert all(sum(plan[p].values()) == by_id[p].cost for p in relaxed.funded)
        relaxed.try_add(project_id)
