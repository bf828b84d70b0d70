"""The funding model: which source pays how many cents towards which selected project.

The rules of a valid plan are written once, as named linear constraints produced by small
generator functions. The PuLP models (here and in max_welfare) are built from them, and
`check_plan` evaluates the very same constraints on a finished plan in plain Python, so
"which rule does this plan break" has one answer everywhere.

Variables are keyed ("x", source, project) for cents and ("y", project) for "selected".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from math import gcd

import pulp

from . import solver
from .flow import feasible
from .model import Allocation, Instance, Project, Source

Var = tuple[str, ...]
Pair = tuple[Source, Project]


def x_key(source: str, project: str) -> Var:
    """Key of the cents-from-source-to-project variable."""
    return ("x", source, project)


def y_key(project: str) -> Var:
    """Key of the project-is-selected variable."""
    return ("y", project)


@dataclass(frozen=True)
class LinearRule:
    """sum(coef * var) <sense> rhs, with a name saying which rule of a plan it is."""

    name: str
    terms: tuple[tuple[Var, int], ...]
    sense: str  # "<=", "==" or ">="
    rhs: int

    def holds(self, values: Mapping[Var, int]) -> bool:
        """Evaluate on integer values (missing variables count as 0)."""
        lhs = sum(coef * values.get(key, 0) for key, coef in self.terms)
        if self.sense == "<=":
            return lhs <= self.rhs
        if self.sense == ">=":
            return lhs >= self.rhs
        return lhs == self.rhs


def eligible_pairs(instance: Instance, projects: Iterable[Project] | None = None) -> list[Pair]:
    """(source, project) pairs that can carry money: eligible, and neither side is empty."""
    chosen = instance.projects if projects is None else tuple(projects)
    return [(s, p) for s in instance.sources for p in chosen if s.limit(p) > 0]


def source_amount_constraints(pairs: Sequence[Pair]) -> Iterator[LinearRule]:
    """A source never gives more than it holds."""
    by_source: dict[str, list[Pair]] = {}
    for pair in pairs:
        by_source.setdefault(pair[0].id, []).append(pair)
    for source_id, items in by_source.items():
        amount = items[0][0].amount
        terms = tuple((x_key(source_id, p.id), 1) for _, p in items)
        yield LinearRule(f"source_amount[{source_id}]", terms, "<=", amount)


def full_cost_constraints(
    projects: Iterable[Project], pairs: Sequence[Pair]
) -> Iterator[LinearRule]:
    """A selected project gets exactly its cost; an unselected one gets nothing."""
    by_project: dict[str, list[Pair]] = {}
    for pair in pairs:
        by_project.setdefault(pair[1].id, []).append(pair)
    for project in projects:
        terms = tuple((x_key(s.id, project.id), 1) for s, _ in by_project.get(project.id, ()))
        terms += ((y_key(project.id), -project.cost),)
        yield LinearRule(f"full_cost[{project.id}]", terms, "==", 0)


def cap_constraints(pairs: Sequence[Pair]) -> Iterator[LinearRule]:
    """A capped grant gives at most its cap to any one project."""
    for source, project in pairs:
        if source.cap_per_project is not None and source.cap_per_project < project.cost:
            key = x_key(source.id, project.id)
            name = f"cap[{source.id},{project.id}]"
            yield LinearRule(name, ((key, 1),), "<=", source.cap_per_project)


def match_constraints(pairs: Sequence[Pair]) -> Iterator[LinearRule]:
    """A matching grant gives a project at most match_percent/100 of its resident cents.

    Written 100*grant - match_percent*residents <= 0 so it stays in integers.
    """
    residents: dict[str, list[Var]] = {}
    for source, project in pairs:
        if source.resident:
            residents.setdefault(project.id, []).append(x_key(source.id, project.id))
    for source, project in pairs:
        if source.match_percent is not None:
            grant = x_key(source.id, project.id)
            resident = residents.get(project.id, [])
            terms = ((grant, 100), *((key, -source.match_percent) for key in resident))
            yield LinearRule(f"match[{source.id},{project.id}]", terms, "<=", 0)


def matching_cuts(projects: Sequence[Project], pairs: Sequence[Pair]) -> Iterator[LinearRule]:
    """Inequalities every whole-cent plan keeps but fractional cents need not: they make
    the linear relaxation of a plan with matching grants tight enough to round.

    A fully funded project q of cost C with a grant matching a/b (lowest terms) of its
    resident cents R, and O cents from its other non-resident sources: R + G + O = C and
    b*G <= a*R give (a+b)*R + b*O >= b*C. With R and O whole this rounds (the mixed-integer
    rounding of that row divided by a+b, f the fractional part of b*C/(a+b)) to
    R + min(b/(a+b), f)/f * O >= ceil(b*C/(a+b)), written here in integers.
    """
    by_project: dict[str, list[Source]] = {}
    for source, project in pairs:
        by_project.setdefault(project.id, []).append(source)
    for project in projects:
        sources = by_project.get(project.id, [])
        resident = [x_key(s.id, project.id) for s in sources if s.resident]
        for grant in sources:
            if grant.match_percent is None or grant.match_percent == 0:
                continue
            common = gcd(grant.match_percent, 100)
            a, b = grant.match_percent // common, 100 // common
            beta = Fraction(b * project.cost, a + b)
            f = beta - (beta.numerator // beta.denominator)
            if f == 0:
                continue
            weight = min(Fraction(b, a + b), f) / f  # on the other non-resident cents
            other = [
                x_key(s.id, project.id) for s in sources if not s.resident and s.id != grant.id
            ]
            scale = weight.denominator
            terms = tuple((k, scale) for k in resident)
            terms += tuple((k, weight.numerator) for k in other)
            rhs = scale * -(-beta.numerator // beta.denominator)
            yield LinearRule(f"match_cut[{grant.id},{project.id}]", terms, ">=", rhs)


def funding_constraints(projects: Sequence[Project], pairs: Sequence[Pair]) -> list[LinearRule]:
    """All rules of a valid plan for the given projects and money-carrying pairs."""
    return [
        *source_amount_constraints(pairs),
        *full_cost_constraints(projects, pairs),
        *cap_constraints(pairs),
        *match_constraints(pairs),
    ]


def add_rules(
    prob: pulp.LpProblem,
    rules: Iterable[LinearRule],
    variables: Mapping[Var, pulp.LpVariable | int],
    prefix: str = "c",
) -> None:
    """Add rules to a PuLP problem; a value in `variables` may be an LpVariable or a fixed int.

    PuLP gets index-based names (ids may hold characters LP files cannot).
    """
    for number, rule in enumerate(rules):
        fixed = 0
        free: list[tuple[pulp.LpVariable, int]] = []
        for key, coef in rule.terms:
            value = variables[key]
            if isinstance(value, int):
                fixed += coef * value
            else:
                free.append((value, coef))
        if not free:  # nothing for the solver to decide
            if not LinearRule(rule.name, (), rule.sense, rule.rhs - fixed).holds({}):
                raise ValueError(f"rule {rule.name} cannot hold")
            continue
        expr = pulp.lpSum(coef * var for var, coef in free)
        rhs = rule.rhs - fixed
        if rule.sense == "<=":
            constraint = expr <= rhs
        elif rule.sense == ">=":
            constraint = expr >= rhs
        else:
            constraint = expr == rhs
        prob += (constraint, f"{prefix}{number}")


def check_plan(
    instance: Instance, selected: Iterable[str], plan: Iterable[Allocation]
) -> list[str]:
    """Names of the rules `plan` breaks for funding `selected` (empty list: valid).

    Plain Python, no solver: for auditing plans stored by the app or produced elsewhere.
    """
    projects = {p.id: p for p in instance.projects}
    sources = {s.id: s for s in instance.sources}
    chosen = set(selected)
    broken = [f"unknown_project[{p}]" for p in sorted(chosen - projects.keys())]
    values: dict[Var, int] = {y_key(p): 1 for p in chosen & projects.keys()}
    extra_pairs: list[Pair] = []
    for a in plan:
        where = f"[{a.source},{a.project}]"
        if a.source not in sources or a.project not in projects:
            broken.append(f"unknown{where}")
            continue
        if not isinstance(a.cents, int) or isinstance(a.cents, bool):
            broken.append(f"integer_cents{where}")
            continue
        if a.cents < 0:
            broken.append(f"nonnegative{where}")
        source, project = sources[a.source], projects[a.project]
        if not source.eligible(project):
            broken.append(f"eligible{where}")
        key = x_key(a.source, a.project)
        if key in values:
            broken.append(f"duplicate{where}")
        values[key] = values.get(key, 0) + a.cents
        extra_pairs.append((source, project))
    pairs = list(dict.fromkeys(eligible_pairs(instance) + extra_pairs))
    pairs.sort(key=lambda pair: (pair[0].id, pair[1].id))
    rules = funding_constraints(sorted(instance.projects, key=lambda p: p.id), pairs)
    broken += [rule.name for rule in rules if not rule.holds(values)]
    return broken


def spending_weights(pairs: Sequence[Pair]) -> dict[tuple[str, str], int]:
    """Integer cost per cent for each pair: spend the least flexible money first.

    Sources are ranked earmarked pledges, restricted grants, unrestricted grants, pool
    (then by id). With one strictly increasing weight per source the cents taken from
    each source are unique: the set of achievable per-source totals is a polymatroid
    base polytope, where any strictly ordered linear objective has a single optimum,
    the one that fills sources greedily in rank order. The small rank(s) * rank(p) term
    only settles which project each source pays for (the preferred sources pay the
    lowest project ids); `big` is large enough that it can never trade against a
    different per-source split (an exchange path has at most 2*min(S, P) edges).
    """
    sources = sorted({s.id: s for s, _ in pairs}.values(), key=lambda s: (s.tier, s.id))
    projects = sorted({p.id for _, p in pairs})
    source_rank = {s.id: i + 1 for i, s in enumerate(sources)}
    project_rank = {p: len(projects) - i for i, p in enumerate(projects)}
    small_max = len(sources) * len(projects)
    big = 2 * min(len(sources), len(projects)) * small_max + 1
    return {
        (s.id, p.id): big * source_rank[s.id] + source_rank[s.id] * project_rank[p.id]
        for s, p in pairs
    }


def _sorted_plan(cents: Mapping[tuple[str, str], int]) -> tuple[Allocation, ...]:
    return tuple(Allocation(s, p, c) for (s, p), c in sorted(cents.items()) if c > 0)


def _forced_plan(instance: Instance, chosen: Sequence[Project]) -> tuple[Allocation, ...] | None:
    """When each project has one possible payer no choice is left; None if it does not fit."""
    cents: dict[tuple[str, str], int] = {}
    spent: dict[str, int] = {}
    for project in chosen:
        payers = [s for s in instance.sources if s.limit(project) > 0]
        if project.cost == 0:
            continue
        (payer,) = payers
        # A matching grant alone has no resident money beside it to match.
        if payer.limit(project) < project.cost or payer.match_percent is not None:
            return None
        cents[(payer.id, project.id)] = project.cost
        spent[payer.id] = spent.get(payer.id, 0) + project.cost
    if any(spent[s.id] > s.amount for s in instance.sources if s.id in spent):
        return None
    return _sorted_plan(cents)


class PlanModel:
    """Integer cents for fully funding `projects`; with `open_project`, also up to that
    project's cost for it (to ask how much it could still raise).

    Solutions are read back as integers and every rule is checked again exactly, so a
    solver tolerance can never let a plan through that breaks a rule.
    """

    def __init__(
        self,
        instance: Instance,
        projects: Sequence[Project],
        open_project: Project | None = None,
        *,
        cuts: bool = False,
    ) -> None:
        self.paying = [p for p in projects if p.cost > 0]
        extra = [] if open_project is None else [open_project]
        self.pairs = eligible_pairs(instance, self.paying + extra)
        self.rules = funding_constraints(self.paying, self.pairs)
        for project in extra:
            terms = tuple((x_key(s.id, p.id), 1) for s, p in self.pairs if p.id == project.id)
            self.rules.append(LinearRule(f"at_most_cost[{project.id}]", terms, "<=", project.cost))
        self.prob = solver.new_problem("raise" if extra else "fund", maximize=bool(extra))
        self.x = self.prob.add_variable_dicts(
            "x", range(len(self.pairs)), lowBound=0, cat=pulp.LpInteger
        )
        variables: dict[Var, pulp.LpVariable | int] = {y_key(p.id): 1 for p in self.paying}
        variables.update({x_key(s.id, p.id): self.x[k] for k, (s, p) in enumerate(self.pairs)})
        add_rules(self.prob, self.rules, variables)
        if cuts:  # not plan rules (`cents` checks those): implied by them in whole cents
            add_rules(self.prob, matching_cuts(self.paying, self.pairs), variables, "k")

    def solve(self, weights: Mapping[tuple[str, str], int], *, highs: bool = False) -> str:
        """Optimise sum(weight * cents); pairs without a weight count 0.

        CBC by default: on the preferred plan's large weights it proves the optimum in a
        second where HiGHS takes several. But CBC has called integer plans of tight
        rounds infeasible that exist (money left: $90 of $23.7 million on the
        benchmark's round), so an "infeasible" from CBC is asked again of HiGHS
        (`highs=True`), which is also what answers "is there any plan at all"."""
        self._objective(weights)
        return solver.solve_mip(self.prob) if highs else solver.solve(self.prob)

    def relax(self, weights: Mapping[tuple[str, str], int]) -> str:
        """Optimise the linear relaxation (fractional cents), with HiGHS."""
        self._objective(weights)
        return solver.solve_relaxation(self.prob)

    def _objective(self, weights: Mapping[tuple[str, str], int]) -> None:
        terms = [
            weights[(s.id, p.id)] * self.x[k]
            for k, (s, p) in enumerate(self.pairs)
            if (s.id, p.id) in weights
        ]
        self.prob.setObjective(pulp.lpSum(terms))

    def cents(self) -> dict[tuple[str, str], int]:
        """The solved cents per (source, project), checked against every rule."""
        cents = {(s.id, p.id): solver.int_value(self.x[k]) for k, (s, p) in enumerate(self.pairs)}
        values: dict[Var, int] = {y_key(p.id): 1 for p in self.paying}
        values.update({x_key(s, p): c for (s, p), c in cents.items()})
        broken = [rule.name for rule in self.rules if not rule.holds(values)]
        if broken:
            raise solver.SolverError(f"solver plan breaks {broken}")
        return cents


def _model_needed(
    instance: Instance, selected: Iterable[str]
) -> tuple[list[Project], tuple[Allocation, ...] | None, bool]:
    """(the selected projects, the plan when no solver is needed, whether one is)."""
    by_id = {p.id: p for p in instance.projects}
    unknown = set(selected) - by_id.keys()
    if unknown:
        raise ValueError(f"unknown projects: {sorted(unknown)}")
    chosen = sorted((by_id[p] for p in set(selected)), key=lambda p: p.id)
    payers = {p.id: sum(1 for s in instance.sources if s.limit(p) > 0) for p in chosen}
    if any(p.cost > 0 and payers[p.id] == 0 for p in chosen):
        return chosen, None, False
    if all(p.cost == 0 or payers[p.id] == 1 for p in chosen):
        return chosen, _forced_plan(instance, chosen), False
    if not feasible(instance, (p.id for p in chosen)):
        return chosen, None, False
    return chosen, None, True


def _solved(model: PlanModel, status: str, instance: Instance) -> bool:
    """Whether the plan model found a plan (its caller checks it exactly); an error when
    the solver gave no answer for a set the max-flow says can be funded."""
    if status == solver.INFEASIBLE and instance.matching:
        return False
    if status != solver.OPTIMAL:
        raise solver.SolverError(f"funding model of a feasible set ended {status}")
    return True


def fund(instance: Instance, selected: Iterable[str]) -> tuple[Allocation, ...] | None:
    """The preferred funding plan for `selected`, or None when it cannot be funded.

    Plans are sorted by (source, project) and contain no zero allocations. No solver
    runs when every project has a single possible payer (e.g. one common pot) or when
    the max-flow test already shows the set cannot be funded. The max-flow ignores
    matching ratios, so with a matching grant the solver has the last word. Matching
    also breaks the uniqueness argument of `spending_weights`: equal-cost plans are then
    settled by the solver, which is deterministic for the same input.
    """
    chosen, plan, needed = _model_needed(instance, selected)
    if not needed:
        return plan
    model = PlanModel(instance, chosen)
    weights = spending_weights(model.pairs)
    status = model.solve(weights)
    if status == solver.INFEASIBLE:
        status = model.solve(weights, highs=True)  # CBC may be wrong; see PlanModel.solve
    if not _solved(model, status, instance):
        return None
    plan = _sorted_plan(model.cents())
    broken = check_plan(instance, (p.id for p in chosen), plan)
    if broken:
        raise solver.SolverError(f"solver plan breaks {broken}")
    return plan


def fundable(instance: Instance, selected: Iterable[str]) -> bool:
    """Whether `selected` can be funded in whole cents: `fund` without choosing the
    preferred plan (any plan the exact check accepts will do), so much faster with
    matching grants on large sets."""
    chosen, plan, needed = _model_needed(instance, selected)
    if not needed:
        return plan is not None
    model = PlanModel(instance, chosen)
    if not _solved(model, model.solve({}, highs=True), instance):
        return False
    return not check_plan(instance, (p.id for p in chosen), _sorted_plan(model.cents()))
