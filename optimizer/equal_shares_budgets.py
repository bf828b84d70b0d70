"""Voters and budget classes for the Method of Equal Shares: fast floats, exact when asked.

Voters with identical ballots are one type with a multiplicity (`Electorate`, prepared
once for every run). Voters who have paid the same amounts share a budget class. Each
class keeps a float budget with a proven bound on its error and, computed only on
demand, its exact value: its parent's budget minus what it paid, a price (rho) kept as
a recipe until needed times the voters' utility. Each voter type points to its class,
so a project's supporters reduce to a small histogram of classes, counted at C speed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from fractions import Fraction
from itertools import compress
from operator import itemgetter, mul

# Twice the unit roundoff of IEEE doubles; every error bound is generous with it.
EPS = 2.0**-52
START, ZERO = 0, 1  # class ids of the starting budget and of an empty budget

Item = tuple[float, int, int, int]  # (float budget / utility, class, voters, utility)
Histograms = list[tuple[int, dict[int, int]]]  # (utility, class -> voters)


class Price:
    """rho of one purchase: (cost - what the poor paid) / utility of the others.

    Kept as a recipe; the Fraction is only computed when someone needs it.
    """

    __slots__ = ("cost", "rest", "poor", "value")

    def __init__(
        self, cost: int, rest: int, poor: list[tuple[int, int]], value: Fraction | None
    ) -> None:
        self.cost, self.rest, self.poor, self.value = cost, rest, poor, value


class Group:
    """Supporters of one project who all give it the same utility."""

    __slots__ = ("utility", "get", "heavy", "types", "_types_get", "voters")

    def __init__(self, utility: int, types: list[int], multiplicity: Sequence[int]) -> None:
        counts = list(map(multiplicity.__getitem__, types))
        light = list(compress(types, map((1).__eq__, counts)))
        doubles = list(compress(types, map((2).__eq__, counts)))
        light += doubles + doubles  # counted twice, so each voter counts
        big = list(map((2).__lt__, counts))
        self.heavy = list(zip(compress(types, big), compress(counts, big), strict=True))
        if len(light) == 1:  # itemgetter with one index returns a scalar, not a tuple
            self.heavy.append((light[0], 1))
            light = []
        self.get = itemgetter(*light) if light else None
        self.utility = utility
        self.types = types
        self._types_get: itemgetter | None = None
        self.voters = sum(counts)

    def types_get(self, classes: list[int]) -> tuple[int, ...]:
        """The class of each of the group's types (and one more, so always a tuple); the
        getter is made on first use: only the groups of bought projects need it."""
        if self._types_get is None:
            self._types_get = itemgetter(*self.types, *self.types[:1])  # >= 2 indices
        return self._types_get(classes)


class Electorate:
    """Ballots prepared once for any number of runs.

    Voter type t, shared by `multiplicity[t]` voters, supports the projects (indices
    into `costs`) in `ballots[t]` with the positive utilities in `utilities[t]`, or with
    utility equal to their cost (approval, pabutools' Cost_Sat) when `utilities` is None.
    `ranks` orders projects for ties (smaller wins).
    """

    def __init__(
        self,
        costs: Sequence[int],
        ranks: Sequence[int],
        ballots: Sequence[Sequence[int]],
        multiplicity: Sequence[int],
        utilities: Sequence[Sequence[int]] | None = None,
    ) -> None:
        self.costs = list(costs)
        self.ranks = list(ranks)
        self.n_types = len(ballots)
        members: dict[tuple[int, int], list[int]] = {}
        if utilities is None:
            lists: list[list[int]] = [[] for _ in costs]
            for t, ballot in enumerate(ballots):
                for p in ballot:
                    lists[p].append(t)
            members = {(p, costs[p]): ts for p, ts in enumerate(lists) if ts}
        else:
            for t, ballot in enumerate(ballots):
                for p, u in zip(ballot, utilities[t], strict=True):
                    members.setdefault((p, u), []).append(t)
        self.groups: list[list[Group]] = [[] for _ in costs]
        for (p, u), types in sorted(members.items()):
            self.groups[p].append(Group(u, types, multiplicity))
        self._summarise(ballots, multiplicity)

    @classmethod
    def of_approvals(
        cls,
        costs: Sequence[int],
        ranks: Sequence[int],
        approvers: Sequence[list[int]],
        multiplicity: Sequence[int],
    ) -> Electorate:
        """Approval ballots given per project (the voter types approving each), with cost
        utilities: the same electorate as from the ballots, without making them."""
        self = cls.__new__(cls)
        self.costs, self.ranks = list(costs), list(ranks)
        self.n_types = len(multiplicity)
        self.groups = [
            [Group(cost, types, multiplicity)] if types else []
            for cost, types in zip(costs, approvers, strict=True)
        ]
        self._summarise(None, multiplicity)
        return self

    def _summarise(
        self, ballots: Sequence[Sequence[int]] | None, multiplicity: Sequence[int]
    ) -> None:
        self.supporters = [sum(g.voters for g in gs) for gs in self.groups]
        self.total_utility = [sum(g.voters * g.utility for g in gs) for gs in self.groups]
        self.min_utility = [min((g.utility for g in gs), default=1) for gs in self.groups]
        self.candidates = [
            p for p, c in enumerate(self.costs) if c > 0 and self.total_utility[p] > 0
        ]
        self.ballots: Sequence[Sequence[int]] | None = ballots
        self.multiplicity = multiplicity
        self._shared: dict[int, list[int]] = {}

    def _ballots(self) -> Sequence[Sequence[int]]:
        """Each type's projects; made from the groups when the electorate was built
        from them (`of_approvals`)."""
        if self.ballots is None:
            made: list[list[int]] = [[] for _ in range(self.n_types)]
            for p, gs in enumerate(self.groups):
                for g in gs:
                    for t in g.types:
                        made[t].append(p)
            self.ballots = made
        return self.ballots

    def shared(self, q: int) -> list[int]:
        """Voters who support both q and each project (worked out once, on first use)."""
        row = self._shared.get(q)
        if row is None:
            row = self._shared[q] = [0] * len(self.costs)
            ballots, multiplicity = self._ballots(), self.multiplicity
            for g in self.groups[q]:
                for t in g.types:
                    m = multiplicity[t]
                    for p in ballots[t]:
                        row[p] += m
        return row


class Budgets:
    """The classes of one run, over voter types that `groups[p]` lists per project."""

    def __init__(
        self, groups: Sequence[list[Group]], supporters: Sequence[int], types: int, start: Fraction
    ) -> None:
        self.groups, self.supporters = groups, supporters
        first = float(start)
        self.cls = [START] * types  # class of each voter type
        self.cf = [first, 0.0]  # float budget
        self.ce = [first * EPS, 0.0]  # bound on |float - exact|
        self.cx: list[Fraction | None] = [start, Fraction(0)]  # exact, once known
        self.cparent = [START, ZERO]
        nothing = Price(0, 1, [], Fraction(0))
        self.cprice = [nothing, nothing]
        self.cutility = [0, 0]
        self.emax = first * EPS  # largest error bound of any class

    def exact(self, k: int) -> Fraction:
        """Exact budget of class k, worked out (with what it depends on) on first use."""
        cx = self.cx
        stack = [k]
        while stack:
            j = stack[-1]
            if cx[j] is not None:
                stack.pop()
                continue
            parent, price = self.cparent[j], self.cprice[j]
            missing = [] if cx[parent] is not None else [parent]
            if price.value is None:
                missing += [c for c, _ in price.poor if cx[c] is None]
            if missing:
                stack += missing
                continue
            self.price_value(price)
            cx[j] = cx[parent] - price.value * self.cutility[j]  # type: ignore[operator]
            stack.pop()
        value = cx[k]
        assert value is not None
        return value

    def price_value(self, price: Price) -> Fraction:
        if price.value is None:
            paid = sum((m * self.exact(c) for c, m in price.poor), Fraction(0))
            price.value = (price.cost - paid) / price.rest
        return price.value

    def histograms(self, p: int) -> list[tuple[int, dict[int, int]]]:
        """For each utility u of p's supporters: how many of them are in each class."""
        cls, found = self.cls, []
        for g in self.groups[p]:
            hist: dict[int, int] = Counter(g.get(cls)) if g.get is not None else {}
            for t, m in g.heavy:
                k = cls[t]
                hist[k] = hist.get(k, 0) + m
            found.append((g.utility, hist))
        return found

    def items(self, hists: list[tuple[int, dict[int, int]]]) -> list[Item]:
        """Supporters as (budget / utility, class, voters, utility), unsorted."""
        cf, found = self.cf, []
        for u, hist in hists:
            found += [(cf[k] / u, k, m, u) for k, m in hist.items()]
        return found

    def money(self, p: int, hists: list[tuple[int, dict[int, int]]]) -> tuple[float, float]:
        """Float money of p's supporters and a bound on its error."""
        cf, money, terms = self.cf, 0.0, 0
        for _, hist in hists:
            money += sum(map(mul, hist.values(), map(cf.__getitem__, hist)))
            terms += len(hist)
        return money, self.supporters[p] * self.emax + 2 * EPS * (terms + 1) * money

    def exact_money(self, p: int) -> Fraction:
        """Exact money p's supporters hold."""
        hists = self.histograms(p)
        return sum((m * self.exact(k) for _, h in hists for k, m in h.items()), Fraction(0))
