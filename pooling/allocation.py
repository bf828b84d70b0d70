"""The adapter between a closed round in the database and the pure optimizer."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from sqlalchemy import delete, select

import optimizer
from commonpot.audit import record
from commonpot.errors import IllegalTransition, ValidationFailed
from commonpot.extensions import db
from commonpot.models import FundingRound, Project, RoundStatus, User, utcnow
from commonpot.money import format_cents
from commonpot.rounds.services import transition
from surveys.services import profile_ballots

from .constraints import instance_constraints
from .grants import grants_of, usable
from .hours import hours_by_project
from .models import (
    AllocationRun,
    Document,
    FundingLine,
    Pledge,
    PledgeState,
    ProjectFunding,
    ProjectOutcome,
    Signature,
    SourceKind,
    TargetKind,
)

# The rules the app offers, in optimizer.RULES' order, and equal shares' completions.
RULES = {
    "greedy": "Greedy by support",
    "equal-shares": "Equal shares",
    "max-welfare": "Maximum support (optimal)",
}
COMPLETIONS = {
    "add1": "Add 1 (default)",
    "none": "None",
    "add1-greedy": "Add 1, then greedy",
}
DEFAULT_COMPLETION = "add1"


def counting_pledges(funding_round: FundingRound) -> list[Pledge]:
    """The pledges an allocation may use: confirmed or collected, standing, not withdrawn."""
    return [
        p
        for p in db.session.scalars(
            select(Pledge)
            .where(
                Pledge.round_id == funding_round.id,
                Pledge.state.in_((PledgeState.CONFIRMED, PledgeState.COLLECTED)),
            )
            .order_by(Pledge.id)
        )
        if p.counts
    ]


def source_id_of(pledge: Pledge) -> str:
    """Which optimizer source a pledge's money belongs to (see `pledge_sources`)."""
    if pledge.target == TargetKind.POT:
        return "pool"
    if pledge.target == TargetKind.PROJECT:
        return f"earmark:project:{pledge.project_id}"
    if pledge.target == TargetKind.AREA:
        return f"earmark:area:{pledge.priority_area_id}"
    return f"pledge:{pledge.id}"  # several projects with a cap: a source of its own


def pledge_sources(funding_round: FundingRound) -> dict[str, list[Pledge]]:
    """Pledges grouped by the source they form: the pot, each project's and each area's
    earmarks, and each several-projects pledge on its own (its cap is its amount)."""
    groups: dict[str, list[Pledge]] = {"pool": []}
    for pledge in counting_pledges(funding_round):
        groups.setdefault(source_id_of(pledge), []).append(pledge)
    return groups


def build_input(
    funding_round: FundingRound, *, on: date | None = None
) -> tuple[optimizer.Instance, optimizer.Profile]:
    """The optimizer's view of the round: residents' money by target, each usable grant
    (expired grants are not), the organizer's constraints, each project's volunteer hours
    needed and offered, and the ballots. Categories are priority-area names."""
    on = on or utcnow().date()
    offered = hours_by_project(funding_round)
    needed = dict(
        db.session.execute(
            select(ProjectFunding.project_id, ProjectFunding.hours_needed)
            .join(Project, Project.id == ProjectFunding.project_id)
            .where(Project.round_id == funding_round.id)
        ).all()
    )
    projects = tuple(
        optimizer.Project(
            str(p.id),
            p.cost_cents,
            p.priority_area.name if p.priority_area else None,
            hours_needed=needed.get(p.id),
            hours_offered=offered.get(p.id, 0),
        )
        for p in funding_round.projects
    )
    sources = []
    titles = {p.id: p.title for p in funding_round.projects}
    for source_id, members in sorted(pledge_sources(funding_round).items()):
        cents = sum(p.amount_cents for p in members)
        if source_id == "pool":
            sources.append(optimizer.Source("pool", cents, "pool", label="the common pot"))
            continue
        first = members[0]
        if first.target == TargetKind.AREA:
            scope = {"categories": frozenset({first.priority_area.name})}
            label = f"pledges to {first.priority_area.name}"
        else:
            scope = {"projects": frozenset(str(pid) for pid in first.target_project_ids)}
            named = [titles[pid] for pid in first.target_project_ids if pid in titles]
            label = f"pledges to {named[0]}" if len(named) == 1 else "pledges to several projects"
        sources.append(optimizer.Source(source_id, cents, "earmark", **scope, label=label))
    for grant in grants_of(funding_round):
        if not usable(grant, on):
            continue
        sources.append(
            optimizer.Source(
                f"grant:{grant.id}",
                grant.amount_cents,
                "grant",
                categories=frozenset({grant.priority_area.name}) if grant.priority_area else None,
                projects=frozenset(str(p.id) for p in grant.projects) or None,
                cap_per_project=grant.cap_per_project_cents,
                match_percent=grant.match_percent,
                label=grant.name,
            )
        )
    kind, rows = profile_ballots(funding_round)
    ballots = tuple(
        optimizer.Ballot(
            str(response_id),
            tuple(str(p) for p in chosen),
            tuple(points) if points is not None else None,
        )
        for response_id, chosen, points in rows
    )
    instance = optimizer.Instance(projects, tuple(sources), **instance_constraints(funding_round))
    return instance, optimizer.Profile(kind, ballots)


def snapshot_json(
    instance: optimizer.Instance,
    profile: optimizer.Profile,
    rule: str,
    options: Mapping[str, object] | None = None,
) -> str:
    """The optimizer's canonical input, stored so anyone can re-run the rule: for a run,
    its SHA-256 is the run's input_sha256 (`optimizer.canonical_input`)."""
    return optimizer.canonical_input(instance, profile, rule, options or {}).decode("utf-8")


def is_locked(funding_round: FundingRound) -> bool:
    """Once anyone signed a document of the round, its allocation cannot change."""
    return (
        db.session.scalar(
            select(Signature.id)
            .join(Document)
            .where(Document.round_id == funding_round.id)
            .limit(1)
        )
        is not None
    )


def require_runnable(funding_round: FundingRound) -> None:
    """Allocations run on a closed (or already allocated) round nobody has signed for."""
    if funding_round.status not in (RoundStatus.CLOSED, RoundStatus.ALLOCATED):
        raise IllegalTransition("Close the round before running the allocation.")
    if is_locked(funding_round):
        raise IllegalTransition("Board members have started signing; the allocation is final.")


def completion_for(rule: str, completion: str | None) -> str | None:
    """Equal shares' completion (the default when none is given); None for other rules."""
    if rule not in RULES:
        raise ValidationFailed([("rule", "Choose one of the listed rules.")])
    if rule != "equal-shares":
        return None
    chosen = completion or DEFAULT_COMPLETION
    if chosen not in COMPLETIONS:
        raise ValidationFailed([("completion", "Choose one of the listed completions.")])
    return chosen


def voters_served(profile: optimizer.Profile, selected: set[str]) -> int:
    """Ballots that give positive support to at least one selected project: any approval;
    points above 0; on rankings, a Borda score above 0 (a ballot's last choice earns 0)."""
    kind = {"choose-1": "approval", "scoring": "cumulative"}.get(profile.kind, profile.kind)
    served = 0
    for ballot in profile.ballots:
        if kind == "approval":
            weights = [1] * len(ballot.projects)
        elif kind == "cumulative":
            weights = list(ballot.points or ())
        else:
            weights = [len(ballot.projects) - 1 - i for i in range(len(ballot.projects))]
        if any(w > 0 and p in selected for p, w in zip(ballot.projects, weights, strict=True)):
            served += 1
    return served


def execute(
    funding_round: FundingRound,
    instance: optimizer.Instance,
    profile: optimizer.Profile,
    rule: str,
    completion: str | None,
    *,
    actor: User,
) -> AllocationRun:
    """Run one rule on an input and make the (unsaved, unchosen) run that records it:
    the optimizer's explanations and notes as it gave them, the plan, the timing."""
    currency = funding_round.community.currency
    result = optimizer.allocate(
        instance,
        profile,
        rule,
        money=lambda cents: format_cents(cents, currency),
        completion=completion,
    )
    support = optimizer.support(instance, profile)
    run = AllocationRun(
        round=funding_round,
        rule=rule,
        completion=completion,
        solver_status=result.status,
        input_sha256=result.input_sha256,
        snapshot=snapshot_json(instance, profile, rule, result.options),
        objective=result.objective,
        available_cents=instance.total_money,
        allocated_cents=result.cost,
        seconds=f"{result.seconds:.3f}",
        notes=list(result.notes),
        voters=len(profile.ballots),
        voters_served=voters_served(profile, set(result.selected)),
        chosen=False,
        created_by_id=actor.id,
    )
    for project in funding_round.projects:
        why = result.explanation(str(project.id))
        run.outcomes.append(
            ProjectOutcome(
                project_id=project.id,
                funded=why.funded,
                support=support[str(project.id)],
                reason=why.text,  # why it was funded, or why not: shown as the optimizer says
                code=why.code,
                explanation=why.text,
                numbers=dict(why.numbers),
                related=[int(p) for p in why.related if p.isdigit()],  # project ids
            )
        )
    kinds = {source.id: source.kind for source in instance.sources}
    for line in result.plan:
        kind = kinds[line.source]
        run.lines.append(
            FundingLine(
                project_id=int(line.project),
                kind=SourceKind(kind),
                source=line.source,
                cents=line.cents,
                grant_id=int(line.source.partition(":")[2]) if kind == "grant" else None,
            )
        )
    return run


def use_run(run: AllocationRun, *, actor: User) -> None:
    """Make `run` the round's allocation: documents are made from it; unsigned documents
    of another run go; a closed round becomes allocated."""
    funding_round = run.round
    require_runnable(funding_round)
    for older in db.session.scalars(select(AllocationRun).filter_by(round_id=funding_round.id)):
        older.chosen = older.id == run.id
    run.chosen = True
    db.session.execute(delete(Document).where(Document.round_id == funding_round.id))
    db.session.flush()
    if funding_round.status == RoundStatus.CLOSED:
        transition(funding_round, RoundStatus.ALLOCATED, actor=actor)


def run_allocation(
    funding_round: FundingRound,
    rule: str,
    *,
    actor: User,
    completion: str | None = None,
) -> AllocationRun:
    """Run one rule and make its result the round's allocation."""
    completion = completion_for(rule, completion)
    require_runnable(funding_round)
    instance, profile = build_input(funding_round)
    run = execute(funding_round, instance, profile, rule, completion, actor=actor)
    db.session.add(run)
    db.session.flush()
    use_run(run, actor=actor)
    record(
        "allocation.run",
        f"allocation:{run.id}",
        community_id=funding_round.community_id,
        actor_id=actor.id,
        round=funding_round.id,
        rule=rule,
        completion=completion,
        status=run.solver_status,
        input_sha256=run.input_sha256,
        selected=sorted(str(o.project_id) for o in run.outcomes if o.funded),
    )
    return run


def chosen_run(funding_round: FundingRound) -> AllocationRun | None:
    return db.session.scalar(
        select(AllocationRun).filter_by(round_id=funding_round.id, chosen=True)
    )


def titled(text: str, project_ids: list[int], titles: dict[int, str]) -> str:
    """The optimizer's text with the projects it quotes by id (“12”) named by title."""
    for project_id in project_ids:
        if project_id in titles:
            text = text.replace(f"“{project_id}”", f"“{titles[project_id]}”")
    return text


def explained(outcome: ProjectOutcome, titles: dict[int, str]) -> dict:
    """A stored explanation as pages and documents show it: the optimizer's text (ids
    named by title), its code and numbers, and the titles of the projects it relates to."""
    text = outcome.explanation or outcome.reason  # runs stored before explanations were
    related = list(outcome.related or [])
    return {
        "text": titled(text, [outcome.project_id, *related], titles),
        "code": outcome.code,
        "numbers": dict(outcome.numbers or {}),
        "related": [titles[p] for p in related if p in titles and p != outcome.project_id],
    }


def plan_table(run: AllocationRun) -> dict:
    """The run as rows a page or a PDF shows: per project, cents by pool, earmarks, each
    grant, and the optimizer's explanation; the run's notes."""
    grants = {g.id: g for g in grants_of(run.round)}
    titles = {p.id: p.title for p in run.round.projects}
    by_project: dict[int, dict] = {}
    for line in run.lines:
        row = by_project.setdefault(line.project_id, {"pool": 0, "earmark": 0, "grants": {}})
        if line.kind == SourceKind.GRANT:
            row["grants"][line.grant_id] = row["grants"].get(line.grant_id, 0) + line.cents
        else:
            row[line.kind.value] += line.cents
    funded, unfunded = [], []
    for outcome in sorted(run.outcomes, key=lambda o: (-o.support, o.project.title)):
        project = outcome.project
        why = explained(outcome, titles)
        if outcome.funded:
            row = by_project.get(project.id, {"pool": 0, "earmark": 0, "grants": {}})
            funded.append(
                {
                    "project": project,
                    "support": outcome.support,
                    "reason": why["text"],
                    **row,
                    "total": row["pool"] + row["earmark"] + sum(row["grants"].values()),
                    "explanation": why,
                }
            )
        else:
            unfunded.append(
                {
                    "project": project,
                    "support": outcome.support,
                    "reason": why["text"],
                    "explanation": why,
                }
            )
    used_by_grant = {gid: sum(r["grants"].get(gid, 0) for r in funded) for gid in grants}
    return {
        "funded": funded,
        "unfunded": unfunded,
        "grants": list(grants.values()),
        "used_by_grant": used_by_grant,
        "pool_used": sum(r["pool"] for r in funded),
        "earmark_used": sum(r["earmark"] for r in funded),
        "notes": list(run.notes or []),
    }
