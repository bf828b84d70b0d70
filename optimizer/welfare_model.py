"""The max-welfare mixed-integer program, and the bound that makes it fast to prove.

Variables: y[p] binary (project p selected) and x[s,p] >= 0 (cents from source s to p,
at most `Source.limit`, so caps are bounds, not rows). Rows: the named money rules of
`funding.py` and the selection rules of `constraints.py`, written once as `LinearRule`s.

x is continuous. Without a matching grant, once y is integral the money rules are a flow
problem with integer data, so integer cents exist exactly when real ones do. A matching
ratio breaks that argument, so the continuous model is then only a relaxation: every set
it returns is checked with the exact integer funding model (`funding.fundable`) and a set
that fails is cut off (a "no-good" row) and the solve repeated, which keeps the answer
exact. Declaring x integer instead made CBC unable to finish on city-sized rounds.

The tie-breaking solves (most cost among the best-support selections, then the ids) are
the expensive ones: every selection they look at has the best support t, a thin slice
that the linear relaxation barely sees. `lagrangian` turns the duals of one linear solve
into a bound that holds for any selection (weak duality, evaluated in exact fractions):
support(y) <= B_0 + sum over p of r_p * y_p. So every selection with support >= t has
y_p = 0 where r_p < 0 and B + r_p < t, and y_p = 1 where r_p > 0 and B - r_p < t, with
B = B_0 + sum of the positive r_p. `fixings` applies that; the searches in
`welfare_search.py` then solve a much smaller problem whose answers are exact for the
whole one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from fractions import Fraction

import pulp

from . import solver
from .constraints import broken, selection_rules
from .funding import (
    LinearRule,
    Var,
    eligible_pairs,
    full_cost_constraints,
    fundable,
    match_constraints,
    x_key,
    y_key,
)
from .funding import source_amount_constraints as amounts
from .model import Instance, Project, Source

_SENSE = {"<=": pulp.LpConstraintLE, ">=": pulp.LpConstraintGE, "==": pulp.LpConstraintEQ}


@dataclass(frozen=True)
class Bound:
    """support(y) <= base + sum of reduced[p] * y[p] for every feasible selection y."""

    base: Fraction
    reduced: dict[str, Fraction]

    @property
    def value(self) -> Fraction:
        """The bound itself: the best any selection could do."""
        return self.base + sum((r for r in self.reduced.values() if r > 0), Fraction(0))

    def forced(self, project: str) -> Bound:
        """The same bound for selections that contain `project`."""
        reduced = dict(self.reduced)
        return Bound(self.base + reduced.pop(project), reduced)

    def fixings(self, target: int) -> dict[str, int]:
        """Values every selection with support >= target must give (see the module)."""
        total = self.value
        fixed: dict[str, int] = {}
        for p, r in self.reduced.items():
            if r < 0 and total + r < target:
                fixed[p] = 0
            elif r > 0 and total - r < target:
                fixed[p] = 1
        return fixed


class WelfareModel:
    """One MIP over the candidate projects; bounds and extra rows change between solves."""

    def __init__(
        self,
        instance: Instance,
        candidates: list[Project],
        scores: Mapping[str, int],
        time_limit: float | None,
    ) -> None:
        self.instance = instance
        self.candidates = candidates
        self.ids = [p.id for p in candidates]
        self.scores = {p.id: scores[p.id] for p in candidates}
        self.costs = {p.id: p.cost for p in candidates}
        self.time_limit = time_limit
        self.statuses: list[str] = []
        self.prob = solver.new_problem("max_welfare", maximize=True)
        self.pairs = eligible_pairs(instance, candidates)
        self.payers: dict[str, list[Source]] = {}
        for source, project in self.pairs:
            self.payers.setdefault(project.id, []).append(source)
        ys = self.prob.add_variable_dicts("y", range(len(candidates)), 0, 1, pulp.LpBinary)
        xs = self.prob.add_variable_dicts("x", range(len(self.pairs)), lowBound=0)
        self.y: dict[str, pulp.LpVariable] = {p.id: ys[j] for j, p in enumerate(candidates)}
        self.variables: dict[Var, pulp.LpVariable] = {y_key(p): v for p, v in self.y.items()}
        for k, (s, p) in enumerate(self.pairs):
            xs[k].upBound = s.limit(p)
            self.variables[x_key(s.id, p.id)] = xs[k]
        paying = [p for p in candidates if p.cost > 0]
        self.full_cost = list(full_cost_constraints(paying, self.pairs))
        self.matching = list(match_constraints(self.pairs))
        self.margins = self._margins()
        others = [*amounts(self.pairs), *self.matching, *selection_rules(instance, self.ids)]
        self.rows: dict[str, tuple[LinearRule, pulp.LpConstraint]] = {}
        self._match_rows: list[str] = []
        for number, rule in enumerate(self.full_cost + others):
            self._add(f"c{number}", rule)
            if rule.name.startswith("match["):
                self._match_rows.append(f"c{number}")
        if not self.rows:  # CBC refuses a model without rows; this one never binds
            terms = tuple((y_key(p), 1) for p in self.ids)
            self._add("c_count", LinearRule("count", terms, "<=", len(self.ids)))
        self.support = self.expression(self.scores)
        self.cost = self.expression(self.costs)
        self.fixed: dict[str, int] = {}
        self._fundable: dict[frozenset[str], bool] = {}
        self._excluded = 0

    def _margins(self) -> dict[str, tuple[str, int]]:
        """For each matching row, its project and the margin M of the restriction (see
        `restrict`)."""
        residents: dict[str, int] = {}
        for source, project in self.pairs:
            if source.resident:
                residents[project.id] = residents.get(project.id, 0) + 1
        return {
            f"match[{s.id},{p.id}]": (p.id, 100 + s.match_percent * residents.get(p.id, 0) - 1)
            for s, p in self.pairs
            if s.match_percent is not None
        }

    def restrict(self, on: bool) -> None:
        """Switch the matching rows between the relaxation (100 g - m R <= 0, the rule
        itself; R: resident cents in the project) and a restriction, 100 g - m R <=
        -M * y with M = 100 + m * n - 1 (n: resident sources that can pay the project).
        A real solution of the restriction rounds to whole cents: the money rules
        without matching form a flow, so some integer flow is within 1 cent of it on
        every edge, which moves 100 g - m R by less than 100 + m * n."""
        for name in self._match_rows:
            rule, constraint = self.rows[name]
            project, margin = self.margins[rule.name]
            constraint.expr[self.y[project]] = margin if on else 0

    def expression(self, coefs: Mapping[str, int]) -> pulp.LpAffineExpression:
        """sum of coefs[p] * y[p], naming every y (zeros too): a column CBC finds in no
        row and not in the objective makes it fail to read the file."""
        return pulp.LpAffineExpression([(self.y[p], coefs.get(p, 0)) for p in self.ids])

    def _add(self, name: str, rule: LinearRule) -> None:
        if not any(coef for _, coef in rule.terms):  # e.g. an area share of free projects
            if not rule.holds({}):
                raise ValueError(f"rule {rule.name} can never hold")  # a caller's bug
            return  # holds for every selection; CBC refuses a row without terms
        expr = pulp.LpAffineExpression([(self.variables[k], c) for k, c in rule.terms])
        constraint = pulp.LpConstraint(expr, _SENSE[rule.sense], name, rule.rhs)
        self.prob.addConstraint(constraint)
        self.rows[name] = (rule, constraint)

    def set_row(self, name: str, coefs: Mapping[str, int], sense: str, rhs: int) -> None:
        """Add the row sum(coefs[p] * y[p]) <sense> rhs, or move the right-hand side of
        the row of that name (its coefficients never change)."""
        if name in self.rows:
            rule, constraint = self.rows[name]
            constraint.changeRHS(rhs)
            self.rows[name] = (replace(rule, rhs=rhs), constraint)
            return
        terms = tuple((y_key(p), c) for p, c in coefs.items())
        self._add(name, LinearRule(name, terms, sense, rhs))

    def relax_row(self, name: str) -> None:
        """Make a ">=" row added by `set_row` hold for every selection (PuLP has no
        public way to remove a row)."""
        if name in self.rows:
            rule = self.rows[name][0]
            self.set_row(name, {}, ">=", sum(min(0, coef) for _, coef in rule.terms))

    def fix(self, values: Mapping[str, int]) -> None:
        """Fix exactly these projects (and free all others)."""
        for p, var in self.y.items():
            value = values.get(p)
            var.lowBound, var.upBound = (0, 1) if value is None else (value, value)
        self.fixed = dict(values)

    def solve(self, objective: Mapping[str, int]) -> str:
        """Maximise sum(objective[p] * y[p]) under the current bounds and rows."""
        if not any(objective.values()):
            # Every feasible selection is optimal. PuLP would write a constant objective
            # with a dummy column CBC rejects, so ask for any one (the largest).
            objective = dict.fromkeys(self.ids, 1)
        self.prob.setObjective(self.expression(objective))
        status = solver.solve_mip(self.prob, self.time_limit)
        self.statuses.append(status)
        return status

    def chosen(self) -> frozenset[str]:
        """The selected projects of the last solve (each y checked to be 0 or 1)."""
        values = {p: solver.int_value(var) for p, var in self.y.items()}
        if any(v not in (0, 1) for v in values.values()):
            raise solver.SolverError("solver returned a y that is neither 0 nor 1")
        return frozenset(p for p, v in values.items() if v == 1)

    def exact(self, chosen: frozenset[str]) -> bool:
        """Whether `chosen` really meets every rule (integer cents, exact rows); a set that
        does not is cut off, so the next solve cannot return it again."""
        if chosen not in self._fundable:
            ok = not broken(self.instance, chosen)
            if ok and self.instance.matching:
                ok = fundable(self.instance, chosen)
            self._fundable[chosen] = ok
        if not self._fundable[chosen]:
            self._exclude(chosen)
        return self._fundable[chosen]

    def _exclude(self, chosen: frozenset[str]) -> None:
        """The no-good row: any other set differs from `chosen` in one project at least."""
        coefs = {p: (-1 if p in chosen else 1) for p in self.ids}
        self._excluded += 1
        self.set_row(f"nogood{self._excluded}", coefs, ">=", 1 - len(chosen))

    def lagrangian(self) -> Bound | None:
        """Solve the linear relaxation and turn its duals into a `Bound` (None when the
        relaxation did not solve). Only the bounds on x and y and the full-cost rows
        stay; every other row is priced by its dual, clipped to the sign that keeps
        the bound valid."""
        if not any(self.scores.values()):
            return None  # nothing to bound: every selection has support 0
        self.prob.setObjective(self.support)
        status = solver.solve(self.prob, self.time_limit, mip=False)
        if status != solver.OPTIMAL:
            return None
        full = {rule.name for rule in self.full_cost}
        base = Fraction(0)
        on_y: dict[str, Fraction] = {}
        on_x: dict[tuple[str, str], Fraction] = {}
        for rule, constraint in self.rows.values():
            if rule.name in full or not constraint.pi:
                continue
            sign = -1 if rule.sense == ">=" else 1  # as a <= row
            price = Fraction(constraint.pi) * sign
            if price < 0 and rule.sense != "==":
                continue  # 0 is a valid price too, and a weaker one
            base += price * sign * rule.rhs
            for key, coef in rule.terms:
                weight = price * sign * coef
                if key[0] == "y":
                    on_y[key[1]] = on_y.get(key[1], Fraction(0)) + weight
                else:
                    on_x[(key[1], key[2])] = on_x.get((key[1], key[2]), Fraction(0)) + weight
        reduced = {
            p.id: self.scores[p.id] - on_y.get(p.id, Fraction(0)) - self._cheapest(p, on_x)
            for p in self.candidates
        }
        return Bound(base, reduced)

    def _cheapest(self, project: Project, prices: Mapping[tuple[str, str], Fraction]) -> Fraction:
        """Least priced way to pay `project` in full within each source's limit."""
        offers = sorted(
            (prices.get((s.id, project.id), Fraction(0)), s.limit(project))
            for s in self.payers.get(project.id, ())
        )
        need, total = project.cost, Fraction(0)
        for price, limit in offers:
            take = min(need, limit)
            total += price * take
            need -= take
        if need:  # cannot be paid even alone: the candidates exclude such projects
            raise ValueError(f"project {project.id!r} cannot be paid in full")
        return total
