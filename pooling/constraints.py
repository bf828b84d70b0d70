"""The constraints an organizer sets on a round's allocation: each priority area's
minimum and maximum share of the money funded, "B only with A" dependencies, groups of
incompatible projects and a minimum support threshold. Volunteer hours needed are a
project target (`pooling.terms`); the hours offered come from residents' hours pledges.

They can change until the round is allocated, each change an audit event. Every rule
here is checked by the service (the forms only parse), so a bad value is refused with
a message for its field and nothing is saved.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

import optimizer
from commonpot.audit import record
from commonpot.errors import IllegalTransition, ValidationFailed
from commonpot.extensions import db
from commonpot.models import BallotType, FundingRound, Project, RoundStatus, User
from surveys.results import tally

from . import constraint_graph as graph
from .allocation_models import (
    AreaShareBound,
    IncompatibleGroup,
    ProjectDependency,
    SupportThreshold,
)

BPS = optimizer.BPS
EDITABLE = (RoundStatus.DRAFT, RoundStatus.OPEN, RoundStatus.CLOSED)
MAX_THRESHOLD = 1_000_000_000


@dataclass(frozen=True)
class RoundConstraints:
    """A round's constraints as the pages and `build_input` read them."""

    min_support: int | None
    shares: dict[int, tuple[int | None, int | None]]  # area id -> (min_bps, max_bps)
    dependencies: list[ProjectDependency]
    groups: list[IncompatibleGroup]  # with two or more projects left

    @property
    def any(self) -> bool:
        return bool(self.min_support or self.shares or self.dependencies or self.groups)


def constraints_of(funding_round: FundingRound) -> RoundConstraints:
    threshold = db.session.get(SupportThreshold, funding_round.id)
    shares = {
        b.priority_area_id: (b.min_bps, b.max_bps)
        for b in db.session.scalars(select(AreaShareBound).filter_by(round_id=funding_round.id))
    }
    dependencies = list(
        db.session.scalars(
            select(ProjectDependency)
            .filter_by(round_id=funding_round.id)
            .order_by(ProjectDependency.id)
        )
    )
    groups = [
        g
        for g in db.session.scalars(
            select(IncompatibleGroup)
            .filter_by(round_id=funding_round.id)
            .order_by(IncompatibleGroup.id)
        )
        if len(g.projects) >= 2  # a removed project can leave a group of one: no rule
    ]
    return RoundConstraints(
        threshold.min_support if threshold else None, shares, dependencies, groups
    )


def locked_reason(funding_round: FundingRound) -> str | None:
    """Why the constraints can no longer change, or None while they can."""
    if funding_round.status in EDITABLE:
        return None
    return "The round is allocated: its allocation constraints are fixed."


def _require_editable(funding_round: FundingRound) -> None:
    reason = locked_reason(funding_round)
    if reason:
        raise IllegalTransition(reason)


def support_unit(funding_round: FundingRound) -> str:
    """What a project's support counts on this round's ballot."""
    return {
        BallotType.CUMULATIVE: "points",
        BallotType.RANKED: "Borda points",
    }.get(funding_round.ballot_type, "approvals")


def percent(bps: int | None) -> str:
    """Basis points as the pages write them: 1250 -> "12.5%"."""
    if bps is None:
        return ""
    return optimizer.constraints.percent(bps)


# -- the support threshold ---------------------------------------------------------------


def set_min_support(funding_round: FundingRound, min_support: int | None, *, actor: User) -> None:
    """Set (or, with None, remove) the least support a project needs to be funded."""
    _require_editable(funding_round)
    if min_support is not None and not 1 <= min_support <= MAX_THRESHOLD:
        raise ValidationFailed(
            [("min_support", "Enter a whole number of at least 1, or leave it empty for none.")]
        )
    threshold = db.session.get(SupportThreshold, funding_round.id)
    before = threshold.min_support if threshold else None
    if min_support is None and threshold is not None:
        db.session.delete(threshold)
    elif min_support is not None:
        if threshold is None:
            threshold = SupportThreshold(round_id=funding_round.id)
            db.session.add(threshold)
        threshold.min_support = min_support
    db.session.flush()
    record(
        "constraints.threshold_set",
        f"round:{funding_round.id}",
        community_id=funding_round.community_id,
        actor_id=actor.id,
        before=before,
        min_support=min_support,
    )


# -- area shares -------------------------------------------------------------------------


def check_area_shares(
    funding_round: FundingRound, bounds: dict[int, tuple[int | None, int | None]]
) -> list[tuple[str | None, str]]:
    """What is wrong with these bounds (area id -> min, max basis points), by field."""
    errors: list[tuple[str | None, str]] = []
    areas = {a.id: a for a in funding_round.priority_areas}
    with_projects = {p.priority_area_id for p in funding_round.projects}
    for area_id, (low, high) in bounds.items():
        if area_id not in areas:
            errors.append((None, "Choose the round's own priority areas."))
            continue
        for name, value in (("min", low), ("max", high)):
            if value is not None and not 0 <= value <= BPS:
                errors.append((f"{name}_{area_id}", "Enter a share from 0% to 100%."))
        if low is not None and high is not None and 0 <= high < low <= BPS:
            errors.append((f"max_{area_id}", f"The maximum is below the minimum ({percent(low)})."))
        if low and area_id not in with_projects:
            errors.append(
                (
                    f"min_{area_id}",
                    "This area has no projects: a minimum share could only be met by "
                    "funding nothing.",
                )
            )
    minimums = sum(low or 0 for low, _ in bounds.values() if low is not None and low <= BPS)
    if minimums > BPS:
        errors.append(
            ("minimums", f"The minimums add up to {percent(minimums)}; at most 100% can be.")
        )
    capped = {a for a, (_, high) in bounds.items() if high is not None}
    maximums = sum(high for _, high in bounds.values() if high is not None and high <= BPS)
    if with_projects and with_projects <= capped and maximums < BPS and not errors:
        errors.append(
            (
                "maximums",
                f"Every area with projects has a maximum and they add up to "
                f"{percent(maximums)}: below 100%, no project could be funded.",
            )
        )
    return errors


def set_area_shares(
    funding_round: FundingRound,
    bounds: dict[int, tuple[int | None, int | None]],
    *,
    actor: User,
) -> None:
    """Replace the round's area shares: `bounds` maps every area to (min_bps, max_bps);
    an area with neither has no bound."""
    _require_editable(funding_round)
    errors = check_area_shares(funding_round, bounds)
    if errors:
        raise ValidationFailed(errors)
    existing = {
        b.priority_area_id: b
        for b in db.session.scalars(select(AreaShareBound).filter_by(round_id=funding_round.id))
    }
    for area_id, (low, high) in bounds.items():
        bound = existing.get(area_id)
        if low is None and high is None:
            if bound is not None:
                db.session.delete(bound)
            continue
        if bound is None:
            bound = AreaShareBound(round_id=funding_round.id, priority_area_id=area_id)
            db.session.add(bound)
        bound.min_bps, bound.max_bps = low, high
    db.session.flush()
    names = {a.id: a.name for a in funding_round.priority_areas}
    record(
        "constraints.area_shares_set",
        f"round:{funding_round.id}",
        community_id=funding_round.community_id,
        actor_id=actor.id,
        shares={
            names[a]: {"min_bps": low, "max_bps": high}
            for a, (low, high) in sorted(bounds.items())
            if low is not None or high is not None
        },
    )


def suggested_minimums(funding_round: FundingRound) -> dict[int, int] | None:
    """Minimum shares proportional to the survey's priority ranking, for the organizer to
    review: half of each area's share of the ranking's Borda points (with n areas, rank r
    earns n - r), rounded down to a whole percent. The minimums then add up to at most
    50%, so the project vote still decides the other half. None without rankings."""
    areas = tally(funding_round).areas
    total = sum(a.score for a in areas)
    if total == 0:
        return None
    return {a.id: (a.score * BPS // (2 * total)) // 100 * 100 for a in areas}


# -- dependencies and incompatible groups ----------------------------------------------


def _project_of(funding_round: FundingRound, project_id: int | None) -> Project | None:
    project = db.session.get(Project, project_id) if project_id else None
    return project if project is not None and project.round_id == funding_round.id else None


def _pairs_and_groups(funding_round: FundingRound) -> tuple[list[tuple[int, int]], list[set[int]]]:
    now = constraints_of(funding_round)
    pairs = [(d.project_id, d.requires_id) for d in now.dependencies]
    return pairs, [{p.id for p in g.projects} for g in now.groups]


def add_dependency(
    funding_round: FundingRound, project_id: int | None, requires_id: int | None, *, actor: User
) -> ProjectDependency:
    """ "B only with A": `project_id` may be funded only if `requires_id` is."""
    _require_editable(funding_round)
    project, requires = (_project_of(funding_round, i) for i in (project_id, requires_id))
    errors: list[tuple[str | None, str]] = []
    if project is None:
        errors.append(("project_id", "Choose a project of this round."))
    if requires is None:
        errors.append(("requires_id", "Choose a project of this round."))
    if errors:
        raise ValidationFailed(errors)
    assert project is not None and requires is not None
    if project.id == requires.id:
        raise ValidationFailed([("requires_id", "A project cannot depend on itself.")])
    pairs, groups = _pairs_and_groups(funding_round)
    titles = {p.id: p.title for p in funding_round.projects}
    if (project.id, requires.id) in pairs:
        raise ValidationFailed([("requires_id", "This dependency is already set.")])
    back = graph.path(graph.requires(pairs), requires.id, project.id)
    if back is not None:
        cycle = [project.id, *back]
        links = ", ".join(
            f"“{titles[b]}” only with “{titles[a]}”" for b, a in zip(cycle, cycle[1:], strict=False)
        )
        raise ValidationFailed(
            [("requires_id", f"This would close a cycle: {links}. Dependencies cannot go round.")]
        )
    clash = graph.never_fundable([*pairs, (project.id, requires.id)], groups, titles)
    if clash:
        raise ValidationFailed([("requires_id", clash)])
    dependency = ProjectDependency(
        round_id=funding_round.id, project_id=project.id, requires_id=requires.id
    )
    db.session.add(dependency)
    db.session.flush()
    record(
        "constraints.dependency_added",
        f"round:{funding_round.id}",
        community_id=funding_round.community_id,
        actor_id=actor.id,
        project=project.id,
        requires=requires.id,
    )
    return dependency


def remove_dependency(dependency: ProjectDependency, *, actor: User) -> None:
    funding_round = db.session.get(FundingRound, dependency.round_id)
    assert funding_round is not None
    _require_editable(funding_round)
    record(
        "constraints.dependency_removed",
        f"round:{funding_round.id}",
        community_id=funding_round.community_id,
        actor_id=actor.id,
        project=dependency.project_id,
        requires=dependency.requires_id,
    )
    db.session.delete(dependency)
    db.session.flush()


def add_incompatible(
    funding_round: FundingRound, project_ids: list[int], *, actor: User
) -> IncompatibleGroup:
    """A group of projects of which at most one may be funded."""
    _require_editable(funding_round)
    chosen = [_project_of(funding_round, i) for i in dict.fromkeys(project_ids)]
    if any(p is None for p in chosen):
        raise ValidationFailed([("projects", "Choose projects of this round.")])
    ids = {p.id for p in chosen if p is not None}
    if len(ids) < 2:
        raise ValidationFailed([("projects", "Tick two projects or more.")])
    pairs, groups = _pairs_and_groups(funding_round)
    if ids in groups:
        raise ValidationFailed([("projects", "These projects already form a group.")])
    titles = {p.id: p.title for p in funding_round.projects}
    clash = graph.never_fundable(pairs, [*groups, ids], titles)
    if clash:
        raise ValidationFailed([("projects", clash)])
    group = IncompatibleGroup(round_id=funding_round.id)
    group.projects = [p for p in chosen if p is not None]
    db.session.add(group)
    db.session.flush()
    record(
        "constraints.incompatible_added",
        f"round:{funding_round.id}",
        community_id=funding_round.community_id,
        actor_id=actor.id,
        group=group.id,
        projects=sorted(ids),
    )
    return group


def remove_incompatible(group: IncompatibleGroup, *, actor: User) -> None:
    funding_round = db.session.get(FundingRound, group.round_id)
    assert funding_round is not None
    _require_editable(funding_round)
    record(
        "constraints.incompatible_removed",
        f"round:{funding_round.id}",
        community_id=funding_round.community_id,
        actor_id=actor.id,
        group=group.id,
        projects=[p.id for p in group.projects],
    )
    db.session.delete(group)
    db.session.flush()


def summary(funding_round: FundingRound) -> list[str]:
    """The constraints in sentences, for the round page (they are public rules)."""
    now = constraints_of(funding_round)
    lines = []
    for area in funding_round.priority_areas:
        low, high = now.shares.get(area.id, (None, None))
        if low is not None and high is not None:
            lines.append(
                f"{area.name}: between {percent(low)} and {percent(high)} of the money funded"
            )
        elif low is not None:
            lines.append(f"{area.name}: at least {percent(low)} of the money funded")
        elif high is not None:
            lines.append(f"{area.name}: at most {percent(high)} of the money funded")
    if now.min_support:
        lines.append(f"A project needs at least {now.min_support:,} {support_unit(funding_round)}")
    for d in now.dependencies:
        lines.append(f"“{d.project.title}” only with “{d.requires.title}”")
    for g in now.groups:
        lines.append("At most one of " + graph.names([p.id for p in g.projects], _titles(g)))
    return lines


def _titles(group: IncompatibleGroup) -> dict[int, str]:
    return {p.id: p.title for p in group.projects}


# -- for the optimizer ---------------------------------------------------------------------


def instance_constraints(funding_round: FundingRound) -> dict:
    """The constraints as `optimizer.Instance` keyword arguments. Categories are priority
    area names, so the optimizer's texts name areas as residents know them."""
    now = constraints_of(funding_round)
    names = {a.id: a.name for a in funding_round.priority_areas}
    return {
        "min_support": now.min_support,
        "area_shares": tuple(
            optimizer.AreaShare(names[area_id], low, high)
            for area_id, (low, high) in sorted(now.shares.items())
        ),
        "dependencies": tuple((str(d.project_id), str(d.requires_id)) for d in now.dependencies),
        "incompatible": tuple(frozenset(str(p.id) for p in g.projects) for g in now.groups),
    }
