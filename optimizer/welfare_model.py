"""The max-welfare mixed-integer program, and the bound that makes it fast to prove.

Variables: y[p] binary (project p selected), nothing else. Rows: the selection rules of
`constraints.py` (area shares, dependencies, incompatible projects), written once as
`LinearRule`s, and the money as cuts on y (`welfare_cuts.py`): at first only "the
selection costs no more than all the money"; each time a solve returns a set that cannot
be funded, a row that set breaks, derived from its shortfall program, is added and the
solve repeated. Every returned set is checked exactly (`exact`: the rules in integers, the
funding by max-flow, or by the integer funding model when a grant matches), and a set
that fails without a cut breaking it is cut off by a "no-good" row, so the answer is an
optimum of the real problem: the model is a relaxation, and its optimum is kept only
when it really can be funded. Where the sources' restrictions bind, the rows advance
slowly (each cuts off a little support: 20+ rounds on a 400-project benchmark round), so
after `CUTS` rows the money's own columns join the model (`_add_columns`: x[s,p] cents
with the plan's rules as rows, exact without matching grants). Where they do not bind,
as on the benchmark's 2,000-project round, the rows alone answer at once: the column
model's linear programs were ~6x larger and proving that round took 92 s instead of 2.

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
from .flow import feasible
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
from .welfare_cuts import MoneyCuts, cheapest_fill

CUTS = 3  # money rows tried before the money's own columns join the model
_SENSE = {"<=": pulp.LpConstraintLE, ">=": pulp.LpConstraintGE, "==": pulp.LpConstraintEQ}


@dataclass(frozen=True)
class Bound:
    """objective(y) <= base + sum of reduced[p] * y[p] for every feasible selection y."""

    base: Fraction
    reduced: dict[str, Fraction]

    def value(self, given: Mapping[str, int] | None = None) -> Fraction:
        """The bound itself: the best any selection could do (agreeing with `given`)."""
        given = given or {}
        total = self.base + sum(
            (r for p, r in self.reduced.items() if p not in given and r > 0), Fraction(0)
        )
        return total + sum(
            (self.reduced[p] * v for p, v in given.items() if p in self.reduced), Fraction(0)
        )

    def fixings(self, target: int, given: Mapping[str, int] | None = None) -> dict[str, int]:
        """Values every selection agreeing with `given` must give its other projects to
        reach `target` (see the module), together with `given` itself."""
        given = dict(given or {})
        total = self.value(given)
        fixed = dict(given)
        for p, r in self.reduced.items():
            if p in given:
                continue
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
        ys = self.prob.add_variable_dicts("y", range(len(candidates)), 0, 1, pulp.LpBinary)
        self.y: dict[str, pulp.LpVariable] = {p.id: ys[j] for j, p in enumerate(candidates)}
        self.variables: dict[Var, pulp.LpVariable] = {y_key(p): v for p, v in self.y.items()}
        self.money = MoneyCuts(instance, [p for p in candidates if p.cost > 0])
        self.full_cost: set[str] = set()  # names of the rows "x into p = cost * y[p]"
        self.payers: dict[str, list[Source]] = {}
        self.rows: dict[str, tuple[LinearRule, pulp.LpConstraint]] = {}
        for number, rule in enumerate(selection_rules(instance, self.ids)):
            self._add(f"c{number}", rule)
        first = self.money.first()
        self._add(first.name, first)
        if not self.rows:  # CBC refuses a model without rows; this one never binds
            terms = tuple((y_key(p), 1) for p in self.ids)
            self._add("c_count", LinearRule("count", terms, "<=", len(self.ids)))
        self.fixed: dict[str, int] = {}
        self._fundable: dict[frozenset[str], bool] = {}
        self._excluded = 0

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
            # Every feasible selection is optimal: ask for the largest, so the answer
            # does not depend on where the solver stops.
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
        """Whether `chosen` really meets every rule (exact rows, funded in whole cents).
        A set that does not is cut off, by a money row it breaks when its shortfall
        program gives one, else by a no-good row, so no later solve returns it again."""
        if chosen not in self._fundable:
            ok = not broken(self.instance, chosen)
            cut = self.money.separate(chosen) if ok and not self.full_cost else None
            if cut is not None:
                self._add(cut.name, cut)
                ok = False
                if self.money.count > CUTS:
                    self._add_columns()
            elif ok:
                ok = (fundable if self.instance.matching else feasible)(self.instance, chosen)
            if not ok and cut is None:
                self._exclude(chosen)
            self._fundable[chosen] = ok
        return self._fundable[chosen]

    def _add_columns(self) -> None:
        """Give the model the money itself: a column per (source, project) pair that can
        carry cents, with the rules of a plan as rows. The rows found so far stay (they
        hold for every fundable set). Without a matching grant the model is then exact;
        with one it is still a relaxation, and the exact check stays the judge."""
        pairs = eligible_pairs(self.instance, self.candidates)
        xs = self.prob.add_variable_dicts("x", range(len(pairs)), lowBound=0)
        for k, (source, project) in enumerate(pairs):
            xs[k].upBound = source.limit(project)
            self.variables[x_key(source.id, project.id)] = xs[k]
            self.payers.setdefault(project.id, []).append(source)
        paying = [p for p in self.candidates if p.cost > 0]
        full = list(full_cost_constraints(paying, pairs))
        rules = [*full, *amounts(pairs), *match_constraints(pairs)]
        for number, rule in enumerate(rules):
            self._add(f"x{number}", rule)
        self.full_cost = {rule.name for rule in full}

    def _exclude(self, chosen: frozenset[str]) -> None:
        """The no-good row: any other set differs from `chosen` in one project at least."""
        coefs = {p: (-1 if p in chosen else 1) for p in self.ids}
        self._excluded += 1
        self.set_row(f"nogood{self._excluded}", coefs, ">=", 1 - len(chosen))

    def lagrangian(self, objective: Mapping[str, int]) -> Bound | None:
        """Solve the linear relaxation of maximising `objective` (under the projects fixed
        now) and turn its duals into a `Bound` that holds for every selection meeting the
        rows (None when the relaxation did not solve). Every row is priced by its dual,
        clipped to the sign that keeps the bound valid; the bounds 0 <= y <= 1 stay."""
        if not any(objective.values()):
            return None  # nothing to bound: every selection has the value 0
        self.prob.setObjective(self.expression(objective))
        status = solver.solve(self.prob, self.time_limit, mip=False)
        if status != solver.OPTIMAL:
            return None
        base = Fraction(0)
        on_y: dict[str, Fraction] = {}
        on_x: dict[tuple[str, str], Fraction] = {}
        for rule, constraint in self.rows.values():
            if rule.name in self.full_cost or not constraint.pi:
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
            p.id: objective.get(p.id, 0) - on_y.get(p.id, Fraction(0)) - self._cheapest(p, on_x)
            for p in self.candidates
        }
        return Bound(base, reduced)

    def _cheapest(self, project: Project, prices: Mapping[tuple[str, str], Fraction]) -> Fraction:
        """Least priced way to pay `project` in full within each source's limit (0 while
        the model has no money columns)."""
        if not self.full_cost or project.cost == 0:
            return Fraction(0)
        offers = [
            (prices.get((s.id, project.id), Fraction(0)), s.limit(project))
            for s in self.payers.get(project.id, ())
        ]
        # the candidates exclude projects that cannot be paid in full even alone
        return cheapest_fill(offers, project.cost, Fraction(0))
