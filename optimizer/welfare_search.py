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

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from . import solver
from .welfare_model import Bound, WelfareModel

SOLVED = (solver.OPTIMAL, solver.FEASIBLE)
AT_LEAST = "at_least_support"
KEEP_COST = "keep_cost"
MORE_COST = "more_cost"  # "costs more than the best found so far", while it is confirmed
NEW = "walk_new_"  # the walk's rows: "holds a project the witness lacks"
RENT = 1.0  # at most this many seconds of "can p be in?" before the walk first asks for any new one


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
    started = time.perf_counter()
    first = best_support(model)
    if first.chosen is None:
        return first, None
    rent = min(RENT, time.perf_counter() - started)  # a hard question's price, roughly
    statuses = list(first.statuses)
    best = first.support
    bound = model.lagrangian(model.scores)  # after the money rows the first solve added
    region = bound.fixings(best) if bound is not None else {}
    model.set_row(AT_LEAST, model.scores, ">=", best)
    model.fix(region)
    by_cost = model.lagrangian(model.costs)  # for selections with the best support
    if by_cost is not None:  # the most cost is at least what `first` costs
        region = by_cost.fixings(first.cost, region)
    ceiling = sum(model.costs.values())  # no bound: e.g. every candidate is free
    if by_cost is not None:
        ceiling = min(ceiling, math.floor(by_cost.value(region)))
    second = _most_cost(model, region, ceiling)
    statuses += second.statuses
    if second.chosen is None:  # cannot happen once `first` solved, unless a time limit
        first.statuses = statuses
        first.status = solver.worst(*statuses, solver.FEASIBLE)
        return first, bound
    chosen, top = second.chosen, second.cost
    if by_cost is not None:
        region = by_cost.fixings(top, region)
    model.set_row(KEEP_COST, model.costs, ">=", top)
    chosen, walked = _walk(model, chosen, region, rent)
    statuses += walked
    return Found(solver.worst(*statuses), chosen, best, top, statuses), bound


def _most_cost(model: WelfareModel, fixed: Mapping[str, int], ceiling: int) -> Found:
    """The largest total cost under `fixed` and the rows set now, proven in integers.

    HiGHS prunes with a tolerance relative to the objective: on the benchmark's round
    (2.3e9 cents) it called selections 100 cents short of the best "optimal" under some
    seeds and extra rows. So an answer below `ceiling` (a bound known to hold) is
    confirmed by asking for a selection costing at least one cent more, until that is
    infeasible: a search without an incumbent has nothing to prune against, and every
    answer it returns is re-added in exact integers."""
    found = _exact_solve(model, fixed, model.costs)
    statuses = list(found.statuses)
    while found.chosen is not None and found.cost < ceiling:
        model.set_row(MORE_COST, model.costs, ">=", found.cost + 1)
        more = _exact_solve(model, fixed, model.costs)
        model.relax_row(MORE_COST)
        statuses += more.statuses
        if more.chosen is None:
            break  # proven, unless a time limit stopped it (then its status says so)
        if more.cost <= found.cost:  # the solver broke the row beyond its tolerance
            statuses.append(solver.FEASIBLE)
            break
        found = more
    found.statuses = statuses
    return found


def _walk(
    model: WelfareModel, chosen: frozenset[str], region: Mapping[str, int], rent: float = RENT
) -> tuple[frozenset[str], list[str]]:
    """Walk the ids not in `region` in ascending order, keeping each project when some
    best selection agreeing with the walk so far holds it; `chosen` is such a selection
    (a witness) throughout, so only the ids it lacks are asked about, with two kinds of
    question:
    - "can p be in?" (y[p] fixed to 1, any selection will do): the presolve or the root
      usually settles a "no" (0.1 s), but every id the witness lacks needs one (174 on
      the benchmark's 2,000-project round);
    - "does a best selection agreeing so far hold some project the witness lacks?" (a
      row; the most of y[p]): infeasible ends the walk, else its answer is the next
      witness; seconds either way, as it must find a new selection or rule all out.
    The walk asks the first kind until those asked since the last question of the second
    kind have taken as long as one of that kind did (`rent` before the first: the best
    support's solve, at most `RENT`), then asks the second: never much worse than either
    alone, and on that round 7 s where either alone took 33-38 s. Both are exact, so the
    answer does not depend on the timing."""
    fixed = dict(region)
    order = [p for p in model.ids if p not in region]  # model.ids is sorted
    statuses: list[str] = []
    spent = 0.0
    for i, project in enumerate(order):
        if project in chosen:
            fixed[project] = 1
            continue
        started = time.perf_counter()
        if spent < rent:
            query = _exact_solve(model, {**fixed, project: 1}, {project: 1})
            spent += time.perf_counter() - started
        else:
            query = _any_new(model, fixed, chosen, order[i:], project)
            spent, rent = 0.0, time.perf_counter() - started
            if query.chosen is None and query.status == solver.INFEASIBLE:
                statuses += query.statuses
                break  # no best selection agreeing so far holds anything the witness lacks
        statuses += query.statuses
        if query.chosen is not None:
            chosen = query.chosen
        fixed[project] = 1 if project in chosen else 0
    return chosen, statuses


def _any_new(
    model: WelfareModel,
    fixed: Mapping[str, int],
    chosen: frozenset[str],
    rest: list[str],
    project: str,
) -> Found:
    """Among the best selections agreeing with `fixed` that hold a project of `rest` that
    `chosen` lacks, the most of y[project]."""
    name = f"{NEW}{len(model.rows)}"  # a new row: set_row keeps a name's coefficients
    model.set_row(name, {p: 1 for p in rest if p not in chosen}, ">=", 1)
    query = _exact_solve(model, fixed, {project: 1})
    model.relax_row(name)
    return query


def best_cost_with(
    model: WelfareModel, bound: Bound | None, best: int, project: str, ceiling: int | None = None
) -> Found:
    """The selection with support `best` containing `project` with the largest total
    cost (`cost` -1 and no `chosen` when there is none); `ceiling` is known to bound it
    (the most cost of any best selection)."""
    model.relax_row(KEEP_COST)
    region = bound.fixings(best) if bound is not None else {}
    if region.get(project, 1) != 1:
        return Found(solver.INFEASIBLE, cost=-1)
    model.set_row(AT_LEAST, model.scores, ">=", best)
    most = sum(model.costs.values()) if ceiling is None else ceiling
    found = _most_cost(model, {**region, project: 1}, most)
    if found.chosen is None:
        found.cost = -1
    return found
