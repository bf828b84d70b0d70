"""Maximum total support: the set of projects with the most support that can be funded.

A mixed-integer program (`welfare_model.py`: binary y[p] selected, x[s,p] cents) over
the named money rules of `funding.py` and the selection rules of `constraints.py` (area
shares, dependencies, incompatible projects), so selection and funding plan are decided
together and the optimum meets every constraint. Projects below the support threshold,
short of volunteer hours, unable to raise their cost even alone, or depending on such a
project never enter it. Solved to a proven optimum (gap 0, status checked, every
selection re-checked in exact integers; see `welfare_search.py` for how). Equal optima
are settled lexicographically so the answer never depends on the solver's whims:
1. maximise total support; 2. keep that support, maximise total cost; 3. keep both and
walk the project ids in ascending string order, keeping each project in the set when
some optimal set still contains it.

Explanations: for an unfunded project the model is re-solved with it forced in, and the
support lost is reported with what binds then (on instances with selection constraints:
which dropped project breaks which named rule, or the money). That costs a proven solve
each, so only the `analyse` unfunded projects with the most support (ties: id) are
re-solved; the others say they were not analysed.
"""

from __future__ import annotations

import time

from . import solver
from .canonical import fingerprint
from .constraints import hours_short, requirements
from .funding import fund
from .greedy import below_threshold, zero_cost
from .matching import alone
from .model import (
    Explanation,
    Instance,
    MoneyFormat,
    Profile,
    Project,
    Result,
    format_cents,
    support,
)
from .payers import with_payers
from .welfare_explain import (
    binding,
    impossible,
    lowers,
    needs_impossible,
    not_analysed,
    not_solved,
    tied,
    unfundable,
)
from .welfare_model import Bound, WelfareModel
from .welfare_search import Found, best_cost_with, best_support, lexicographic

RULE = "max-welfare"
ANALYSE = 20  # unfunded projects re-solved with the project forced in, by default


class _Candidates:
    """Which projects can enter the model, and why the others cannot."""

    def __init__(self, instance: Instance, scores: dict[str, int]) -> None:
        minimum = instance.min_support
        self.below = {
            p.id for p in instance.projects if minimum is not None and scores[p.id] < minimum
        }
        self.short = {p.id for p in instance.projects if p.short_of_hours}
        open_ = [p for p in instance.projects if p.id not in self.below | self.short]
        self.raisable = {p.id: alone(instance, p) for p in open_ if p.cost > 0}
        possible = {p.id for p in open_ if p.cost == 0 or self.raisable[p.id] == p.cost}
        needs = requirements(instance)
        self.blocked: dict[str, tuple[str, ...]] = {}  # needs a project that cannot be
        while True:
            lost = {b: tuple(a for a in needs.get(b, ()) if a not in possible) for b in possible}
            lost = {b: missing for b, missing in lost.items() if missing}
            if not lost:
                break
            self.blocked.update(lost)
            possible -= lost.keys()
        involved = {p for pair in instance.dependencies for p in pair}
        involved |= {p for group in instance.incompatible for p in group}
        # Free projects no rule ties to others are in exactly when wanted (support >= 0).
        self.free = {
            p.id
            for p in instance.projects
            if p.id in possible and p.cost == 0 and p.id not in involved
        }
        self.projects = sorted(
            (p for p in instance.projects if p.id in possible - self.free), key=lambda p: p.id
        )


def max_welfare(
    instance: Instance,
    profile: Profile,
    *,
    money: MoneyFormat = format_cents,
    time_limit: float | None = None,
    analyse: int = ANALYSE,
) -> Result:
    """Run max-welfare; `time_limit` (seconds per solver call) trades proof for speed;
    `analyse` unfunded projects are re-solved with the project forced in."""
    if isinstance(analyse, bool) or not isinstance(analyse, int) or analyse < 0:
        raise ValueError(f"analyse must be a non-negative integer, got {analyse!r}")
    start = time.perf_counter()
    scores = support(instance, profile)
    options: dict[str, object] = {} if time_limit is None else {"time_limit": time_limit}
    if analyse != ANALYSE:
        options["analyse"] = analyse
    candidates = _Candidates(instance, scores)
    model, bound, found = None, None, Found(solver.OPTIMAL, frozenset())
    if candidates.projects:
        model = WelfareModel(instance, candidates.projects, scores, time_limit)
        found, bound = lexicographic(model)
        if found.chosen is None:
            return _unsolved(instance, profile, scores, found.status, options, start)
    assert found.chosen is not None
    wanted = {p for p in candidates.free if scores[p] >= 0}
    selected = tuple(sorted(found.chosen | wanted))
    plan = fund(instance, selected)
    if plan is None:
        raise solver.SolverError("max-welfare selection could not be funded")
    total = sum(scores[p] for p in selected)
    statuses = [found.status]
    analysed: dict[str, Explanation] = {}
    if model is not None:
        unfunded = [p for p in candidates.projects if p.id not in found.chosen]
        unfunded.sort(key=lambda p: (-scores[p.id], p.id))
        for project in unfunded[:analyse]:
            explanation, used = _analyse(model, bound, found, project, instance, money)
            analysed[project.id] = explanation
            statuses += used
    explanations = []
    for project in sorted(instance.projects, key=lambda p: p.id):
        p, score = project.id, scores[project.id]
        if p in candidates.below:
            explanations.append(below_threshold(p, score, instance.min_support or 0))
        elif p in candidates.short:
            explanations.append(hours_short(project))
        elif p in selected and project.cost == 0:
            explanations.append(zero_cost(p, score))
        elif p in selected:
            text = f"Part of the fundable set with the highest total support ({total})."
            numbers = {"support": score, "cost": project.cost, "total_support": total}
            explanations.append(Explanation(p, True, "funded", text, numbers))
        elif p in candidates.free:
            explanations.append(lowers(instance, p, -score, total))
        elif project.cost > 0 and candidates.raisable[p] < project.cost:
            explanations.append(unfundable(project, candidates.raisable[p], instance, money))
        elif p in candidates.blocked:
            explanations.append(needs_impossible(project, candidates.blocked[p]))
        elif p in analysed:
            explanations.append(analysed[p])
        else:
            explanations.append(not_analysed(p, total, min(analyse, len(analysed))))
    return Result(
        rule=RULE,
        selected=selected,
        plan=plan,
        cost=sum(p.cost for p in instance.projects if p.id in selected),
        objective=total,
        status=solver.worst(*statuses),
        explanations=tuple(with_payers(instance, explanations, plan, money)),
        input_sha256=fingerprint(instance, profile, RULE, options),
        seconds=time.perf_counter() - start,
        options=options,
    )


def _analyse(
    model: WelfareModel,
    bound: Bound | None,
    found: Found,
    project: Project,
    instance: Instance,
    money: MoneyFormat,
) -> tuple[Explanation, list[str]]:
    """Re-solve with `project` forced in and explain what that costs; also the statuses
    of the solves the explanation rests on."""
    assert found.chosen is not None
    forced = best_support(model, project.id)
    if forced.status == solver.INFEASIBLE:
        return impossible(instance, project, money), []
    if forced.chosen is None:
        return not_solved(project.id, forced.status), forced.statuses
    loss = found.support - forced.support
    if loss > 0:
        why = None
        if instance.constrained:
            why = binding(instance, model.scores, found.chosen, forced.chosen, project.id)
        return lowers(instance, project.id, loss, found.support, why), forced.statuses
    with_it = best_cost_with(model, bound, found.support, project.id, found.cost)
    score = model.scores[project.id]
    explanation = tied(project, score, found.support, found.cost, with_it.cost, money)
    return explanation, forced.statuses + with_it.statuses


def _unsolved(
    instance: Instance,
    profile: Profile,
    scores: dict[str, int],
    status: str,
    options: dict[str, object],
    start: float,
) -> Result:
    """The solver found no solution (e.g. hit a time limit): say so, select nothing."""
    text = "The solver stopped before finding any solution; nothing was selected."
    explanations = tuple(
        Explanation(p.id, False, "not_solved", text, {"support": scores[p.id]})
        for p in sorted(instance.projects, key=lambda p: p.id)
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
        options=options,
    )
