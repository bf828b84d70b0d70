"""The max-welfare tie-breaks, driven from a chosen starting point.

The solver picks the first selection the walk starts from, so the brute-force tests
cannot choose it; here the walk is handed a witness that is not the answer, and the
most-cost search a solver that stops short, as HiGHS does on large objectives.
"""

from __future__ import annotations

import math
from unittest.mock import patch

import pytest

from optimizer import Ballot, Instance, Profile, Project, Source, support, welfare_search
from optimizer.welfare_model import WelfareModel
from optimizer.welfare_search import AT_LEAST, KEEP_COST


def model_of(instance: Instance, ballots: tuple[Ballot, ...] = ()) -> WelfareModel:
    profile = Profile("approval", ballots)
    candidates = sorted(instance.projects, key=lambda p: p.id)
    return WelfareModel(instance, candidates, support(instance, profile), None)


def four_equal(incompatible: tuple[frozenset[str], ...] = ()) -> WelfareModel:
    """a-d cost 2 and have one vote each; 4 to spend: every pair ties on support and
    cost, so the ids decide."""
    projects = tuple(Project(p, 2) for p in "abcd")
    instance = Instance(projects, (Source("pool", 4, "pool"),), incompatible=incompatible)
    model = model_of(instance, (Ballot("v", ("a", "b", "c", "d")),))
    model.set_row(AT_LEAST, model.scores, ">=", 2)
    model.set_row(KEEP_COST, model.costs, ">=", 4)
    return model


@pytest.mark.parametrize("rent", [0.0, math.inf])  # alternate the questions / only "can p be in?"
@pytest.mark.parametrize(
    ("incompatible", "witness", "answer"),
    [
        ((), {"c", "d"}, {"a", "b"}),
        ((frozenset({"a", "b"}),), {"c", "d"}, {"a", "c"}),
        ((frozenset({"a", "b"}),), {"b", "d"}, {"a", "c"}),
        ((frozenset({"a", "b"}),), {"a", "c"}, {"a", "c"}),  # already the answer
    ],
)
def test_the_walk_finds_the_first_ids_from_any_witness(
    rent: float, incompatible: tuple[frozenset[str], ...], witness: set[str], answer: set[str]
) -> None:
    model = four_equal(incompatible)
    chosen, statuses = welfare_search._walk(model, frozenset(witness), {}, rent)
    assert chosen == answer
    assert all(s == "optimal" for s in statuses)


def test_the_walk_keeps_what_the_region_fixed() -> None:
    model = four_equal()
    chosen, _ = welfare_search._walk(model, frozenset({"b", "d"}), {"a": 0, "b": 1})
    assert chosen == {"b", "c"}


def test_most_cost_climbs_past_a_solver_that_stops_short() -> None:
    """Every set has support 0, so the most cost decides: {a, b} = 5 of 5. The first
    solve is made to stop at a set costing at most 2 (as HiGHS may call a set short of
    the best optimal); asking for one cent more must still reach 5."""
    projects = (Project("a", 3), Project("b", 2), Project("c", 1))
    model = model_of(Instance(projects, (Source("pool", 5, "pool"),)))
    real = welfare_search._exact_solve
    calls = []

    def short_first(model, fixed, objective):  # type: ignore[no-untyped-def]
        calls.append(dict(objective))
        if len(calls) > 1:
            return real(model, fixed, objective)
        model.set_row("short", {p: -c for p, c in model.costs.items()}, ">=", -2)
        found = real(model, fixed, objective)
        model.relax_row("short")
        return found

    with patch.object(welfare_search, "_exact_solve", short_first):
        found = welfare_search._most_cost(model, {}, ceiling=6)
    assert (found.chosen, found.cost) == ({"a", "b"}, 5)
    assert len(calls) >= 3  # short at first, then up, then "nothing costs 6" proven
    assert found.statuses[0] == "optimal"


def test_most_cost_stops_at_the_ceiling_without_asking_again() -> None:
    projects = (Project("a", 3), Project("b", 2), Project("c", 1))
    model = model_of(Instance(projects, (Source("pool", 5, "pool"),)))
    with patch.object(welfare_search, "_exact_solve", wraps=welfare_search._exact_solve) as spy:
        found = welfare_search._most_cost(model, {}, ceiling=5)
    assert found.cost == 5
    assert spy.call_count == 1
