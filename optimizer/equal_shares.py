"""The Method of Equal Shares: every voter controls an equal share of the money.

Each voter gets the total of all the money divided by the number of voters. A project is
bought when its supporters can pay for it from their shares; the project they can buy
most cheaply per unit of utility goes first, each supporter paying in proportion to
their utility or everything they have left. Utility is the project's cost on approval
ballots (pabutools' Cost_Sat), the points given on cumulative ballots and the Borda
score on ordinal ballots. Outcomes equal pabutools' `method_of_equal_shares`, exactly.

Plain equal shares usually leaves money unspent, so a completion runs after it:
- "add1" (default): every share grows by one currency unit (`increment` cents) until the
  outcome is exhaustive (no other project with positive utility still fits) or would
  overspend, in which case the previous outcome stands: pabutools'
  `voter_budget_increment=1`, as used in Assen and Świecie;
- "none": plain equal shares;
- "add1-greedy": add1, then `greedy` fills what is left (equalshares.net's "Add1U").

With several money sources a project that would make the funding plan infeasible is
skipped; the plan itself comes from `funding.fund`.

Constraints (`optimizer.constraints`): projects below the support threshold or short of
volunteer hours never take part. When a project wins a round but depends on a project
not bought by then, is incompatible with one already bought, or would take its area over
its maximum share of all the money available, it is skipped (its supporters keep their
money), as the greedy completion does too. Free projects are considered before the
others (as pabutools adds them first), so a free project that depends on a costly one
can only come in through the greedy completion. Minimum area shares are not guaranteed;
a missed one is reported in the result's `notes` and the explanations of that area's
unfunded projects.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterable
from fractions import Fraction
from itertools import chain
from operator import attrgetter

from . import equal_shares_engine as engine
from .canonical import fingerprint
from .constraints import Block, Guard, hours_short, note_unmet_minimums, share_notes
from .equal_shares_budgets import Electorate
from .equal_shares_engine import OK, OVERSPEND, SKIP, Run
from .funding import fund
from .greedy import below_threshold, no_eligible_source, zero_cost
from .matching import Memo, funding_for, matching_note, unmatched
from .model import (
    PROFILE_ALIASES,
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
from .solver import SolverError

RULE = "equal-shares"
COMPLETIONS = ("add1", "none", "add1-greedy")
DEFAULT_COMPLETION = "add1"
COMPLETE = "complete"
UNIT = 100  # one currency unit in cents: the add1 step
_PROJECTS = attrgetter("projects")


class _Purse:
    """The money of an instance as projects are bought in order.

    One unrestricted pot needs only a running total; anything else asks the exact
    max-flow model (or, with a matching grant, the integer model) whether the next
    project can still be funded in full.
    """

    def __init__(self, instance: Instance, memo: Memo) -> None:
        self.instance = instance
        self.total = sum(s.amount for s in instance.sources)
        only = instance.sources[0] if len(instance.sources) == 1 else None
        self.plain = (
            only is not None
            and not only.restricted
            and only.cap_per_project is None
            and only.match_percent is None
        )
        self.flow = None if self.plain else funding_for(instance, memo)
        self.guard = Guard(instance) if instance.constrained else None
        self.blocked: dict[str, tuple[Block, str]] = {}  # refused by a constraint, and when
        self.spent = 0
        self.chosen: list[str] = []
        self.short: dict[str, int] = {}  # what could be raised for refused projects
        self.completion_short: dict[str, int] = {}  # the same, in the greedy completion
        self.unmatched: dict[str, int] = {}  # what refused projects could raise without matching

    def allowed(self, project: Project, where: str) -> bool:
        """Whether the constraints let `project` in now; records why not (and `where`)."""
        if self.guard is None:
            return True
        block = self.guard.check(project)
        if block is None:
            return True
        self.blocked[project.id] = (block, where)
        return False

    def add(self, project: Project) -> int:
        """Fund `project` if it fits; return the most that could be raised for it."""
        if self.flow is None:
            got = min(project.cost, self.total - self.spent)
        else:
            got = self.flow.try_add(project.id)
        if got == project.cost:
            self.spent += project.cost
            self.chosen.append(project.id)
            if self.guard is not None:
                self.guard.add(project)
        else:
            self.short[project.id] = got
            without = unmatched(self.instance, self.chosen, project, got, self.flow)
            if without is None:
                self.unmatched.pop(project.id, None)
            else:
                self.unmatched[project.id] = without
        return got

    def fits(self, project: Project) -> bool:
        """Whether `project` could be funded on top of what was bought (nothing changes)."""
        if self.guard is not None and self.guard.check(project) is not None:
            return False
        if self.flow is None:
            return self.spent + project.cost <= self.total
        return self.flow.fits(project.id)


class _Election:
    """The instance and profile as the engine sees them, with the answers the rule needs."""

    def __init__(self, instance: Instance, profile: Profile) -> None:
        self.instance = instance
        self.memo: Memo = {}  # money answers, shared by the runs of add1
        self.kind = PROFILE_ALIASES.get(profile.kind, profile.kind)
        self.voters = len(profile.ballots)
        self.cost = {p.id: p.cost for p in instance.projects}
        approvers: list[list[int]] = []
        if self.kind == "approval":  # points are not read; a type is a distinct ballot
            ballots: Counter = Counter(map(_PROJECTS, profile.ballots))
            approvers = self._approvers(instance, profile, ballots)
            multiplicity = list(ballots.values())
            self.scores = {
                p.id: sum(map(multiplicity.__getitem__, types))
                for p, types in zip(instance.projects, approvers, strict=True)
            }
            self.utility = {p: score * self.cost[p] for p, score in self.scores.items()}
        else:
            ballots = Counter((b.projects, b.points) for b in profile.ballots)
            if not set(self.cost).issuperset(chain.from_iterable(ids for ids, _ in ballots)):
                support(instance, profile)  # raises, naming the voter
            self.scores, self.utility = self._totals(ballots)
        minimum = instance.min_support
        self.below = {
            p.id for p in instance.projects if minimum is not None and self.scores[p.id] < minimum
        }
        self.short_of_hours = {p.id for p in instance.projects if p.short_of_hours}
        self.unfundable = {
            p.id
            for p in instance.projects
            if p.cost > 0 and not any(s.limit(p) > 0 for s in instance.sources)
        }
        # Only these can be bought by equal shares; zero-cost projects are handled apart.
        out = self.below | self.unfundable | self.short_of_hours
        self.projects = [p for p in instance.projects if p.cost > 0 and p.id not in out]
        order = sorted(range(len(self.projects)), key=lambda i: self.projects[i].id)
        ranks = [0] * len(order)
        for rank, i in enumerate(order):
            ranks[i] = rank
        costs = [p.cost for p in self.projects]
        index = {p.id: i for i, p in enumerate(self.projects)}
        if self.kind == "approval":  # utility is the cost
            position = {p.id: i for i, p in enumerate(instance.projects)}
            lists = [approvers[position[p.id]] for p in self.projects]
            self.electorate = Electorate.of_approvals(costs, ranks, lists, multiplicity)
            return
        types: Counter[tuple[tuple[int, int], ...]] = Counter()
        for (ids, points), count in ballots.items():
            pairs = self._utilities(ids, points)
            types[tuple(sorted((index[p], u) for p, u in pairs if p in index))] += count
        types.pop((), None)
        chosen = [tuple(p for p, _ in key) for key in types]
        utilities = [tuple(u for _, u in key) for key in types]
        self.electorate = Electorate(costs, ranks, chosen, list(types.values()), utilities)

    def _utilities(
        self, ids: tuple[str, ...], points: tuple[int, ...] | None
    ) -> list[tuple[str, int]]:
        """(project, utility > 0) of one ballot, as pabutools' satisfaction measures:
        the cost for an approval (Cost_Sat), points (Additive_Cardinal_Sat), Borda."""
        if self.kind == "approval":
            return [(p, self.cost[p]) for p in ids if self.cost[p] > 0]
        if self.kind == "cumulative":
            assert points is not None
            return [(p, x) for p, x in zip(ids, points, strict=True) if x > 0]
        return [(p, len(ids) - 1 - i) for i, p in enumerate(ids[:-1])]

    @staticmethod
    def _approvers(instance: Instance, profile: Profile, ballots: Counter) -> list[list[int]]:
        """For each project of the instance, the voter types (distinct ballots, numbered
        in `ballots`' order) that approve it: one pass over the distinct ballots."""
        position = {p.id: i for i, p in enumerate(instance.projects)}
        lists: list[list[int]] = [[] for _ in instance.projects]
        add = [found.append for found in lists]
        try:
            for t, ids in enumerate(ballots):
                for p in ids:
                    add[position[p]](t)
        except KeyError:
            support(instance, profile)  # raises, naming the voter
            raise
        return lists

    def _totals(self, ballots: Counter) -> tuple[dict[str, int], dict[str, int]]:
        """Support (as `support` counts it) and total utility of every project, for
        ballots with points or ranks."""
        scores = dict.fromkeys(self.cost, 0)
        utility = dict.fromkeys(self.cost, 0)
        for (ids, points), count in ballots.items():
            if self.kind == "cumulative":
                for p, x in zip(ids, points or (), strict=True):
                    scores[p] += count * x
            for p, u in self._utilities(ids, points):
                utility[p] += count * u
                if self.kind == "ordinal":
                    scores[p] += count * u
        return scores, utility


def _run(election: _Election, per_voter: Fraction, horizon: float = 0.0) -> tuple[Run, _Purse]:
    """One run of equal shares, refusing winners the money cannot fund."""
    purse = _Purse(election.instance, election.memo)
    for p in election.instance.projects:
        if p.cost == 0 and p.id not in election.below and election.utility[p.id] > 0:
            if purse.allowed(p, "before the first round"):
                purse.add(p)  # free and wanted: in every outcome, as in pabutools
    projects = election.projects

    def admit(i: int) -> str:
        project = projects[i]
        if not purse.allowed(project, "when it won a round of equal shares"):
            return SKIP
        if purse.spent + project.cost > purse.total:
            return OVERSPEND
        return OK if purse.add(project) == project.cost else SKIP

    # The engine may stop a run early when money alone decides add1's next step.
    budget = purse.total if purse.plain and purse.guard is None else None
    return engine.run(election.electorate, per_voter, admit, horizon, budget), purse


def _add1(election: _Election, share: Fraction, increment: int) -> tuple[Run, _Purse]:
    """pabutools' loop: grow every share by `increment` until the outcome is exhaustive;
    if a step overspends, the step before it stands.

    Steps the engine proves would decide exactly as the last run did (same outcome, so
    neither exhaustive nor overspent) are skipped; the outcome is that of every step.
    """
    run, purse = _run(election, share, increment)
    # Past a share of all the money every supporter can pay any project alone: more
    # cannot change what is bought, so the loop ends there even if not exhaustive.
    ceiling = sum(s.amount for s in election.instance.sources)
    while run.cut or (not _exhaustive(election, purse) and run.per_voter < ceiling):
        # Shares below per_voter + stable decide as this run did: jump past them.
        steps = max(1, math.ceil(run.stable / increment)) if math.isfinite(run.stable) else 1
        following = _run(election, run.per_voter + steps * increment, increment)
        if following[0].overspent is None:
            run, purse = following
            continue
        # The step before the overspending one stands: run it in full (a cut run stopped
        # early; a jump proved it would decide as `run` did).
        last = _run(election, run.per_voter + (steps - 1) * increment)
        assert run.cut or set(last[1].chosen) == set(purse.chosen), "inside the stable interval"
        run, purse = last
        break
    return run, purse


def _exhaustive(election: _Election, purse: _Purse) -> bool:
    """No project equal shares could buy still fits (pabutools' is_exhaustive). A project
    a constraint refused in this run does not count (pabutools has no constraints; this
    is our rule): one refused because it won before its prerequisite was bought could
    otherwise keep the loop growing shares for ever."""
    chosen = set(purse.chosen)
    return not any(
        election.projects[i].id not in chosen
        and election.projects[i].id not in purse.blocked
        and purse.fits(election.projects[i])
        for i in election.electorate.candidates
    )


def equal_shares(
    instance: Instance,
    profile: Profile,
    *,
    completion: str = DEFAULT_COMPLETION,
    increment: int = UNIT,
    money: MoneyFormat = format_cents,
) -> Result:
    """Run equal shares; `increment` is add1's step in cents, `money` formats the texts."""
    if completion not in COMPLETIONS:
        expected = ", ".join(COMPLETIONS)
        raise ValueError(f"unknown completion {completion!r}; expected one of {expected}")
    if isinstance(increment, bool) or not isinstance(increment, int) or increment <= 0:
        raise ValueError(f"increment must be a positive number of cents, got {increment!r}")
    start = time.perf_counter()
    options: dict[str, object] = {"completion": completion, "increment": increment}
    election = _Election(instance, profile)
    total = sum(s.amount for s in instance.sources)
    share = Fraction(total, election.voters) if election.voters else Fraction(0)
    if completion == "none":
        run, purse = _run(election, share)
    else:
        run, purse = _add1(election, share, increment)
    assert run.overspent is None and not run.cut, "a share of the total cannot overspend"
    short = dict(purse.short)  # before the completion tries again
    held = dict(purse.unmatched)
    added = _greedy_completion(election, purse) if completion == "add1-greedy" else {}
    selected = tuple(sorted(purse.chosen))
    plan = fund(instance, selected)
    if plan is None:  # every step checked the money; the funding model must agree
        raise SolverError("equal-shares selection could not be funded")
    explanations = _explain(election, run, purse, added, (short, held), money)
    notes = share_notes(instance, selected, RULE, money)
    return Result(
        rule=RULE,
        selected=selected,
        plan=plan,
        cost=sum(p.cost for p in instance.projects if p.id in purse.chosen),
        objective=sum(election.scores[p] for p in selected),
        status=COMPLETE,
        explanations=tuple(
            sorted(
                with_payers(
                    instance, note_unmet_minimums(instance, explanations, notes), plan, money
                ),
                key=lambda e: e.project,
            )
        ),
        input_sha256=fingerprint(instance, profile, RULE, options),
        seconds=time.perf_counter() - start,
        options=options,
        notes=tuple(n.text for n in notes),
    )


def _greedy_completion(election: _Election, purse: _Purse) -> dict[str, int]:
    """`greedy`'s order (support, then id) over what is left; returns the added ranks."""
    scores, instance = election.scores, election.instance
    order = sorted(instance.projects, key=lambda p: (-scores[p.id], p.id))
    added: dict[str, int] = {}
    for rank, project in enumerate(order, start=1):
        if project.id in purse.chosen or project.id in election.below:
            continue
        if project.id in election.unfundable or project.id in election.short_of_hours:
            continue
        if not purse.allowed(project, f"in the greedy completion, rank {rank} of {len(order)}"):
            continue
        got = purse.add(project)
        if got == project.cost:
            added[project.id] = rank
        else:
            purse.completion_short[project.id] = got
    return added


def _explain(
    election: _Election,
    run: Run,
    purse: _Purse,
    added: dict[str, int],
    refused: tuple[dict[str, int], dict[str, int]],
    money: MoneyFormat,
) -> Iterable[Explanation]:
    """One explanation per project, in the words of the step that decided it.

    `refused` holds what could still be raised for projects the money refused, and
    what they could have raised without matching ratios when those held them back.
    """
    short, held = refused
    instance, scores = election.instance, election.scores
    index = {p.id: i for i, p in enumerate(election.projects)}
    bought = {election.projects[b.project].id: (r, b) for r, b in enumerate(run.bought, 1)}
    skipped = {election.projects[i].id: r for i, r in run.skipped}
    share = math.floor(run.per_voter)
    supporters = election.electorate.supporters
    size = len(instance.projects)
    for project in instance.projects:
        pid, cost, score = project.id, project.cost, scores[project.id]
        numbers = {"support": score, "cost": cost}
        if pid in election.below:
            yield below_threshold(pid, score, instance.min_support or 0)
        elif cost == 0 and pid in purse.chosen:
            yield zero_cost(pid, score)
        elif pid in bought:
            rnd, purchase = bought[pid]
            top, count = math.ceil(purchase.max_payment), supporters[index[pid]]
            numbers |= {"round": rnd, "payers": purchase.payers, "supporters": count}
            numbers |= {"max_payment": top, "voter_share": share}
            text = (
                f"Bought in round {rnd} of equal shares: {purchase.payers:,} of its "
                f"{count:,} supporters paid for it, none more than {money(top)}, "
                f"from shares of {money(share)} per voter."
            )
            yield Explanation(pid, True, "funded", text, numbers)
        elif pid in added:
            numbers |= {"rank": added[pid], "of": size}
            text = (
                "Added by the greedy completion: it still fit when its turn came "
                f"(rank {added[pid]} of {size} by support)."
            )
            yield Explanation(pid, True, "completion", text, numbers)
        elif pid in election.unfundable:
            yield no_eligible_source(pid, cost, money)
        elif pid in election.short_of_hours:
            yield hours_short(project)
        elif pid in purse.blocked:
            assert purse.guard is not None
            block, where = purse.blocked[pid]
            yield purse.guard.explain(project, block, purse.chosen, where, money)
        elif pid in skipped:
            numbers |= {"round": skipped[pid], "raisable": short[pid]}
            text = (
                f"Its turn came in round {skipped[pid]} of equal shares, but only "
                f"{money(short[pid])} could still be raised for it from eligible sources."
            )
            if pid in held:
                text += " " + matching_note(instance, project, held[pid], money)
                numbers["raisable_without_matching"] = held[pid]
            yield _completion_note(pid, "insufficient_funds", text, numbers, purse, money)
        elif cost == 0:
            text = (
                "It costs nothing, and equal shares values an approval at the project's "
                "cost, so it brings no benefit and is not bought."
            )
            yield _completion_note(pid, "no_benefit", text, numbers, purse, money)
        elif pid not in index or election.utility[pid] <= 0:
            text = "Nobody supports it, so no voter's share goes to it."
            yield _completion_note(pid, "no_support", text, numbers, purse, money)
        else:
            left, count = math.floor(run.left(index[pid])), supporters[index[pid]]
            numbers |= {"supporters": count, "left": left}
            text = (
                f"Its {count:,} supporters had {money(left)} left between them; "
                f"it costs {money(cost)}."
            )
            yield _completion_note(pid, "insufficient_shares", text, numbers, purse, money)


def _completion_note(
    pid: str,
    code: str,
    text: str,
    numbers: dict[str, int],
    purse: _Purse,
    money: MoneyFormat,
) -> Explanation:
    """An unfunded project's explanation, saying why the greedy completion (if any) failed."""
    if pid in purse.completion_short:
        got = purse.completion_short[pid]
        numbers["completion_raisable"] = got
        text += f" The greedy completion could not fit it either: only {money(got)} remained"
        if pid in purse.unmatched:
            without = purse.unmatched[pid]
            numbers["completion_raisable_without_matching"] = without
            text += f" ({money(without)} without the grants' matching rule)"
        text += "."
    return Explanation(pid, False, code, text, numbers)
