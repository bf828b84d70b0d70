"""Maximum total support: the set of projects with the most support that can be funded.

A mixed-integer program (binary y[p]: selected; x[s,p]: cents) over the same named
funding rules as `funding.py`, solved to a proven optimum (gap 0). x is declared
continuous on purpose: once y is integral the money rules form a flow problem with
integer data, so integer cents exist exactly when real ones do, and the plan itself is
recomputed in integer cents by `fund`. Declaring x integer too made the CBC of cbcbox 2.935
(preprocessing) return a fractional y as "optimal" on a real Pabulib file (Gdańsk 2020
Suchanino), so every y read back is also checked to be 0 or 1. A grant's matching ratio
breaks that flow argument, so with one x is integer (and the exact model replaces the
flow in the per-project checks). Equal optima are
settled lexicographically so the answer never depends on the solver's whims:
1. maximise total support; 2. keep that support, maximise total cost; 3. keep both and
walk the project ids in ascending string order, keeping each project in the set when
some optimal set still contains it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pulp

from . import solver
from .funding import Var, add_rules, eligible_pairs, fund, funding_constraints, x_key, y_key
from .greedy import below_threshold, no_eligible_source, zero_cost
from .matching import funding_for, matching_note, unmatched
from .model import (
    Explanation,
    Instance,
    MoneyFormat,
    Profile,
    Project,
    Result,
    fingerprint,
    format_cents,
    support,
)

RULE = "max-welfare"


@dataclass
class _Model:
    """One MIP over the candidate projects; bounds on y are changed between solves."""

    prob: pulp.LpProblem
    y: dict[str, pulp.LpVariable]
    support: pulp.LpAffineExpression
    cost: pulp.LpAffineExpression
    time_limit: float | None

    @classmethod
    def build(
        cls,
        instance: Instance,
        candidates: list[Project],
        scores: dict[str, int],
        limit: float | None,
    ) -> _Model:
        prob = solver.new_problem("max_welfare", maximize=True)
        pairs = eligible_pairs(instance, candidates)
        ys = prob.add_variable_dicts("y", range(len(candidates)), 0, 1, pulp.LpBinary)
        cents = pulp.LpInteger if instance.matching else pulp.LpContinuous
        xs = prob.add_variable_dicts("x", range(len(pairs)), lowBound=0, cat=cents)
        y = {p.id: ys[j] for j, p in enumerate(candidates)}
        variables: dict[Var, pulp.LpVariable | int] = {y_key(p): v for p, v in y.items()}
        variables.update({x_key(s.id, p.id): xs[k] for k, (s, p) in enumerate(pairs)})
        add_rules(prob, funding_constraints(candidates, pairs), variables)
        total_support = pulp.lpSum(scores[p.id] * y[p.id] for p in candidates)
        total_cost = pulp.lpSum(p.cost * y[p.id] for p in candidates)
        return cls(prob, y, total_support, total_cost, limit)

    def solve(self, objective: pulp.LpAffineExpression) -> str:
        self.prob.setObjective(objective)
        return solver.solve(self.prob, self.time_limit)

    def chosen(self) -> set[str]:
        return {p for p, var in self.y.items() if solver.int_value(var) == 1}

    def force(self, project: str, value: int) -> None:
        self.y[project].lowBound = value
        self.y[project].upBound = value

    def release(self, project: str) -> None:
        self.y[project].lowBound = 0
        self.y[project].upBound = 1

    def at_least(self, expr: pulp.LpAffineExpression, value: int, name: str) -> None:
        self.prob += (expr >= value, name)


def _has_solution(status: str) -> bool:
    return status in (solver.OPTIMAL, solver.FEASIBLE)


@dataclass
class _Solution:
    """What the lexicographic solves found, and how sure the solver was."""

    chosen: set[str] = field(default_factory=set)
    best: int = 0  # highest total support of the candidates
    top_cost: int = 0  # highest total cost among sets with that support
    loss: dict[str, int] = field(default_factory=dict)  # support lost by forcing p in
    statuses: list[str] = field(default_factory=lambda: [solver.OPTIMAL])


def _solve(model: _Model, candidates: list[Project], found: _Solution) -> None:
    """Steps 2 and 3 after step 1 found `found.best`; fills `found` in place."""
    # What leaving each project out saves. A project that costs support is in no
    # optimal set, so it is fixed out for the tie-breaking steps.
    for p in candidates:
        found.loss[p.id] = 0
        if p.id not in found.chosen:
            model.force(p.id, 1)
            status = model.solve(model.support)
            found.statuses.append(status)
            if _has_solution(status):
                found.loss[p.id] = max(0, found.best - solver.int_value(model.support))
            model.release(p.id)
    for p in candidates:
        if found.loss[p.id] > 0:
            model.force(p.id, 0)
    model.at_least(model.support, found.best, "keep_support")
    status = model.solve(model.cost)
    found.statuses.append(status)
    if not _has_solution(status):
        return
    found.top_cost = solver.int_value(model.cost)
    found.chosen = model.chosen()
    model.at_least(model.cost, found.top_cost, "keep_cost")
    for p in candidates:  # ascending id order
        if found.loss[p.id] > 0:
            continue
        if p.id not in found.chosen:
            model.force(p.id, 1)
            status = model.solve(model.cost)
            if _has_solution(status):
                found.chosen = model.chosen()
            if status != solver.INFEASIBLE:  # infeasible is an answer here, not a failure
                found.statuses.append(status)
        model.force(p.id, 1 if p.id in found.chosen else 0)


def max_welfare(
    instance: Instance,
    profile: Profile,
    *,
    money: MoneyFormat = format_cents,
    time_limit: float | None = None,
) -> Result:
    """Run max-welfare; `time_limit` (seconds per solver call) trades proof for speed."""
    start = time.perf_counter()
    scores = support(instance, profile)
    options = {} if time_limit is None else {"time_limit": time_limit}
    by_id = {p.id: p for p in instance.projects}
    minimum = instance.min_support
    allowed = [p for p in instance.projects if minimum is None or scores[p.id] >= minimum]
    # Free projects never compete for money: in exactly when they do not lower support.
    free = {p.id for p in allowed if p.cost == 0 and scores[p.id] >= 0}
    alone = {p.id: funding_for(instance).try_add(p.id) for p in allowed if p.cost > 0}
    candidates = sorted((p for p in allowed if p.cost > 0 and alone[p.id] == p.cost), key=_id)

    found = _Solution()
    if candidates:
        model = _Model.build(instance, candidates, scores, time_limit)
        first = model.solve(model.support)
        if not _has_solution(first):
            return _unsolved(instance, profile, scores, first, options, start)
        found.statuses.append(first)
        found.best = solver.int_value(model.support)
        found.chosen = model.chosen()
        found.top_cost = sum(by_id[p].cost for p in found.chosen)
        _solve(model, candidates, found)

    selected = tuple(sorted(found.chosen | free))
    plan = fund(instance, selected)
    if plan is None:
        raise solver.SolverError("max-welfare selection could not be funded")
    total = sum(scores[p] for p in selected)
    explanations = []
    for project in sorted(instance.projects, key=_id):
        p, score = project.id, scores[project.id]
        if minimum is not None and score < minimum:
            explanations.append(below_threshold(p, score, minimum))
        elif p in free:
            explanations.append(zero_cost(p, score))
        elif p in found.chosen:
            text = f"Part of the fundable set with the highest total support ({total})."
            numbers = {"support": score, "cost": project.cost, "total_support": total}
            explanations.append(Explanation(p, True, "funded", text, numbers))
        elif project.cost == 0:
            explanations.append(_lowers(p, -score, total))
        elif alone[p] < project.cost:
            explanations.append(_unfundable(project, alone[p], instance, money))
        elif found.loss[p] > 0:
            explanations.append(_lowers(p, found.loss[p], total))
        else:
            with_it = _best_cost_with(instance, candidates, scores, found.best, project, time_limit)
            explanations.append(_tied(project, score, total, found.top_cost, with_it, money))
    return Result(
        rule=RULE,
        selected=selected,
        plan=plan,
        cost=sum(by_id[p].cost for p in selected),
        objective=total,
        status=solver.worst(*found.statuses),
        explanations=tuple(explanations),
        input_sha256=fingerprint(instance, profile, RULE, options),
        seconds=time.perf_counter() - start,
    )


def _id(project: Project) -> str:
    return project.id


def _lowers(project: str, loss: int, total: int) -> Explanation:
    text = f"Funding it would lower total support by {loss} (re-solved with the project forced in)."
    numbers = {"support_lost": loss, "total_support": total}
    return Explanation(project, False, "not_optimal", text, numbers)


def _unfundable(project: Project, got: int, instance: Instance, money: MoneyFormat) -> Explanation:
    if not any(s.limit(project) > 0 for s in instance.sources):
        return no_eligible_source(project.id, project.cost, money)
    text = (
        f"Needed {money(project.cost)}; even on its own at most {money(got)} "
        "could be raised from eligible sources."
    )
    numbers = {"cost": project.cost, "raisable": got}
    without = unmatched(instance, (), project, got)
    if without is not None:
        text += " " + matching_note(instance, project, without, money)
        numbers["raisable_without_matching"] = without
    return Explanation(project.id, False, "insufficient_funds", text, numbers)


def _best_cost_with(
    instance: Instance,
    candidates: list[Project],
    scores: dict[str, int],
    best: int,
    project: Project,
    time_limit: float | None,
) -> int:
    """Largest total cost of a set with the best support that contains `project`."""
    model = _Model.build(instance, candidates, scores, time_limit)
    model.at_least(model.support, best, "keep_support")
    model.force(project.id, 1)
    status = model.solve(model.cost)
    return solver.int_value(model.cost) if _has_solution(status) else -1


def _tied(
    project: Project, score: int, total: int, top: int, cost_with: int, money: MoneyFormat
) -> Explanation:
    numbers = {"support": score, "total_support": total, "cost": project.cost}
    if 0 <= cost_with < top:
        numbers |= {"chosen_cost": top, "cost_with": cost_with}
        text = (
            f"A set with it can also reach total support {total}, but the chosen set "
            f"spends more ({money(top)} against at most {money(cost_with)}); "
            "ties go to the larger total cost."
        )
        return Explanation(project.id, False, "tie_cost", text, numbers)
    text = (
        f"A set with it ties the chosen set on total support ({total}) and total cost; "
        "such ties go to the set with the smaller project ids."
    )
    return Explanation(project.id, False, "tie_order", text, numbers)


def _unsolved(
    instance: Instance,
    profile: Profile,
    scores: dict[str, int],
    status: str,
    options: dict[str, float],
    start: float,
) -> Result:
    """The solver found no solution (e.g. hit a time limit): say so, select nothing."""
    text = "The solver stopped before finding any solution; nothing was selected."
    explanations = tuple(
        Explanation(p.id, False, "not_solved", text, {"support": scores[p.id]})
        for p in sorted(instance.projects, key=_id)
    )
    return Result(
        rule=RULE,
        selected=(),
        plan=(),
        cost=0,
        objective=0,
        status=status,
        explanations=explanations,
        input_sha256=fingerprint(instance, profile, RULE, options),
        seconds=time.perf_counter() - start,
    )
