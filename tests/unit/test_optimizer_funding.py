"""Funding plans: who pays for what, and the named rules a plan must respect."""

from __future__ import annotations

import pulp
import pytest

from optimizer import (
    Allocation,
    Instance,
    Project,
    Source,
    check_plan,
    feasible,
    fund,
    raisable,
)
from optimizer import funding as funding_module
from optimizer.funding import spending_weights
from optimizer.solver import FEASIBLE, INFEASIBLE, NOT_SOLVED, OPTIMAL, status_of, worst

FOOD = frozenset({"food"})


def _food_instance() -> Instance:
    """A food-security grant that only pays for food projects, and the common pot."""
    projects = (
        Project("bakery", 3000, "food"),
        Project("garden", 4000, "food"),
        Project("bench", 2000, "park"),
    )
    sources = (Source("pool", 5000), Source("food_grant", 5000, "grant", categories=FOOD))
    return Instance(projects, sources)


def test_single_source_needs_no_solver(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_solver(*args: object, **kwargs: object) -> str:
        raise AssertionError("the solver must not run for a single budget")

    monkeypatch.setattr(funding_module.solver, "solve", no_solver)
    inst = Instance.single_budget((Project("a", 600), Project("b", 500), Project("c", 0)), 1100)
    assert fund(inst, ["a", "b", "c"]) == (
        Allocation("pool", "a", 600),
        Allocation("pool", "b", 500),
    )
    assert fund(inst, ["a", "b"]) is not None
    tight = Instance.single_budget(inst.projects, 1099)
    assert fund(tight, ["a", "b"]) is None
    assert fund(tight, []) == ()


def test_unknown_project_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown"):
        fund(_food_instance(), ["nope"])


def test_restricted_grant_only_pays_for_its_category() -> None:
    inst = _food_instance()
    plan = fund(inst, ["bakery", "garden", "bench"])
    assert plan is not None
    assert check_plan(inst, ["bakery", "garden", "bench"], plan) == []
    grant = {a.project for a in plan if a.source == "food_grant"}
    assert grant <= {"bakery", "garden"}
    # Restricted grant first, so it is used up and the pool pays the rest (2000 + 2000).
    assert sum(a.cents for a in plan if a.source == "food_grant") == 5000
    assert sum(a.cents for a in plan if a.source == "pool") == 4000
    assert {a.project: a.cents for a in plan if a.source == "pool"}["bench"] == 2000
    # A park project of 6000 would need grant money: it cannot be funded at all.
    bigger = Instance((*inst.projects, Project("plaza", 6000, "park")), inst.sources)
    assert fund(bigger, ["plaza"]) is None
    assert raisable(bigger, [], "plaza") == 5000


def test_earmarked_pledges_are_spent_before_the_pool() -> None:
    projects = (Project("a", 1000), Project("b", 1000))
    sources = (
        Source("pool", 5000),
        Source("pledge", 700, "earmark", projects=frozenset({"a"})),
        Source("seed", 400, "grant"),
    )
    inst = Instance(projects, sources)
    plan = fund(inst, ["a", "b"])
    # Pledge first (700, it can only pay for a), then the unrestricted seed grant (400),
    # then the pool for the remaining 900. Among plans with those totals the preferred
    # (less flexible) source pays the smaller project ids: seed covers the rest of a.
    assert plan == (
        Allocation("pledge", "a", 700),
        Allocation("pool", "b", 900),
        Allocation("seed", "a", 300),
        Allocation("seed", "b", 100),
    )
    assert plan is not None
    used = {s: sum(a.cents for a in plan if a.source == s) for s in ("pledge", "seed", "pool")}
    assert used == {"pledge": 700, "seed": 400, "pool": 900}
    assert fund(inst, ["a", "b"]) == plan  # deterministic


def test_cap_per_project_is_respected() -> None:
    projects = (Project("a", 1000), Project("b", 1000))
    sources = (Source("pool", 1200), Source("seed", 900, "grant", cap_per_project=400))
    inst = Instance(projects, sources)
    plan = fund(inst, ["a", "b"])
    assert plan is not None and check_plan(inst, ["a", "b"], plan) == []
    assert all(a.cents <= 400 for a in plan if a.source == "seed")
    assert sum(a.cents for a in plan if a.source == "seed") == 800
    # 2100 of money in all, and exactly 2100 of projects: fundable.
    three = Instance((*projects, Project("c", 100)), sources)
    assert fund(three, ["a", "b", "c"]) is not None
    # 1400 of money but the cap lets the grant give only 400 to one project of 1000.
    small_pool = Instance(projects, (Source("pool", 500), sources[1]))
    assert fund(small_pool, ["a"]) is None
    assert not feasible(small_pool, ["a"])
    assert raisable(small_pool, [], "a") == 900


def test_check_plan_names_each_broken_rule() -> None:
    inst = Instance(
        (Project("a", 1000, "park"), Project("b", 500, "food")),
        (Source("pool", 800), Source("g", 600, "grant", categories=FOOD, cap_per_project=300)),
    )
    assert check_plan(inst, ["a"], [Allocation("pool", "a", 800)]) == ["full_cost[a]"]
    assert check_plan(inst, ["b"], [Allocation("g", "b", 500)]) == ["cap[g,b]"]
    assert check_plan(inst, ["a"], [Allocation("pool", "a", 900), Allocation("g", "a", 100)]) == [
        "eligible[g,a]",
        "source_amount[pool]",
    ]
    assert check_plan(inst, [], [Allocation("pool", "b", 10)]) == ["full_cost[b]"]
    assert check_plan(inst, ["b"], [Allocation("pool", "b", 600), Allocation("g", "b", -100)]) == [
        "nonnegative[g,b]"
    ]
    assert check_plan(inst, ["b"], [Allocation("pool", "b", 250.0), Allocation("g", "b", 250)]) == [
        "integer_cents[pool,b]",
        "full_cost[b]",
    ]
    assert check_plan(inst, ["zz"], [Allocation("x", "b", 1)]) == [
        "unknown_project[zz]",
        "unknown[x,b]",
    ]
    ok = [Allocation("g", "b", 300), Allocation("pool", "b", 200)]
    assert check_plan(inst, ["b"], ok) == []


def test_spending_weights_rank_sources_by_flexibility() -> None:
    projects = (Project("p1", 10), Project("p2", 10))
    sources = (
        Source("pool", 10),
        Source("free_grant", 10, "grant"),
        Source("food_grant", 10, "grant", projects=frozenset({"p1", "p2"})),
        Source("pledge", 10, "earmark", projects=frozenset({"p1", "p2"})),
    )
    pairs = [(s, p) for s in sources for p in projects]
    weights = spending_weights(pairs)
    order = ["pledge", "food_grant", "free_grant", "pool"]
    for cheaper, dearer in zip(order, order[1:], strict=False):
        assert max(weights[(cheaper, p.id)] for p in projects) < min(
            weights[(dearer, p.id)] for p in projects
        )
    assert all(isinstance(w, int) and w > 0 for w in weights.values())


def test_status_mapping_is_honest() -> None:
    assert status_of(pulp.LpStatusOptimal, pulp.LpSolutionOptimal) == OPTIMAL
    # CBC stopped by a limit with an incumbent: PuLP says "Optimal" but it is not proven.
    assert status_of(pulp.LpStatusOptimal, pulp.LpSolutionIntegerFeasible) == FEASIBLE
    assert status_of(pulp.LpStatusInfeasible, pulp.LpSolutionInfeasible) == INFEASIBLE
    assert status_of(pulp.LpStatusNotSolved, pulp.LpSolutionNoSolutionFound) == NOT_SOLVED
    assert status_of(pulp.LpStatusUndefined, pulp.LpSolutionNoSolutionFound) == NOT_SOLVED
    assert worst(OPTIMAL, FEASIBLE, OPTIMAL) == FEASIBLE
    assert worst() == OPTIMAL
