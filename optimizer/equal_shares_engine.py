"""The arithmetic of the Method of Equal Shares, fast and exact.

One run: every voter starts with the same budget; in each round the project its
supporters can buy at the lowest price per unit of utility (rho) is bought, each
supporter paying rho times their utility or all they have left. Ties go to the project
ranked first (the rule passes ids sorted as strings).

Why it is fast: voters with identical ballots are one type with a multiplicity, and
voters who paid the same amounts share a budget "class", so a project's supporters are
summarised by a small histogram of classes, counted at C speed. Why it is exact: each
class budget is a float with a proven error bound plus an exact Fraction derived lazily
from how the class was made; whenever the floats cannot settle a decision (a near-tie
between projects, a supporter exactly at the price, money exactly equal to a cost) the
exact values decide. So the outcome is that of the rule in exact arithmetic.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from operator import itemgetter, mul

from .equal_shares_budgets import EPS as _EPS
from .equal_shares_budgets import START as _START
from .equal_shares_budgets import ZERO as _ZERO
from .equal_shares_budgets import Budgets, Electorate, Histograms, Item, Price

_RATIO = itemgetter(0)
# A winner whose float price may be off by more than this (relative) is priced exactly,
# so error bounds stay tiny and near-ties stay rare.
_ANCHOR = 1e-10
# Relative allowance for rounding in slopes, which are sums of non-negative terms.
_SLACK = 1 + 1e-6

OK, SKIP, OVERSPEND = "ok", "skip", "overspend"


@dataclass(frozen=True)
class Purchase:
    """One round of a run: `project` bought; `price` gives its rho exactly on demand."""

    project: int
    payers: int  # supporters who paid something (the others had nothing left)
    max_payment: float  # the most one supporter paid (only for the wording)
    price: Price = field(repr=False, compare=False)


@dataclass(frozen=True)
class Run:
    """What one run at one per-voter budget did."""

    per_voter: Fraction
    bought: tuple[Purchase, ...]
    skipped: tuple[tuple[int, int], ...]  # (project, round) refused by `admit`
    overspent: int | None  # the winner that would have overspent, ending the run
    cut: bool  # stopped early: sure to be neither exhaustive nor overspent
    # Every per-voter budget in [per_voter, per_voter + stable) makes the same decisions
    # (0 when not worked out): add1 may skip the increments in between.
    stable: float
    state: _Run = field(repr=False, compare=False)

    def rho(self, purchase: Purchase) -> Fraction:
        """The exact price per unit of utility that `purchase` was made at."""
        return self.state.price_value(purchase.price)

    def left(self, project: int) -> int:
        """Whole cents the supporters of `project` still held when the run ended."""
        hists = self.state.histograms(project)
        money, slack = self.state.money(project, hists)
        low, high = math.floor(money - slack), math.floor(money + slack)
        return low if low == high else math.floor(self.state.exact_money(project))


def run(
    electorate: Electorate,
    per_voter: Fraction,
    admit: Callable[[int], str],
    horizon: float = 0.0,
    budget: int | None = None,
) -> Run:
    """Run equal shares with `per_voter` each; `admit(p)` may refuse or stop a winner.

    With `horizon` > 0 (add1), also find how far the budget may grow with the same
    decisions (Run.stable), giving up as soon as that is less than `horizon`; then,
    given the `budget` of one plain pot, stop early (Run.cut) once the outcome is sure
    to be neither exhaustive nor overspent, which is all add1 needs to know.
    """
    return _Run(electorate, per_voter, horizon).go(admit, budget)


@dataclass
class _Eval:
    """A project's price this round: float `rho` within `err` of the exact one."""

    project: int
    rho: float
    err: float
    items: list[Item]  # sorted by budget / utility
    poor: int  # how many leading items pay all they have
    exact: Fraction | None = None
    slope: float = 0.0  # rho falls by `slope` per cent added to every starting budget


class _Run(Budgets):
    """State of one run. Lists indexed by class id describe the budget classes.

    Stability: with more money at the start (b + d instead of b) and the same winners,
    no budget is lower, no price is higher, and class k's budgets are at most
    `cgrowth[k] * d` higher (see `track` and `pay`). `stable` is the least d that could
    change a winner or revive a dead project, from float values net of their error
    bounds, so it never overstates.
    """

    def __init__(self, electorate: Electorate, per_voter: Fraction, horizon: float) -> None:
        super().__init__(electorate.groups, electorate.supporters, electorate.n_types, per_voter)
        self.e = electorate
        self.per_voter = per_voter
        self.horizon = horizon  # 0 once stability is not (or no longer) worth tracking
        self.stable = math.inf if horizon > 0 else 0.0
        self.cgrowth = [1.0, 0.0]
        # Upper bounds on the money of each project's supporters, lowered as others are
        # bought, so most projects that can no longer be afforded need no counting.
        self.paid = False  # whether anyone has paid for anything yet
        self.caps: list[float] | None = None
        # Projects none of whose supporters has paid yet: their histogram is trivial.
        self.touched: list[bool] | None = None
        if horizon:
            first = float(per_voter) * (1 + 4 * _EPS)
            self.caps = [n * first for n in electorate.supporters]
            self.touched = [False] * len(electorate.costs)

    def histograms(self, p: int) -> Histograms:
        if not self.paid or (self.touched is not None and not self.touched[p]):
            # Nobody has paid yet, or none of p's supporters: all still have the start.
            return [(g.utility, {_START: g.voters}) for g in self.e.groups[p]]
        return super().histograms(p)

    def limit(self, room: float, rate: float) -> None:
        """A decision holds while b grows less than room / rate (room is net of errors)."""
        if room <= 0:
            self.stable = 0.0
        elif rate > 0:
            self.stable = min(self.stable, room / rate)
        if self.stable < self.horizon:
            self.horizon = 0.0  # too close to matter: stop tracking for this run
            self.stable = 0.0

    def evaluate(self, p: int) -> _Eval | None:
        """p's current price, or None when its supporters can no longer afford it."""
        e, cost, cf, ce = self.e, self.e.costs[p], self.cf, self.ce
        if self.caps is not None and not self.horizon and self.caps[p] < cost:
            return None  # not tracking stability, so no need for the exact shortfall
        hists = self.histograms(p)
        money, slack = self.money(p, hists)
        if self.caps is not None:
            self.caps[p] = money + slack
        if money + slack < cost or (money - slack < cost and self.exact_money(p) < cost):
            if self.horizon:  # stays unaffordable while its supporters' money < cost
                cg, rate = self.cgrowth, 0.0
                for _, hist in hists:
                    rate += sum(map(mul, hist.values(), map(cg.__getitem__, hist)))
                self.limit(cost - money - slack, rate * _SLACK)
            return None
        items = self.items(hists)
        items.sort()
        rest, paid, poor, error = e.total_utility[p], 0.0, 0, 0.0
        for ratio, k, m, u in items:
            rho = (cost - paid) / rest
            if rho <= ratio:
                break
            paid += m * cf[k]
            error += m * ce[k]
            rest -= m * u
            poor += 1
        else:  # the floats cannot tell; exact arithmetic will
            found = _Eval(p, 0.0, math.inf, items, poor)
            self.settle(found)
            return self.track(found)
        # |rho - exact| from the poor budgets' errors and the rounding of this loop.
        error = (error * (1 + 4 * poor * _EPS) + (poor + 4) * _EPS * (cost + paid)) / rest
        return self.track(_Eval(p, rho, error + 4 * _EPS * rho, items, poor))

    def track(self, ev: _Eval) -> _Eval:
        """Bound how fast ev's price can fall as b grows: rho(b + d) >= rho - slope * d.

        Below rho only those who pay all can pay more, by at most their growth each,
        while the others' payments fall by rest (their utility) per unit of rho. Those
        the floats cannot place are counted among who pay all: a steeper, safe slope.
        """
        if self.horizon:
            cg, items = self.cgrowth, ev.items
            poor = items[: max(ev.poor, self._window(ev)[1])]
            rest = self.e.total_utility[ev.project] - sum(m * u for _, _, m, u in poor)
            more = sum(m * cg[k] for _, k, m, _ in poor)
            ev.slope = more / rest * _SLACK if rest > 0 else math.inf
        return ev

    def settle(self, ev: _Eval) -> Fraction:
        """The exact price of an evaluated project (also tightens ev.rho and ev.err)."""
        if ev.exact is not None:
            return ev.exact
        p = ev.project
        cost, utility, items = self.e.costs[p], self.e.total_utility[p], ev.items
        rho = self._from_split(p, items, ev.poor)
        if rho is None:  # the float order misplaced a supporter: scan in exact order
            self.limit(0.0, 0.0)  # a supporter sits at the price: no stable interval
            ranked = sorted((self.exact(k) / u, i) for i, (_, k, _, u) in enumerate(items))
            items = ev.items = [items[i] for _, i in ranked]
            rest, paid, ev.poor = utility, Fraction(0), 0
            for ratio, _ in ranked:
                _, _, m, u = items[ev.poor]
                rho = (cost - paid) / rest
                if rho <= ratio:
                    break
                paid += m * ratio * u
                rest -= m * u
                ev.poor += 1
            assert rho is not None and ev.poor < len(items), "affordable, so it has a price"
        ev.exact, ev.rho, ev.err = rho, float(rho), 2 * _EPS * float(rho)
        return rho

    def _window(self, ev: _Eval) -> tuple[int, int]:
        """Items whose side of the price the floats cannot tell: items[low:high]."""
        width = ev.err + self.emax / self.e.min_utility[ev.project]
        width += 8 * _EPS * (ev.rho + ev.items[-1][0])
        low = bisect_left(ev.items, ev.rho - width, key=_RATIO)
        return low, bisect_right(ev.items, ev.rho + width, lo=low, key=_RATIO)

    def _from_split(self, p: int, items: list[Item], poor: int) -> Fraction | None:
        """Exact rho if the first `poor` items pay all they have; None if that is wrong.

        Right means: those items hold at most rho * utility, the others at least.
        """
        rest = self.e.total_utility[p] - sum(m * u for _, _, m, u in items[:poor])
        if rest <= 0:
            return None
        paid = sum((m * self.exact(k) for _, k, m, _ in items[:poor]), Fraction(0))
        rho = (self.e.costs[p] - paid) / rest
        ev = _Eval(p, float(rho), 2 * _EPS * float(rho), items, poor)
        low, high = self._window(ev)
        if low > poor or high < poor:
            return None
        for i in range(low, high):
            _, k, _, u = items[i]
            budget, share = self.exact(k), rho * u
            if (i < poor and budget > share) or (i >= poor and budget < share):
                return None
        return rho

    def pay(self, ev: _Eval) -> Purchase:
        """Charge the winner's supporters: the first ev.poor items give all they have."""
        if ev.exact is None:
            low, high = self._window(ev)
            if low != high or low != ev.poor or ev.err > _ANCHOR * ev.rho:
                self.settle(ev)  # a supporter at the price, or errors piling up
        rho_f, split, items, p = ev.rho, ev.poor, ev.items, ev.project
        self.paid = True
        cf, ce = self.cf, self.ce
        poor = [(k, m) for _, k, m, _ in items[:split] if k != _ZERO]
        rest = self.e.total_utility[p] - sum(m * u for _, _, m, u in items[:split])
        price = Price(self.e.costs[p], rest, poor, ev.exact)
        moves: dict[int, dict[int, int]] = {}
        for _, k, _, u in items[:split]:
            moves.setdefault(u, {})[k] = _ZERO
        top = max((cf[k] for _, k, _, _ in items[:split]), default=0.0)
        by_utility: dict[int, list[int]] = {}
        for _, k, _, u in items[split:]:
            by_utility.setdefault(u, []).append(k)
        if self.horizon:  # a budget grows by its parent's growth plus a smaller payment
            cg, slope = self.cgrowth, ev.slope
            for _, k, _, u in items[:split]:
                cg[_ZERO] = max(cg[_ZERO], cg[k] + u * slope)
            for u, ks in by_utility.items():
                cg += [cg[k] + u * slope for k in ks]
        for u, ks in by_utility.items():
            spent, first = rho_f * u, len(cf)
            top = max(top, spent)
            extra = u * ev.err + _EPS * spent
            cf += [cf[k] - spent for k in ks]
            ce += [ce[k] + extra + _EPS * cf[k] for k in ks]
            self.cparent += ks
            self.cprice += [price] * len(ks)
            self.cutility += [u] * len(ks)
            self.cx += [None] * len(ks)
            moves.setdefault(u, {}).update(zip(ks, range(first, len(cf)), strict=True))
        self.emax = max(self.emax, max(ce[-len(items) :]))
        cls = self.cls
        for g in self.e.groups[p]:
            move = moves.get(g.utility)
            if move is not None:
                move[_ZERO] = _ZERO
                # At C speed: look up each type's new class and store it.
                any(map(cls.__setitem__, g.types, map(move.__getitem__, g.types_get(cls))))
        payers = sum(m for _, k, m, _ in items if k != _ZERO)
        if self.touched is not None:
            self.touched = [t or n > 0 for t, n in zip(self.touched, self.e.shared(p), strict=True)]
        if self.caps is not None:  # who pays the share pays at least this much
            least = min(u for _, _, _, u in items[split:]) * (ev.rho - ev.err) * (1 - 4 * _EPS)
            poor_voters = sum(m for _, _, m, _ in items[:split])
            caps, shared = self.caps, self.e.shared(p)
            for q, both in enumerate(shared):
                if both > poor_voters:
                    caps[q] -= (both - poor_voters) * least
        return Purchase(p, payers, top, price)

    def go(self, admit: Callable[[int], str], budget: int | None) -> Run:
        e = self.e
        # Nobody has paid yet, so rho >= cost / total utility: a lower bound for pruning.
        low = [0.0] * len(e.costs)
        for p in e.candidates:
            low[p] = e.costs[p] / e.total_utility[p] * (1 - 8 * _EPS)
        fall = [0.0] * len(e.costs)  # slope of each lower bound, as _Eval.slope
        alive = list(e.candidates)
        bought: list[Purchase] = []
        skipped: list[tuple[int, int]] = []
        overspent, cut, spent = None, False, 0
        while alive:
            if budget is not None and not self.horizon and self.caps is not None:
                cut = self.neither(alive, bought, budget - spent)
                if cut:
                    break
            alive.sort(key=low.__getitem__)
            best_hi, found, dead = math.inf, [], set()
            for p in alive:
                if low[p] > best_hi:
                    break  # budgets only shrink, so prices only rise: p cannot win
                ev = self.evaluate(p)
                if ev is None:
                    dead.add(p)
                    continue
                low[p], fall[p] = ev.rho - ev.err, ev.slope
                best_hi = min(best_hi, ev.rho + ev.err)
                found.append(ev)
            if dead:
                alive = [p for p in alive if p not in dead]
            if not found:
                break
            close = [ev for ev in found if ev.rho - ev.err <= best_hi]
            if len(close) > 1:
                winner = min(close, key=lambda ev: (self.settle(ev), e.ranks[ev.project]))
            else:
                winner = close[0]
            alive.remove(winner.project)
            if self.horizon:
                self.keep_winning(winner, alive, found, low, fall)
            verdict = admit(winner.project)
            if verdict == OVERSPEND:
                overspent = winner.project
                break
            if verdict == SKIP:
                skipped.append((winner.project, len(bought) + 1))
                continue
            bought.append(self.pay(winner))
            spent += e.costs[winner.project]
        stable = self.stable * (1 - 1e-9) if self.horizon else 0.0
        return Run(self.per_voter, tuple(bought), tuple(skipped), overspent, cut, stable, self)

    def neither(self, alive: list[int], bought: list[Purchase], left: int) -> bool:
        """Sure to end neither exhaustive nor overspent: all that may still be bought (its
        supporters' money may cover it) fits in what is left with room for one project
        that no longer can be (a candidate, so the outcome is not exhaustive)."""
        costs, caps = self.e.costs, self.caps
        assert caps is not None
        possible = [p for p in alive if caps[p] >= costs[p]]
        taken = {b.project for b in bought}.union(possible)
        out = [costs[p] for p in self.e.candidates if p not in taken]
        return bool(out) and sum(costs[p] for p in possible) + min(out) <= left

    def keep_winning(
        self,
        winner: _Eval,
        alive: list[int],
        found: list[_Eval],
        low: list[float],
        fall: list[float],
    ) -> None:
        """The winner must stay the cheapest: others' prices fall at most at their
        slopes, the winner's does not rise."""
        top = winner.rho + winner.err
        priced = {ev.project: ev for ev in found}
        for p in alive:
            ev = priced.get(p)
            value, slope = (ev.rho - ev.err, ev.slope) if ev else (low[p], fall[p])
            self.limit(value - top - 4 * _EPS * (value + top), slope)
