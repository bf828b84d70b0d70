"""The money of max-welfare as cuts on the selection alone (Benders' decomposition).

max-welfare's model holds only y[p] (selected) and the selection rules; the money enters
as rows "sum of F[p] * y[p] <= R" that every fundable selection meets. The first row is
"the selection costs no more than all the money". When the solver returns a set that
cannot be funded, `MoneyCuts.separate` solves the linear "shortfall" program of that set
(fund it with the least money missing) and turns its duals into a new row the set breaks.
A model of 2,000 y's and a few dozen rows solves far faster than one with every
(source, project) cent as a column, and the money rarely binds more than a few rows deep.

Why a row is valid for every selection, whatever the solver's accuracy: the shortfall
program's dual is feasible for any y once its prices are repaired (below), and by weak
duality shortfall(y) >= sum over p of F[p] * y[p] - R; a fundable y has no shortfall.
The duals are rounded to multiples of 1/SCALE and every price is then set exactly:
- k[s] in [0, SCALE]: the price of a cent of source s (the dual of its amount);
- j[g,p] >= 0: the price of grant g's matching rule in project p;
- a cent from s into p then costs w = k[s] + 100 j[s,p] (s matching at p) minus the sum
  of m_g j[g,p] over the grants g matching at p (s resident money), a missing cent SCALE,
  and F[p] is the cheapest way to fill p's cost at those prices within each limit:
  exactly the best dual for project p given k and j (its "pi" and edge duals).
Everything is in integers, so a row never cuts off a fundable set; the row is divided by
the gcd of its coefficients and its right-hand side rounded down (y is integral).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fractions import Fraction
from math import gcd
from typing import TypeVar

import pulp

from . import solver
from .funding import LinearRule, y_key
from .model import Instance, Project, Source

SCALE = 1_000  # duals are rounded to multiples of 1/SCALE
Price = TypeVar("Price", int, Fraction)


class MoneyCuts:
    """Rows on y that every fundable selection of `candidates` meets."""

    def __init__(self, instance: Instance, candidates: Iterable[Project]) -> None:
        self.instance = instance
        self.projects = {p.id: p for p in candidates}
        self.payers: dict[str, list[tuple[Source, int]]] = {
            p: [(s, s.limit(project)) for s in instance.sources if s.limit(project) > 0]
            for p, project in self.projects.items()
        }
        self.count = 0

    def first(self) -> LinearRule:
        """Every source at full price: the selection's cost is at most all the money."""
        return self._rule(dict.fromkeys((s.id for s in self.instance.sources), SCALE), {})

    def separate(self, chosen: frozenset[str]) -> LinearRule | None:
        """A row that `chosen` breaks, when its shortfall program says it cannot be
        funded; None when the program funds it (real cents) or the rounded duals fall
        short of a row it breaks (then only the exact check can say)."""
        paying = sorted(p for p in chosen if p in self.projects)
        prices = self._duals(paying)
        if prices is None:
            return None
        rule = self._rule(*prices)
        return rule if not rule.holds({y_key(p): 1 for p in chosen}) else None

    def _duals(self, paying: list[str]) -> tuple[dict[str, int], dict[tuple[str, str], int]] | None:
        """The scaled duals (k, j) of the shortfall program of `paying`; None when it has
        no shortfall."""
        prob = solver.new_problem("shortfall", maximize=False)
        pairs = [(s, p, limit) for p in paying for s, limit in self.payers[p]]
        xs = prob.add_variable_dicts("x", range(len(pairs)), lowBound=0)
        zs = prob.add_variable_dicts("z", range(len(paying)), lowBound=0)
        for k, (_, _, limit) in enumerate(pairs):
            xs[k].upBound = limit
        into: dict[str, list[int]] = {}
        for k, (_, p, _) in enumerate(pairs):
            into.setdefault(p, []).append(k)
        for i, p in enumerate(paying):
            expr = pulp.lpSum(xs[k] for k in into.get(p, ())) + zs[i]
            prob.addConstraint(expr == self.projects[p].cost, f"d{i}")
        amounts: dict[str, pulp.LpConstraint] = {}
        by_source: dict[str, list[int]] = {}
        for k, (s, _, _) in enumerate(pairs):
            by_source.setdefault(s.id, []).append(k)
        sources = {s.id: s for s in self.instance.sources}
        for n, (sid, ks) in enumerate(sorted(by_source.items())):
            amounts[sid] = pulp.LpConstraint(
                pulp.lpSum(xs[k] for k in ks), pulp.LpConstraintLE, f"a{n}", sources[sid].amount
            )
            prob.addConstraint(amounts[sid])
        matches: dict[tuple[str, str], pulp.LpConstraint] = {}
        for k, (s, p, _) in enumerate(pairs):
            if s.match_percent is None:
                continue
            residents = [xs[r] for r in into[p] if pairs[r][0].resident]
            expr = 100 * xs[k] - s.match_percent * pulp.lpSum(residents)
            matches[(s.id, p)] = pulp.LpConstraint(expr, pulp.LpConstraintLE, f"m{len(matches)}", 0)
            prob.addConstraint(matches[(s.id, p)])
        prob.setObjective(pulp.lpSum(zs.values()))
        if solver.solve_mip(prob) != solver.OPTIMAL:
            raise solver.SolverError("the shortfall program did not solve")
        if (pulp.value(prob.objective) or 0) < 0.5:
            return None
        k_s = {
            sid: min(SCALE, max(0, round(-(row.pi or 0) * SCALE))) for sid, row in amounts.items()
        }
        j_gp = {key: max(0, round(-(row.pi or 0) * SCALE)) for key, row in matches.items()}
        return k_s, j_gp

    def _rule(self, k_s: Mapping[str, int], j_gp: Mapping[tuple[str, str], int]) -> LinearRule:
        """sum of F[p] y[p] <= R for the prices k and j (see the module docstring)."""
        coefs = {p: self._fill(p, k_s, j_gp) for p in sorted(self.projects)}
        coefs = {p: c for p, c in coefs.items() if c}
        rhs = sum(k_s.get(s.id, 0) * s.amount for s in self.instance.sources)
        divisor = 0
        for c in coefs.values():
            divisor = gcd(divisor, c)
        divisor = divisor or 1
        self.count += 1
        terms = tuple((y_key(p), c // divisor) for p, c in coefs.items())
        return LinearRule(f"money{self.count}", terms, "<=", rhs // divisor)

    def _fill(self, p: str, k_s: Mapping[str, int], j_gp: Mapping[tuple[str, str], int]) -> int:
        """The cheapest way to fill project p's cost at the prices (a missing cent: SCALE)."""
        matching = [(s, j_gp.get((s.id, p), 0)) for s, _ in self.payers[p] if s.match_percent]
        resident_credit = sum((s.match_percent or 0) * j for s, j in matching)
        offers = []
        for s, limit in self.payers[p]:
            price = k_s.get(s.id, 0)
            if s.match_percent is not None:
                price += 100 * j_gp.get((s.id, p), 0)
            if s.resident:
                price -= resident_credit
            offers.append((price, limit))
        offers.append((SCALE, self.projects[p].cost))  # the missing cents
        return cheapest_fill(offers, self.projects[p].cost, 0)


def cheapest_fill(offers: Iterable[tuple[Price, int]], need: int, zero: Price) -> Price:
    """The least total price of `need` units bought from (price per unit, most units)
    offers; a ValueError when they do not add up to `need`."""
    total = zero
    for price, limit in sorted(offers, key=lambda offer: offer[0]):
        take = min(need, limit)
        total += price * take
        need -= take
    if need:
        raise ValueError("the offers fall short of the need")
    return total


def _scaled(row: pulp.LpConstraint) -> int:
    """The price of a "<=" row of a minimisation (its dual is <= 0), times SCALE."""
    return max(0, round(-(row.pi or 0) * SCALE))
