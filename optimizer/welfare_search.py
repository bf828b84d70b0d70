"""Searches over the max-welfare model, each to a proven answer.

- `best_support`: the highest total support of any selection meeting every rule
  (optionally with one project forced in).
- `lexicographic`: among the selections with the best support, the one with the largest
  total cost, then the one whose ids, walked in ascending string order, keep each
  project whenever some such selection still contains it. Once the best support t is
  known, the projects the `Bound` decides for every selection reaching t are fixed
  before these solves (a row demands support >= t): exact, and a much smaller problem.
- `best_cost_with`: the largest total cost of a best-support selection containing a
  given project (for explaining ties).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from math import gcd

from . import solver
from .welfare_model import Bound, WelfareModel

SOLVED = (solver.OPTIMAL, solver.FEASIBLE)
AT_LEAST = "at_least_support"
KEEP_COST = "keep_cost"


@dataclass
class Found:
    """A search's answer: the status that qualifies it, and the selection (if any)."""

    status: str
    chosen: frozenset[str] | None = None
    support: int = 0
    cost: int = 0
    statuses: list[str] = field(default_factory=list)  # every solve that mattered


def best_support(model: WelfareModel, forced: str | None = None) -> Found:
    """Highest support of a selection (containing `forced`, when given); status
    INFEASIBLE when no selection meeting every rule contains it. One solve: HiGHS fixes
    by reduced costs itself (a ladder of support targets over our own fixings, which
    CBC needed, made HiGHS slower)."""
    model.relax_row(KEEP_COST)
    model.relax_row(AT_LEAST)
    return _exact_solve(model, {} if forced is None else {forced: 1}, model.scores)


def _exact_solve(
    model: WelfareModel, fixed: Mapping[str, int], objective: Mapping[str, int]
) -> Found:
    """The best selection under `fixed` that meets every rule in whole cents.

    x is real, so with a matching grant the model is a relaxation: its answer is kept
    when the exact check passes; otherwise the restriction (`WelfareModel.restrict`)
    gives a selection that surely passes, and when that one falls short of the
    relaxation's value, the selections in between are tried one by one (each failure
    is cut off). `statuses` keeps what qualifies the answer ("infeasible" is an answer).
    """
    model.fix(fixed)
    found = _solve_once(model, objective)
    if found.chosen is None or model.exact(found.chosen):
        return found
    value = _value(found.chosen, objective)
    model.restrict(True)
    fallback = _solve_once(model, objective)
    model.restrict(False)
    statuses = found.statuses + fallback.statuses
    if fallback.chosen is not None and not model.exact(fallback.chosen):
        fallback = Found(solver.NOT_SOLVED)  # cannot happen in exact arithmetic; go on
    if fallback.chosen is not None and _value(fallback.chosen, objective) == value:
        return _found(model, fallback.status, fallback.chosen, statuses)
    floor_name = f"floor{len(model.rows)}"
    if fallback.chosen is not None:
        step = _step(objective)
        model.set_row(floor_name, objective, ">=", _value(fallback.chosen, objective) + step)
    try:
        while True:
            found = _solve_once(model, objective)
            statuses += found.statuses
            if found.chosen is None:
                if found.status != solver.INFEASIBLE or fallback.chosen is None:
                    return Found(found.status, statuses=statuses)
                return _found(model, fallback.status, fallback.chosen, statuses)
            if model.exact(found.chosen):
                return _found(model, found.status, found.chosen, statuses)
    finally:
        model.relax_row(floor_name)


def _solve_once(model: WelfareModel, objective: Mapping[str, int]) -> Found:
    status = model.solve(objective)
    statuses = [] if status == solver.INFEASIBLE else [status]
    if status not in SOLVED:
        return Found(status, statuses=statuses)
    return _found(model, status, model.chosen(), statuses)


def _found(model: WelfareModel, status: str, chosen: frozenset[str], statuses: list[str]) -> Found:
    support = sum(model.scores[p] for p in chosen)
    cost = sum(model.costs[p] for p in chosen)
    return Found(status, chosen, support, cost, statuses)


def _value(chosen: frozenset[str], objective: Mapping[str, int]) -> int:
    return sum(objective.get(p, 0) for p in chosen)


def _step(objective: Mapping[str, int]) -> int:
    step = 0
    for c in objective.values():
        step = gcd(step, c)
    return step or 1


def lexicographic(model: WelfareModel, bound: Bound | None) -> Found:
    """The selection max-welfare returns (see the module docstring)."""
    first = best_support(model)
    if first.chosen is None:
        return first
    statuses = list(first.statuses)
    best = first.support
    region = bound.fixings(best) if bound is not None else {}
    model.set_row(AT_LEAST, model.scores, ">=", best)
    second = _exact_solve(model, region, model.costs)
    statuses += second.statuses
    if second.chosen is None:  # cannot happen once `first` solved, unless a time limit
        first.statuses = statuses
        first.status = solver.worst(*statuses, solver.FEASIBLE)
        return first
    chosen, top = second.chosen, second.cost
    model.set_row(KEEP_COST, model.costs, ">=", top)
    fixed = dict(region)
    order = [p for p in model.ids if p not in region]  # model.ids is sorted
    i = 0
    while i < len(order):
        while i < len(order) and order[i] in chosen:
            fixed[order[i]] = 1
            i += 1
        if i == len(order):
            break
        # Does any best selection that agrees so far hold a project `chosen` lacks?
        outside = {p: 1 for p in order[i:] if p not in chosen}
        query = _exact_solve(model, fixed, outside)
        statuses += query.statuses
        if query.chosen is None or not query.chosen & outside.keys():
            break  # no: `chosen` is the answer
        if order[i] not in query.chosen:  # ask about order[i] itself
            query = _exact_solve(model, {**fixed, order[i]: 1}, outside)
            statuses += query.statuses
        if query.chosen is not None:
            chosen = query.chosen
        fixed[order[i]] = 1 if order[i] in chosen else 0
        i += 1
    return Found(solver.worst(*statuses), chosen, best, top, statuses)


def best_cost_with(model: WelfareModel, bound: Bound | None, best: int, project: str) -> Found:
    """The selection with support `best` containing `project` with the largest total
    cost (`cost` -1 and no `chosen` when there is none)."""
    model.relax_row(KEEP_COST)
    region = bound.fixings(best) if bound is not None else {}
    if region.get(project, 1) != 1:
        return Found(solver.INFEASIBLE, cost=-1)
    model.set_row(AT_LEAST, model.scores, ">=", best)
    found = _exact_solve(model, {**region, project: 1}, model.costs)
    if found.chosen is None:
        found.cost = -1
    return found
