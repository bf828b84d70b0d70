"""Plain data for the optimizer: projects, money sources, ballots and results.

Everything is a frozen dataclass holding tuples and frozensets so a result can be
recomputed from exactly the value that produced it. Money is always integer cents.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

SOURCE_KINDS = ("pool", "earmark", "grant")
PROFILE_KINDS = ("approval", "cumulative", "ordinal")
# Pabulib names accepted as synonyms: choose-1 is approval with one project, scoring is
# cumulative without a fixed total.
PROFILE_ALIASES = {"choose-1": "approval", "scoring": "cumulative"}

MoneyFormat = Callable[[int], str]


def format_cents(cents: int) -> str:
    """Default money formatter: 123456 -> "1,234.56" (no currency, caller adds one)."""
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    return f"{sign}{whole:,}.{rest:02d}"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _freeze(obj: object, name: str, kind: type) -> None:
    """Accept any iterable for a tuple/frozenset field, so callers may pass lists or sets."""
    value = getattr(obj, name)
    if value is None or isinstance(value, kind):
        return
    if isinstance(value, str):
        raise ValueError(f"{name} must be a collection of ids, not one string")
    object.__setattr__(obj, name, kind(value))


def _check_cents(what: str, value: object) -> None:
    if not _is_int(value) or value < 0:  # type: ignore[operator]
        raise ValueError(f"{what} must be a non-negative integer number of cents, got {value!r}")


@dataclass(frozen=True)
class Project:
    """A project funded at its full cost or not at all.

    `hours_needed` (None: no volunteers needed) against `hours_offered` (volunteer hours
    pledged to this project): a project needing more hours than were offered cannot be
    selected by any rule.
    """

    id: str
    cost: int
    category: str | None = None
    hours_needed: int | None = None
    hours_offered: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ValueError(f"project id must be a non-empty string, got {self.id!r}")
        _check_cents(f"cost of project {self.id!r}", self.cost)
        for name in ("hours_needed", "hours_offered"):
            value = getattr(self, name)
            if (value is not None or name == "hours_offered") and (not _is_int(value) or value < 0):
                raise ValueError(
                    f"{name} of project {self.id!r} must be a non-negative integer, got {value!r}"
                )

    @property
    def short_of_hours(self) -> bool:
        """Whether it needs more volunteer hours than were offered (so cannot be selected)."""
        return self.hours_needed is not None and self.hours_needed > self.hours_offered


@dataclass(frozen=True)
class Source:
    """A pot of money and the projects it may pay for.

    kind "pool" is the residents' common pot, "earmark" a pledge tied to `projects`
    and/or `categories` (priority areas), "grant" a seed grant that may be limited to
    `categories` and/or `projects` and may pay at most `cap_per_project` cents towards
    any one project. A grant with `match_percent` m only matches residents: into each
    project it puts at most m/100 of the cents the pool and earmarks put in (100 is 1:1,
    200 is 2:1, 50 is one grant cent per two resident cents). `label` names the source
    in explanation texts (its id when empty).
    """

    id: str
    amount: int
    kind: str = "pool"
    projects: frozenset[str] | None = None
    categories: frozenset[str] | None = None
    cap_per_project: int | None = None
    match_percent: int | None = None
    label: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ValueError(f"source id must be a non-empty string, got {self.id!r}")
        if not isinstance(self.label, str):
            raise ValueError(f"label of source {self.id!r} must be a string")
        _check_cents(f"amount of source {self.id!r}", self.amount)
        if self.kind not in SOURCE_KINDS:
            raise ValueError(f"source {self.id!r}: kind must be one of {SOURCE_KINDS}")
        if self.kind == "earmark" and self.projects is None and self.categories is None:
            raise ValueError(f"earmarked source {self.id!r} must name its projects or categories")
        _freeze(self, "projects", frozenset)
        _freeze(self, "categories", frozenset)
        if self.cap_per_project is not None:
            _check_cents(f"cap_per_project of source {self.id!r}", self.cap_per_project)
        if self.match_percent is not None:
            if self.kind != "grant":
                raise ValueError(f"source {self.id!r}: only a grant can have match_percent")
            if not _is_int(self.match_percent) or self.match_percent <= 0:
                raise ValueError(
                    f"match_percent of source {self.id!r} must be a positive integer, "
                    f"got {self.match_percent!r}"
                )

    @property
    def name(self) -> str:
        """What explanation texts call it."""
        return self.label or self.id

    @property
    def resident(self) -> bool:
        """Residents' own money (pool and earmarks): what a matching grant matches."""
        return self.kind in ("pool", "earmark")

    @property
    def restricted(self) -> bool:
        """True when the source cannot pay for every project."""
        return self.projects is not None or self.categories is not None

    def eligible(self, project: Project) -> bool:
        """Whether this source may pay towards `project` at all."""
        return (self.projects is None or project.id in self.projects) and (
            self.categories is None or project.category in self.categories
        )

    def limit(self, project: Project) -> int:
        """Most this source could ever put into `project` (0 when not eligible)."""
        if not self.eligible(project):
            return 0
        limit = min(self.amount, project.cost)
        return limit if self.cap_per_project is None else min(limit, self.cap_per_project)

    @property
    def tier(self) -> int:
        """Spending order: least flexible money first so the common pot keeps leftovers."""
        if self.kind == "earmark":
            return 0
        if self.kind == "grant":
            return 1 if self.restricted else 2
        return 3


@dataclass(frozen=True)
class Ballot:
    """One voter's ballot; `points` only for cumulative ballots (same length as projects)."""

    voter: str
    projects: tuple[str, ...]
    points: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        _freeze(self, "projects", tuple)
        _freeze(self, "points", tuple)
        if len(set(self.projects)) != len(self.projects):
            raise ValueError(f"ballot of voter {self.voter!r} names a project twice")
        if self.points is not None:
            if len(self.points) != len(self.projects):
                raise ValueError(f"ballot of voter {self.voter!r}: points and projects differ")
            if not all(_is_int(p) for p in self.points):
                raise ValueError(f"ballot of voter {self.voter!r}: points must be integers")


@dataclass(frozen=True)
class Profile:
    """All ballots of one vote; kind says how to read them (see `support`)."""

    kind: str
    ballots: tuple[Ballot, ...]

    def __post_init__(self) -> None:
        _freeze(self, "ballots", tuple)
        kind = PROFILE_ALIASES.get(self.kind, self.kind)
        if kind not in PROFILE_KINDS:
            raise ValueError(f"profile kind must be one of {PROFILE_KINDS}, got {self.kind!r}")
        if kind == "cumulative" and any(b.points is None for b in self.ballots):
            raise ValueError("cumulative ballots need points")


BPS = 10_000  # basis points in a whole: 4_000 is 40%


@dataclass(frozen=True)
class AreaShare:
    """Bounds on one category's (priority area's) share of the money funded.

    Shares are integer basis points of the total cost of the selected projects: with
    `min_bps` m, 10_000 * (cents to the area) >= m * (all cents funded); with `max_bps`
    M, 10_000 * (cents to the area) <= M * (all cents funded). Funding nothing meets
    every share. See `optimizer.constraints` for how each rule applies them.
    """

    category: str
    min_bps: int | None = None
    max_bps: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.category, str) or not self.category:
            raise ValueError(f"area share category must be a non-empty string: {self.category!r}")
        if self.min_bps is None and self.max_bps is None:
            raise ValueError(f"area share of {self.category!r} needs min_bps or max_bps")
        for name in ("min_bps", "max_bps"):
            value = getattr(self, name)
            if value is not None and (not _is_int(value) or not 0 <= value <= BPS):
                raise ValueError(
                    f"{name} of area {self.category!r} must be an integer from 0 to {BPS}"
                )
        if self.min_bps is not None and self.max_bps is not None and self.min_bps > self.max_bps:
            raise ValueError(f"area {self.category!r}: min_bps is above max_bps")


@dataclass(frozen=True)
class Instance:
    """What can be funded and with which money, and the rules a selection must follow.

    `min_support`, when set, is a threshold: projects with less support may not be
    selected (Pabulib's min_project_score_threshold). The other constraints are empty
    by default:
    - `area_shares`: minimum and/or maximum share of the money funded per category;
    - `dependencies`: pairs (b, a), "b only with a" (b may be selected only if a is);
    - `incompatible`: groups of project ids of which at most one may be selected.
    Volunteer hours live on the projects (`Project.hours_needed`, `hours_offered`).
    """

    projects: tuple[Project, ...]
    sources: tuple[Source, ...]
    min_support: int | None = None
    area_shares: tuple[AreaShare, ...] = ()
    dependencies: tuple[tuple[str, str], ...] = ()
    incompatible: tuple[frozenset[str], ...] = ()

    def __post_init__(self) -> None:
        _freeze(self, "projects", tuple)
        _freeze(self, "sources", tuple)
        _freeze(self, "area_shares", tuple)
        _freeze(self, "dependencies", tuple)
        _freeze(self, "incompatible", tuple)
        for what, items in (("project", self.projects), ("source", self.sources)):
            ids = [item.id for item in items]
            if len(set(ids)) != len(ids):
                raise ValueError(f"duplicate {what} id")
        if self.min_support is not None and not _is_int(self.min_support):
            raise ValueError("min_support must be an integer")
        self._check_constraints()

    def _check_constraints(self) -> None:
        known = {p.id for p in self.projects}
        areas = [a.category for a in self.area_shares]
        if not all(isinstance(a, AreaShare) for a in self.area_shares):
            raise ValueError("area_shares must hold AreaShare values")
        if len(set(areas)) != len(areas):
            raise ValueError("duplicate area share category")
        pairs = []
        for pair in self.dependencies:
            if isinstance(pair, str) or len(tuple(pair)) != 2:
                raise ValueError(f"a dependency is a pair (b, a), got {pair!r}")
            b, a = tuple(pair)
            if b not in known or a not in known:
                raise ValueError(f"dependency ({b!r}, {a!r}) names an unknown project")
            if b == a:
                raise ValueError(f"project {b!r} cannot depend on itself")
            pairs.append((b, a))
        object.__setattr__(self, "dependencies", tuple(pairs))
        groups = []
        for group in self.incompatible:
            if isinstance(group, str):
                raise ValueError("an incompatible group is a collection of ids, not one string")
            ids = frozenset(group)
            if len(ids) < 2:
                raise ValueError(f"an incompatible group needs two projects or more: {group!r}")
            if not ids <= known:
                raise ValueError(f"incompatible group {sorted(ids)} names an unknown project")
            groups.append(ids)
        object.__setattr__(self, "incompatible", tuple(groups))

    @classmethod
    def single_budget(
        cls,
        projects: Iterable[Project],
        budget: int,
        *,
        source_id: str = "pool",
        min_support: int | None = None,
    ) -> Instance:
        """The classic participatory-budgeting case: one unrestricted pot."""
        return cls(tuple(projects), (Source(source_id, budget),), min_support)

    @property
    def constrained(self) -> bool:
        """Whether any constraint beyond money and the support threshold is set."""
        return bool(
            self.area_shares
            or self.dependencies
            or self.incompatible
            or any(p.hours_needed is not None for p in self.projects)
        )

    @property
    def total_money(self) -> int:
        """Cents in all sources together."""
        return sum(s.amount for s in self.sources)

    @property
    def matching(self) -> bool:
        """Whether any grant has a matching ratio (the max-flow view is then not enough)."""
        return any(s.match_percent is not None for s in self.sources)

    def project(self, project_id: str) -> Project:
        """Look a project up by id (KeyError when unknown)."""
        for project in self.projects:
            if project.id == project_id:
                return project
        raise KeyError(project_id)


def support(instance: Instance, profile: Profile) -> dict[str, int]:
    """Total support of every project of the instance (0 when nobody voted for it).

    approval/choose-1: number of approving ballots; cumulative/scoring: sum of points;
    ordinal: Borda, a ballot of length L gives L-1-position (the last-ranked gets 0).
    """
    totals = {p.id: 0 for p in instance.projects}
    kind = PROFILE_ALIASES.get(profile.kind, profile.kind)
    for ballot in profile.ballots:
        for position, project_id in enumerate(ballot.projects):
            if project_id not in totals:
                raise ValueError(f"voter {ballot.voter!r} voted for unknown project {project_id!r}")
            if kind == "approval":
                totals[project_id] += 1
            elif kind == "cumulative":
                assert ballot.points is not None  # checked by Profile
                totals[project_id] += ballot.points[position]
            else:
                totals[project_id] += len(ballot.projects) - 1 - position
    return totals


@dataclass(frozen=True)
class Allocation:
    """`cents` from `source` towards `project`."""

    source: str
    project: str
    cents: int


@dataclass(frozen=True)
class Explanation:
    """Why a project was or was not funded, in words and in numbers."""

    project: str
    funded: bool
    code: str
    text: str
    numbers: dict[str, int] = field(hash=False)
    # Ids of the other projects the text names (e.g. an incompatible project), so a page
    # can show their titles; empty when it names none.
    related: tuple[str, ...] = ()


@dataclass(frozen=True)
class Result:
    """The outcome of one rule on one input, with enough to re-run and audit it."""

    rule: str
    selected: tuple[str, ...]
    plan: tuple[Allocation, ...]
    cost: int
    objective: int
    status: str
    explanations: tuple[Explanation, ...]
    input_sha256: str
    seconds: float
    # Remarks on the whole outcome, e.g. a minimum area share greedy could not meet.
    notes: tuple[str, ...] = ()
    # The rule's options as fingerprinted: canonical_input(instance, profile, rule,
    # options) are the bytes whose SHA-256 is input_sha256.
    options: dict[str, object] = field(default_factory=dict, hash=False)

    def funded_by(self, project: str) -> dict[str, int]:
        """Cents each source puts into `project`."""
        return {a.source: a.cents for a in self.plan if a.project == project}

    def used(self, source: str) -> int:
        """Total cents taken from `source`."""
        return sum(a.cents for a in self.plan if a.source == source)

    def explanation(self, project: str) -> Explanation:
        """The explanation for `project` (KeyError when unknown)."""
        for item in self.explanations:
            if item.project == project:
                return item
        raise KeyError(project)
