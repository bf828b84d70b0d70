"""Feasibility when a grant only matches residents' money (`Source.match_percent`).

A matching ratio ties two amounts on one project, which no max-flow can express, so for an
instance with a matching grant the flow of `flow.py` is only a relaxation: its "no" is
final, its "yes" is not. These helpers keep the flow's interface and answer exactly: with
the flow where its own plan happens to keep every ratio (or can be made to), else with the
integer funding model. Instances without matching keep the fast max-flow, unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from math import gcd

import pulp

from . import flow, solver
from .flow import FundingFlow, Plan
from .funding import PlanModel, fundable
from .model import Instance, MoneyFormat, Project

# (projects already funded, project asked about) -> (most cents it could raise, the same
# with matching ignored: the max-flow's bound, which explanations quote). The first is
# None until someone needs it when the bound already says the project does not fit.
Memo = dict[tuple[frozenset[str], str], tuple[int | None, int]]


def alone(instance: Instance, project: Project) -> int:
    """Most cents `project` could raise with nothing else funded: exact, no solver.

    Residents' money r (pool and earmarks) is best used in full: a grant matching m%
    then gives at most floor(m * r / 100) (and its own limit), the other sources their
    limit, and any total up to the cost can be reached by giving less.
    """
    limits = [(s, s.limit(project)) for s in instance.sources]
    resident = sum(limit for s, limit in limits if s.resident)
    total = resident
    for source, limit in limits:
        if source.resident:
            continue
        if source.match_percent is None:
            total += limit
        else:
            total += min(limit, source.match_percent * resident // 100)
    return min(project.cost, total)


def most_cents(
    instance: Instance, selected: Iterable[str], project_id: str, bound: int | None = None
) -> int:
    """Most cents `project_id` could get while `selected` stays fully funded (exact).
    `bound`: the max-flow's answer for the same question, when the caller has it."""
    others = set(selected) - {project_id}
    if not others:
        return alone(instance, instance.project(project_id))
    if bound is None:  # ValueError when the others do not fit
        bound = flow.raisable(instance, others, project_id)
    if bound == 0 or not instance.matching:
        return bound
    project = instance.project(project_id)
    chosen = [instance.project(p) for p in sorted(others)]
    model = PlanModel(instance, chosen, project, cuts=True)
    objective = {(s.id, p.id): 1 for s, p in model.pairs if p.id == project_id}
    rounded = _rounded(model, objective, bound)
    if rounded is not None:
        return rounded
    # HiGHS, in-process: CBC took twice as long here, and CBC's false "infeasible" on
    # tight rounds (see PlanModel.solve) would end the run with an error.
    status = model.solve(objective, highs=True)
    if status == solver.INFEASIBLE:
        raise ValueError("the selected projects cannot be funded together")
    if status != solver.OPTIMAL:
        raise solver.SolverError(f"raise model ended {status}")
    return _raised(model, project_id)


def _raised(model: PlanModel, project_id: str) -> int:
    """Whole cents the solved plan gives `project_id`, every rule checked."""
    return sum(c for (_, p), c in model.cents().items() if p == project_id)


def _rounded(model: PlanModel, objective: dict[tuple[str, str], int], bound: int) -> int | None:
    """The most cents for the open project by rounding the relaxation, or None.

    With `matching_cuts` the relaxation's optimum T (rounded down) was the integer answer
    on every question of the benchmark's rounds, but its plan had fractional cents, and
    the integer model took 0.3-1.5 s to find a whole-cent plan reaching T. Here the
    variables the relaxation puts at whole values are fixed (all of them, then only those
    at zero) and the small integer model left is solved; a plan reaching T, checked
    against every rule, and HiGHS finding nothing above T, prove T (should it find more,
    its optimum is the answer). None when no fixing reaches T: the caller then solves the
    whole model.
    """
    if model.relax(objective) != solver.OPTIMAL:
        return None
    (open_id,) = {project for _, project in objective}
    values = [var.value() for var in model.x.values()]
    target = min(bound, math.floor(pulp.value(model.prob.objective) + 1e-6))
    for only_zeros in (False, True):
        fixed = []
        for var, value in zip(model.x.values(), values, strict=True):
            whole = round(value) if value is not None else None
            if whole is not None and abs(value - whole) <= 1e-9 and (whole == 0 or not only_zeros):
                var.lowBound = var.upBound = whole
                fixed.append(var)
        status = model.solve(objective, highs=True)
        for var in fixed:
            var.lowBound, var.upBound = 0, None
        if status == solver.OPTIMAL:
            got = _raised(model, open_id)
            if got == target:
                break
    else:
        return None
    if target < bound:  # the relaxation's float optimum: make HiGHS confirm nothing beats it
        raised = pulp.lpSum(
            model.x[k]
            for k, pair in enumerate(model.pairs)
            if (pair[0].id, pair[1].id) in objective
        )
        model.prob += (raised >= target + 1, "above_target")  # the model is spent after
        status = model.solve(objective, highs=True)
        if status == solver.OPTIMAL:  # more than the relaxation said: the integer optimum
            return _raised(model, open_id)
        if status != solver.INFEASIBLE:
            raise solver.SolverError(f"raise model ended {status}")
    return target


class MatchedFunding:
    """`FundingFlow`'s interface, answered exactly: by the max-flow where it settles the
    question, else by the integer model. `memo` may be shared by several runs over the
    same instance (equal shares re-runs with growing shares, and most of its questions
    were answered in an earlier run)."""

    def __init__(self, instance: Instance, memo: Memo | None = None) -> None:
        self.instance = instance
        self.memo: Memo = {} if memo is None else memo
        self._cost = {p.id: p.cost for p in instance.projects}
        self.funded: set[str] = set()
        self.raised = 0
        # The funded set in the max-flow, matching ignored, for the bound of a question the
        # memo cannot answer; built, and brought up to date, only then (`_pending`).
        self._relaxed: FundingFlow | None = None
        self._pending: list[str] = []
        self._residents = [s.id for s in instance.sources if s.resident]
        self._grants = [
            (s.id, s.match_percent) for s in instance.sources if s.match_percent is not None
        ]

    def _relaxation(self) -> FundingFlow:
        if self._relaxed is None:
            self._relaxed = FundingFlow(self.instance)
        for project_id in self._pending:
            # What the exact model funds the relaxation funds too; anything else is a bug.
            if self._relaxed.try_add(project_id) != self._cost[project_id]:
                raise solver.SolverError(f"the max-flow cannot fund {project_id}")
        self._pending.clear()
        return self._relaxed

    def _answer(self, project_id: str, exact: bool = True) -> tuple[int | None, int]:
        """(most cents, bound) for `project_id` beside the funded set; the first only when
        `exact` or when the bound does not settle "does it fit" (a bound short of the
        cost does: the integer model's solve is then only for the explanation's number)."""
        key = (frozenset(self.funded), project_id)
        got, bound = self.memo.get(key, (None, None))
        if bound is None:
            if self._cost[project_id] == 0:
                got = bound = 0
            else:
                bound, plan = self._relaxation().raisable_plan(project_id, self._repair)
                if self._reaches(plan, project_id, bound):  # no solver needed
                    got = bound
        if got is None and (exact or bound == self._cost[project_id]):
            got = most_cents(self.instance, self.funded, project_id, bound)
        self.memo[key] = got, bound
        return got, bound

    def _repair(self, plan: Plan) -> dict[tuple[str, str], int]:
        """The matching grants' edges that give a project more than its resident cents
        allow, each with what it allows."""
        lower = {}
        for project_id, cents in plan.items():
            resident = sum(cents.get(s, 0) for s in self._residents)
            for source_id, percent in self._grants:
                if 100 * cents.get(source_id, 0) > percent * resident:
                    lower[(source_id, project_id)] = percent * resident // 100
        return lower

    def _reaches(self, plan: Plan, project_id: str, bound: int) -> bool:
        """Whether `plan` is a whole-cent plan giving `project_id` the max-flow's bound, so
        the bound is exact: every funded project in full, every matching ratio kept."""
        if sum(plan[project_id].values()) != bound:
            return False
        if any(sum(plan[p].values()) != self._cost[p] for p in self.funded):
            return False
        return not self._repair(plan)

    def try_add(self, project_id: str) -> int:
        """Fund `project_id` if it fits in full; return the most it could raise."""
        if project_id in self.funded:
            return self._cost[project_id]
        got = self._answer(project_id)[0]
        assert got is not None
        if got == self._cost[project_id]:
            self.funded.add(project_id)
            self.raised += got
            self._pending.append(project_id)
        return got

    def without_matching(self, project_id: str) -> int:
        """What `project_id` could raise beside the funded set if grants matched nothing."""
        if project_id in self.funded:
            return self._cost[project_id]
        return self._answer(project_id, exact=False)[1]

    def add_all(self, project_ids: Iterable[str]) -> bool:
        """Add several projects; False (and nothing added) when they cannot all be funded."""
        funded, raised = set(self.funded), self.raised
        relaxed = None if self._relaxed is None else self._relaxed.state()
        for project_id in project_ids:
            if self.try_add(project_id) < self._cost[project_id]:
                self.funded, self.raised = funded, raised
                if relaxed is None:  # made during this call: made again when needed
                    self._relaxed = None
                else:
                    assert self._relaxed is not None
                    self._relaxed.restore(relaxed)
                routed = set() if self._relaxed is None else self._relaxed.funded
                self._pending = sorted(funded - routed)
                return False
        return True

    def fits(self, project_id: str) -> bool:
        """Whether `project_id` could be added too (nothing changes)."""
        if project_id in self.funded:
            return True
        return self._answer(project_id, exact=False)[0] == self._cost[project_id]


Funding = FundingFlow | MatchedFunding


def funding_for(instance: Instance, memo: Memo | None = None) -> Funding:
    """The max-flow when no grant matches (fast, as before), else the exact model."""
    return MatchedFunding(instance, memo) if instance.matching else FundingFlow(instance)


def feasible(instance: Instance, selected: Iterable[str]) -> bool:
    """Whether every project in `selected` can be funded in full at the same time."""
    if not instance.matching:
        return flow.feasible(instance, selected)
    return fundable(instance, selected)


def raisable(instance: Instance, selected: Iterable[str], project_id: str) -> int:
    """Most cents `project_id` could get while `selected` (fundable) stays fully funded."""
    return most_cents(instance, selected, project_id)


def ratio_text(percent: int) -> str:
    """match_percent in the words of a match: 100 -> "1:1", 200 -> "2:1", 50 -> "1:2"."""
    common = gcd(percent, 100)
    return f"{percent // common}:{100 // common}"


def unmatched(
    instance: Instance,
    selected: Iterable[str],
    project: Project,
    got: int,
    funding: Funding | None = None,
) -> int | None:
    """What `project` could have raised without matching ratios, when that is more than
    `got` (so matching is what held it back); None otherwise. `funding`: the funding
    that just refused it (funding `selected`), whose answer already holds the number."""
    if not instance.matching or got >= project.cost:
        return None
    if isinstance(funding, MatchedFunding):
        without = funding.without_matching(project.id)
    else:
        without = flow.raisable(instance, selected, project.id)
    return without if without > got else None


def matching_note(instance: Instance, project: Project, without: int, money: MoneyFormat) -> str:
    """One sentence saying that a matching rule left `project` short."""
    grants = [(s, s.match_percent) for s in instance.sources if s.match_percent is not None]
    here = [(s, percent) for s, percent in grants if s.limit(project) > 0]
    tail = f"without matching, {money(without)} could have been raised."
    if len(here) == 1:
        ((grant, percent),) = here
        return (
            f"The {grant.id} grant only matches resident money {ratio_text(percent)} here, "
            f"and residents' money for it was short; {tail}"
        )
    named = ", ".join(f"{s.id} {ratio_text(percent)}" for s, percent in here or grants)
    if here:
        return (
            f"The grants here only match resident money ({named}), "
            f"and residents' money for it was short; {tail}"
        )
    return (
        f"Matching grants ({named}) needed residents' money for other projects, "
        f"which left too little for it; {tail}"
    )
