"""Constraints on the selection beyond money: area shares, dependencies, incompatible
projects, volunteer hours (and the support threshold, checked by every rule).

How each rule applies them:

- `max-welfare` puts every constraint into its model (`selection_rules`, exact integer
  rows over the "selected" variables), so selection and funding plan are decided
  together and the optimum meets all of them.
- `greedy` and `equal-shares` add projects one at a time and never take one back. Before
  adding a project they refuse it (`Guard.check`) when it would break a constraint that
  adding more projects can never repair:
  * hours: it needs more volunteer hours than were offered;
  * threshold: its support is below `Instance.min_support`;
  * dependency "b only with a": b is refused unless a is already selected when b's turn
    comes. A prerequisite that ranks lower (comes later) is not pulled forward, so b is
    lost even if a is funded afterwards; the explanation says so;
  * incompatibility: a project of one of its groups is already selected;
  * maximum area share: these rules cannot know in advance how much money will end up
    funded, so they hold each area to its maximum share of all the money available
    (`Instance.total_money`): a project is refused when the area's funded cents would
    exceed max_bps / 10_000 of it. When money is left unspent the area's share of the
    money actually funded can end above its maximum; the result then says so in a note.
  Minimum area shares cannot be guaranteed by a rule that takes projects one at a time
  (meeting one could need projects that rank lower than others already taken). They do
  not change what greedy and equal shares select; when the outcome misses one, the
  result's `notes` and the explanations of that area's unfunded projects say so.

Shares are integer basis points (`model.BPS` = 10_000 is 100%), compared in integers.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from math import gcd

from .funding import LinearRule, Var, y_key
from .model import BPS, Explanation, Instance, MoneyFormat, Project


def quote(project_id: str) -> str:
    """A project or area id as the texts name it."""
    return f"“{project_id}”"


def names(ids: Iterable[str]) -> str:
    """“a”, “b” and “c”."""
    quoted = [quote(i) for i in ids]
    if len(quoted) <= 1:
        return "".join(quoted)
    return ", ".join(quoted[:-1]) + " and " + quoted[-1]


def percent(bps: int) -> str:
    """Basis points in words: 4000 -> "40%", 1250 -> "12.5%", 1234 -> "12.34%"."""
    whole, rest = divmod(bps, 100)
    return f"{whole}%" if rest == 0 else f"{whole}.{rest:02d}".rstrip("0") + "%"


def share_text(part: int, whole: int, *, up: bool) -> str:
    """part/whole as a percentage with one decimal, rounded down (or up): rounding toward
    the bound it is compared with would blur "below 20%" into "20.0%"."""
    if whole <= 0:
        return "0%"
    tenths = -(-part * 1000 // whole) if up else part * 1000 // whole
    return f"{tenths // 10}.{tenths % 10}%"


def requirements(instance: Instance) -> dict[str, tuple[str, ...]]:
    """For each project that depends on others, its prerequisites (sorted)."""
    needs: dict[str, set[str]] = {}
    for b, a in instance.dependencies:
        needs.setdefault(b, set()).add(a)
    return {b: tuple(sorted(a)) for b, a in needs.items()}


def closure(instance: Instance, project_id: str) -> set[str]:
    """The project and everything it needs, directly or through other projects."""
    needs = requirements(instance)
    found, todo = {project_id}, [project_id]
    while todo:
        for a in needs.get(todo.pop(), ()):
            if a not in found:
                found.add(a)
                todo.append(a)
    return found


def groups_of(instance: Instance) -> dict[str, list[frozenset[str]]]:
    """For each project, the incompatible groups it belongs to."""
    groups: dict[str, list[frozenset[str]]] = {}
    for group in instance.incompatible:
        for project_id in group:
            groups.setdefault(project_id, []).append(group)
    return groups


@dataclass(frozen=True)
class SelectionRule(LinearRule):
    """A `LinearRule` over "selected" variables, with what the texts need to name it."""

    kind: str = ""  # "area_min", "area_max", "dependency" or "incompatible"
    subject: str = ""  # the category of an area rule, the dependent project otherwise
    related: tuple[str, ...] = ()  # the other projects it names
    bps: int = 0  # the share of an area rule


def _normalised(terms: list[tuple[Var, int]]) -> tuple[tuple[Var, int], ...]:
    """Divide integer coefficients by their gcd (the right-hand sides here are 0): the
    same rule, with smaller numbers for the solver."""
    common = 0
    for _, coef in terms:
        common = gcd(common, coef)
    common = max(common, 1)
    return tuple((key, coef // common) for key, coef in terms if coef)


def selection_rules(instance: Instance, project_ids: Collection[str]) -> list[SelectionRule]:
    """Every non-money constraint as a linear rule over the projects in `project_ids`
    (the others count as not selected), in integers:

    - area_min[c]: 10_000 * cents(c) - min_bps * cents(all) >= 0
    - area_max[c]: 10_000 * cents(c) - max_bps * cents(all) <= 0
    - dependency[b,a]: y_b - y_a <= 0
    - incompatible[ids]: sum of y <= 1
    """
    ids = set(project_ids)
    chosen = [p for p in instance.projects if p.id in ids]
    rules: list[SelectionRule] = []
    for area in sorted(instance.area_shares, key=lambda a: a.category):
        bounds = (("area_min", ">=", area.min_bps), ("area_max", "<=", area.max_bps))
        for kind, sense, bps in bounds:
            if bps is None:
                continue
            terms = [
                (y_key(p.id), p.cost * ((BPS if p.category == area.category else 0) - bps))
                for p in chosen
                if p.cost > 0
            ]
            name = f"{kind}[{area.category}]"
            rules.append(
                SelectionRule(name, _normalised(terms), sense, 0, kind, area.category, (), bps)
            )
    for b, a in sorted(set(instance.dependencies)):
        if b not in ids:
            continue
        terms: tuple[tuple[Var, int], ...] = ((y_key(b), 1),)
        if a in ids:
            terms += ((y_key(a), -1),)
        rules.append(SelectionRule(f"dependency[{b},{a}]", terms, "<=", 0, "dependency", b, (a,)))
    for group in sorted({tuple(sorted(g)) for g in instance.incompatible}):
        members = tuple(p for p in group if p in ids)
        if len(members) < 2:
            continue
        name = f"incompatible[{','.join(group)}]"
        terms = tuple((y_key(p), 1) for p in members)
        rules.append(SelectionRule(name, terms, "<=", 1, "incompatible", "", group))
    return rules


def broken(instance: Instance, selected: Collection[str]) -> list[SelectionRule]:
    """The selection rules `selected` breaks (exact, plain Python)."""
    values: dict[Var, int] = {y_key(p): 1 for p in selected}
    return [rule for rule in selection_rules(instance, selected) if not rule.holds(values)]


def check_selection(
    instance: Instance, selected: Iterable[str], scores: Mapping[str, int] | None = None
) -> list[str]:
    """Names of the non-money rules `selected` breaks (empty list: it meets them all).

    Money is `funding.check_plan`'s business. With `scores` (support per project) the
    threshold is checked too.
    """
    chosen = set(selected)
    by_id = {p.id: p for p in instance.projects}
    problems = [f"unknown_project[{p}]" for p in sorted(chosen - by_id.keys())]
    chosen &= by_id.keys()
    minimum = instance.min_support
    for p in sorted(chosen):
        if by_id[p].short_of_hours:
            problems.append(f"hours[{p}]")
        if scores is not None and minimum is not None and scores[p] < minimum:
            problems.append(f"min_support[{p}]")
    return problems + [rule.name for rule in broken(instance, chosen)]


def hours_short(project: Project) -> Explanation:
    """Explanation of a project that needs more volunteer hours than were offered."""
    needed = project.hours_needed or 0
    offered = project.hours_offered
    text = f"Needs {needed:,} volunteer hours; {offered:,} were offered."
    numbers = {"hours_needed": needed, "hours_offered": offered}
    return Explanation(project.id, False, "hours", text, numbers)


def rule_words(rule: SelectionRule, project_id: str) -> str:
    """A selection rule in plain words, seen from `project_id` (for "what binds")."""
    if rule.kind == "incompatible":
        others = [p for p in rule.related if p != project_id]
        return (
            f"incompatibility of {names(rule.related)}"
            if not others
            else (f"incompatibility with {names(others)}")
        )
    if rule.kind == "dependency":
        return f"{quote(rule.subject)} only with {names(rule.related)}"
    bound = "minimum" if rule.kind == "area_min" else "maximum"
    return f"area {quote(rule.subject)}'s {bound} share of {percent(rule.bps)}"


@dataclass(frozen=True)
class Block:
    """Why a one-at-a-time rule refused a project when its turn came."""

    code: str  # "hours", "dependency", "incompatible" or "area_max"
    related: tuple[str, ...] = ()
    numbers: dict[str, int] = field(default_factory=dict, hash=False)
    category: str = ""


class Guard:
    """The constraints as `greedy` and `equal-shares` see them: projects come one at a
    time, and one that would break a constraint adding cannot repair is refused (see
    the module docstring)."""

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self.budget = instance.total_money
        self.needs = requirements(instance)
        self.groups = groups_of(instance)
        self.caps = {
            a.category: a.max_bps * self.budget // BPS
            for a in instance.area_shares
            if a.max_bps is not None
        }
        self.in_area: dict[str, int] = {}
        self.selected: set[str] = set()

    def check(self, project: Project) -> Block | None:
        """Why `project` may not be added now, or None when only money can stop it."""
        if project.short_of_hours:
            return Block("hours")
        missing = tuple(a for a in self.needs.get(project.id, ()) if a not in self.selected)
        if missing:
            return Block("dependency", missing)
        clash = sorted(
            {q for g in self.groups.get(project.id, ()) for q in g if q in self.selected}
        )
        if clash:
            return Block("incompatible", tuple(clash))
        category = project.category
        if category is not None and category in self.caps and project.cost > 0:
            area, cap = self.in_area.get(category, 0), self.caps[category]
            if area + project.cost > cap:
                numbers = {"area_cents": area, "area_cap": cap, "money_available": self.budget}
                return Block("area_max", (), numbers, category)
        return None

    def add(self, project: Project) -> None:
        """Record that `project` was selected."""
        self.selected.add(project.id)
        if project.category is not None:
            self.in_area[project.category] = self.in_area.get(project.category, 0) + project.cost

    def explain(
        self,
        project: Project,
        block: Block,
        final: Collection[str],
        where: str,
        money: MoneyFormat,
    ) -> Explanation:
        """The refused project's explanation; `final` is the rule's whole selection and
        `where` says when its turn came (e.g. "rank 3 of 10 by support")."""
        numbers = {"cost": project.cost}
        if block.code == "hours":
            return hours_short(project)
        if block.code == "dependency":
            never = [a for a in block.related if a not in final]
            later = [a for a in block.related if a in final]
            parts = []
            if never:
                verb = "was" if len(never) == 1 else "were"
                parts.append(f"Funded only together with {names(never)}, which {verb} not funded.")
            if later:
                verb = "was" if len(later) == 1 else "were"
                parts.append(
                    f"Funded only together with {names(later)}, which {verb} funded only "
                    f"after its turn came ({where}); projects are taken one at a time "
                    "and never revisited."
                )
            text = " ".join(parts)
            return Explanation(project.id, False, "dependency", text, numbers, block.related)
        if block.code == "incompatible":
            verb = "was" if len(block.related) == 1 else "were"
            text = f"Incompatible with {names(block.related)}, which {verb} funded."
            return Explanation(project.id, False, "incompatible", text, numbers, block.related)
        area, cap = block.numbers["area_cents"], block.numbers["area_cap"]
        bps = next(a.max_bps for a in self.instance.area_shares if a.category == block.category)
        assert bps is not None
        numbers |= block.numbers | {"max_bps": bps}
        text = (
            f"Area {quote(block.category)} would exceed its maximum share of {percent(bps)}: "
            f"with it the area would get {money(area + project.cost)} of the "
            f"{money(self.budget)} available (at most {money(cap)})."
        )
        return Explanation(project.id, False, "area_max", text, numbers)


@dataclass(frozen=True)
class ShareNote:
    """An area whose share of the money funded ended outside its bounds."""

    category: str
    kind: str  # "area_min" (below its minimum) or "area_max" (above its maximum)
    text: str


def share_notes(
    instance: Instance, final: Collection[str], rule: str, money: MoneyFormat
) -> list[ShareNote]:
    """For a one-at-a-time rule's outcome: the areas whose share of the money funded
    misses its minimum or exceeds its maximum, each with a sentence saying so."""
    cost = {p.id: p.cost for p in instance.projects}
    category = {p.id: p.category for p in instance.projects}
    total = sum(cost[p] for p in final)
    notes: list[ShareNote] = []
    for area in sorted(instance.area_shares, key=lambda a: a.category):
        got = sum(cost[p] for p in final if category[p] == area.category)
        what = f"({money(got)} of {money(total)})"
        if area.min_bps is not None and BPS * got < area.min_bps * total:
            text = (
                f"Area {quote(area.category)} got {share_text(got, total, up=False)} of the "
                f"money funded {what}, below its minimum share of {percent(area.min_bps)}: "
                f"{rule} takes projects one at a time and cannot guarantee minimum shares."
            )
            notes.append(ShareNote(area.category, "area_min", text))
        elif area.max_bps is not None and BPS * got > area.max_bps * total:
            text = (
                f"Area {quote(area.category)} got {share_text(got, total, up=True)} of the "
                f"money funded {what}, above its maximum share of {percent(area.max_bps)}: "
                f"{rule} holds each area to its share of all the money available "
                f"({money(instance.total_money)}), and {money(instance.total_money - total)} "
                "was not spent."
            )
            notes.append(ShareNote(area.category, "area_max", text))
    return notes


def note_unmet_minimums(
    instance: Instance, explanations: Iterable[Explanation], notes: Iterable[ShareNote]
) -> list[Explanation]:
    """Append each missed minimum share to the explanations of its area's unfunded
    projects (they are the ones a reader asks about)."""
    below = {n.category: n.text for n in notes if n.kind == "area_min"}
    category = {p.id: p.category for p in instance.projects}
    return [
        e if e.funded else with_note(e, below.get(category[e.project] or "")) for e in explanations
    ]


def with_note(explanation: Explanation, note: str | None) -> Explanation:
    """`explanation` with `note` appended to its text (unchanged without one)."""
    if note is None:
        return explanation
    return Explanation(
        explanation.project,
        explanation.funded,
        explanation.code,
        f"{explanation.text} {note}",
        explanation.numbers,
        explanation.related,
    )
