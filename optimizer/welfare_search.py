"""Searches over the max-welfare model, each to a proven answer.

- `best_support`: the highest total support of any selection meeting every rule
  (optionally with one project forced in).
- `lexicographic`: among the selections with the best support, the one with the largest
  total cost, then the one whose ids, walked in ascending string order, keep each
  project whenever some such selection still contains it. Once the best support t is
  known, the projects the `Bound` decides for every selection reaching t are fixed
  before these solves (a row demands support >= t): exact, and a much smaller problem.
  A second `Bound`, on cost among those selections, then fixes the projects that any
  selection costing at least as much as the best one found so far must (not) hold.
- `best_cost_with`: the largest total cost of a best-support selection containing a
  given project (for explaining ties).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

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

    The model is a relaxation (the money enters as cuts): its answer is kept when the
    exact check passes; otherwise the check has cut that set off and the solve is
    repeated. `statuses` keeps what qualifies the answer ("infeasible" is an answer).
    """
    model.fix(fixed)
    statuses: list[str] = []
    while True:
        found = _solve_once(model, objective)
        statuses += found.statuses
        if found.chosen is None or model.exact(found.chosen):
            found.statuses = statuses
            return found


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


def lexicographic(model: WelfareModel) -> tuple[Found, Bound | None]:
    """The selection max-welfare returns (see the module docstring), and the support
    `Bound` it used (None when there is none)."""
    first = best_support(model)
    if first.chosen is None:
        return first, None
    statuses = list(first.statuses)
    best = first.support
    bound = model.lagrangian(model.scores)  # after the money rows the first solve added
    region = bound.fixings(best) if bound is not None else {}
    model.set_row(AT_LEAST, model.scores, ">=", best)
    model.fix(region)
    by_cost = model.lagrangian(model.costs)  # for selections with the best support
    if by_cost is not None:  # the most cost is at least what `first` costs
        region = by_cost.fixings(first.cost, region)
    second = _exact_solve(model, region, model.costs)
    statuses += second.statuses
    if second.chosen is None:  # cannot happen once `first` solved, unless a time limit
        first.statuses = statuses
        first.status = solver.worst(*statuses, solver.FEASIBLE)
        return first, bound
    chosen, top = second.chosen, second.cost
    if by_cost is not None:
        region = by_cost.fixings(top, region)
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
    return Found(solver.worst(*statuses), chosen, best, top, statuses), bound


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
