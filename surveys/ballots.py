"""The rules of every ballot, as pure functions: no Flask, no SQLAlchemy.

Each check returns a list of (field, message); an empty list means the ballot (or the
settings) may be saved. Field names are the ballot form's: "priorities" and "votes" for
the ranking and the project ballot as a whole, "area_<id>" and "project_<id>" for one
line of them. The services raise ValidationFailed with these lists; the unit tests prove
that no accepted ballot breaks a rule and that every refused one names a field.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from commonpot.money import format_cents

APPROVAL, KNAPSACK, CUMULATIVE, RANKED = "approval", "knapsack", "cumulative", "ranked"
BALLOT_TYPES = (APPROVAL, KNAPSACK, CUMULATIVE, RANKED)

Errors = list[tuple[str, str]]
Choice = set[int] | frozenset[int] | Mapping[int, int]


@dataclass(frozen=True)
class BallotSettings:
    """A round's ballot settings (the columns of the same names on FundingRound)."""

    ballot_type: str = APPROVAL
    min_approvals: int | None = None
    max_approvals: int | None = None
    budget_cents: int | None = None
    min_spend_percent: int | None = None
    points_total: int | None = None
    points_exact: bool = True
    points_cap: int | None = None
    rank_limit: int | None = None
    priority_rank_limit: int | None = None

    @classmethod
    def of(cls, source: Any) -> BallotSettings:
        """The settings held by any object with these attributes (a FundingRound)."""
        values = {f.name: getattr(source, f.name) for f in fields(cls)}
        values["ballot_type"] = str(getattr(values["ballot_type"], "value", values["ballot_type"]))
        values["points_exact"] = bool(values["points_exact"])
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def rank_limit(settings: BallotSettings, project_count: int) -> int:
    """How many projects a ranked ballot may order."""
    return min(settings.rank_limit or project_count, project_count)


def priority_limit(settings: BallotSettings, area_count: int) -> int:
    """How many priority areas a resident ranks (all of them unless a top k is set)."""
    return min(settings.priority_rank_limit or area_count, area_count)


def min_spend_cents(settings: BallotSettings) -> int:
    """The least a knapsack ballot must spend: the percentage of the budget, rounded up."""
    if not settings.budget_cents or not settings.min_spend_percent:
        return 0
    return -(-settings.budget_cents * settings.min_spend_percent // 100)


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


# -- settings ------------------------------------------------------------------------


def check_settings(settings: BallotSettings, *, project_count: int, area_count: int) -> Errors:
    """Settings an organizer may save; project_count is the round's projects so far."""
    s = settings
    errors: Errors = []

    def positive(name: str, label: str, maximum: int | None = None) -> None:
        value = getattr(s, name)
        if value is not None and value < 1:
            errors.append((name, f"{label} must be at least 1."))
        elif value is not None and maximum is not None and value > maximum:
            errors.append((name, f"{label} must be at most {maximum}."))

    if s.ballot_type not in BALLOT_TYPES:
        errors.append(("ballot_type", "Choose one of the ballot types."))
    positive("min_approvals", "The minimum number of projects")
    positive("max_approvals", "The maximum number of projects")
    positive("budget_cents", "The budget")
    positive("min_spend_percent", "The minimum share of the budget", 100)
    positive("points_total", "The number of points")
    positive("points_cap", "The most points per project")
    positive("rank_limit", "The number of projects to rank")
    positive("priority_rank_limit", "The number of priority areas to rank")
    if errors:
        return errors
    if s.ballot_type == APPROVAL:
        if s.min_approvals and s.max_approvals and s.min_approvals > s.max_approvals:
            errors.append(
                ("min_approvals", "The minimum number of projects cannot exceed the maximum.")
            )
        if project_count and s.min_approvals and s.min_approvals > project_count:
            errors.append(
                (
                    "min_approvals",
                    f"The round has only {_plural(project_count, 'project', 'projects')}.",
                )
            )
    if s.ballot_type == KNAPSACK and not s.budget_cents:
        errors.append(("budget_cents", "A knapsack ballot needs the budget residents spend."))
    if s.ballot_type == CUMULATIVE:
        if not s.points_total:
            errors.append(("points_total", "A cumulative ballot needs the number of points."))
        elif s.points_cap and s.points_cap > s.points_total:
            errors.append(
                ("points_cap", "The most points per project cannot exceed the points to spread.")
            )
        elif s.points_exact and s.points_cap and project_count:
            if s.points_cap * project_count < s.points_total:
                errors.append(
                    (
                        "points_cap",
                        f"With {project_count} projects and at most {s.points_cap} points "
                        f"each, nobody can spend all {s.points_total} points.",
                    )
                )
    if s.ballot_type == RANKED and s.rank_limit and project_count:
        if s.rank_limit > project_count:
            errors.append(
                (
                    "rank_limit",
                    f"The round has only {_plural(project_count, 'project', 'projects')}: "
                    f"rank at most {project_count}.",
                )
            )
    if s.priority_rank_limit and area_count and s.priority_rank_limit > area_count:
        errors.append(
            (
                "priority_rank_limit",
                f"The round has only {area_count} priority areas: rank at most {area_count}.",
            )
        )
    return errors


# -- rankings (ranked ballots and the priority-area question) ------------------------


def check_ranking(
    ranks: Mapping[int, int],
    allowed: set[int] | frozenset[int],
    *,
    limit: int,
    require_all: bool,
    field: str,
    item_field: str,
    noun: str,
) -> Errors:
    """ranks maps item id -> rank (1 = first). Ranks must run 1..m with no gap or repeat."""
    errors: Errors = []
    unknown = [i for i in ranks if i not in allowed]
    if unknown:
        return [(field, f"Only this round's {noun}s can be ranked.")]
    for item, rank in sorted(ranks.items()):
        if not isinstance(rank, int) or isinstance(rank, bool) or rank < 1 or rank > limit:
            errors.append((f"{item_field}_{item}", f"Choose a rank from 1 to {limit}."))
    if errors:
        return errors
    count = len(ranks)
    if require_all and count != len(allowed):
        return [(field, f"Rank every {noun}.")]
    if count == 0:
        return [(field, f"Rank at least one {noun}.")]
    repeated = sorted(r for r, n in Counter(ranks.values()).items() if n > 1)
    if repeated:
        for item, rank in sorted(ranks.items()):
            if rank in repeated:
                errors.append((f"{item_field}_{item}", f"Rank {rank} is given more than once."))
        errors.append(
            (
                field,
                f"Give each {noun} a different rank, from 1 (most important) to {count}.",
            )
        )
        return errors
    if count > limit:
        return [(field, f"Rank at most {limit} {noun}s.")]
    if sorted(ranks.values()) != list(range(1, count + 1)):
        missing = min(set(range(1, count + 1)) - set(ranks.values()))
        return [
            (
                field,
                f"Use ranks 1 to {count} without a gap: nothing is ranked {missing}.",
            )
        ]
    return errors


def check_priority_ranking(
    settings: BallotSettings, area_ids: set[int] | frozenset[int], rankings: Mapping[int, int]
) -> Errors:
    limit = priority_limit(settings, len(area_ids))
    return check_ranking(
        rankings,
        area_ids,
        limit=limit,
        require_all=limit == len(area_ids),
        field="priorities",
        item_field="area",
        noun="priority area",
    )


# -- project ballots -----------------------------------------------------------------


def check_project_ballot(
    settings: BallotSettings, projects: Mapping[int, int], choice: Choice, currency: str = "USD"
) -> Errors:
    """projects maps project id -> cost in cents. choice is a set of project ids
    (approval, knapsack) or a mapping project id -> points (cumulative) or rank (ranked)."""
    kind = settings.ballot_type
    if kind in (APPROVAL, KNAPSACK):
        if isinstance(choice, Mapping):
            return [("votes", "Tick the projects you choose.")]
        picked = set(choice)
        if not picked <= set(projects):
            return [("votes", "Only this round's projects can be chosen.")]
        if kind == APPROVAL:
            return _check_approval(settings, picked)
        return _check_knapsack(settings, projects, picked, currency)
    if not isinstance(choice, Mapping):
        return [("votes", "Give each project a number.")]
    if kind == CUMULATIVE:
        return _check_cumulative(settings, projects, choice)
    if kind == RANKED:
        return check_ranking(
            choice,
            set(projects),
            limit=rank_limit(settings, len(projects)),
            require_all=False,
            field="votes",
            item_field="project",
            noun="project",
        )
    return [("votes", "This round's ballot type is unknown.")]


def _check_approval(settings: BallotSettings, picked: set[int]) -> Errors:
    least = max(settings.min_approvals or 1, 1)
    if not picked:
        return [("votes", "Approve at least one project.")]
    if len(picked) < least:
        return [("votes", f"Approve at least {least} projects (you chose {len(picked)}).")]
    if settings.max_approvals and len(picked) > settings.max_approvals:
        return [
            (
                "votes",
                f"Approve at most {settings.max_approvals} projects (you chose {len(picked)}).",
            )
        ]
    return []


def _check_knapsack(
    settings: BallotSettings, projects: Mapping[int, int], picked: set[int], currency: str
) -> Errors:
    def _cents(cents: int) -> str:
        return format_cents(cents, currency)

    if not picked:
        return [("votes", "Choose at least one project.")]
    budget = settings.budget_cents or 0
    spent = sum(projects[p] for p in picked)
    if spent > budget:
        return [
            (
                "votes",
                f"Your projects cost {_cents(spent)}, more than the budget of {_cents(budget)}: "
                "remove one.",
            )
        ]
    least = min_spend_cents(settings)
    if spent < least:
        return [
            (
                "votes",
                f"Spend at least {settings.min_spend_percent}% of the budget "
                f"({_cents(least)}); your projects cost {_cents(spent)}.",
            )
        ]
    return []


def _check_cumulative(
    settings: BallotSettings, projects: Mapping[int, int], points: Mapping[int, int]
) -> Errors:
    if any(p not in projects for p in points):
        return [("votes", "Only this round's projects can get points.")]
    errors: Errors = []
    cap = settings.points_cap
    for project, value in sorted(points.items()):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            errors.append((f"project_{project}", "Give a whole number of points, 0 or more."))
        elif cap and value > cap:
            errors.append((f"project_{project}", f"Give at most {cap} points to one project."))
    if errors:
        return errors
    total, wanted = sum(points.values()), settings.points_total or 0
    if settings.points_exact and total != wanted:
        return [("votes", f"Spread exactly {wanted} points (you gave {total}).")]
    if total > wanted:
        return [("votes", f"Spread at most {wanted} points (you gave {total}).")]
    if total == 0:
        return [("votes", "Give at least one point to a project.")]
    return []
