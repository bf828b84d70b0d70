"""The adapter between a closed round in the database and the pure optimizer."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date

from sqlalchemy import delete, select

import optimizer
from commonpot.audit import record
from commonpot.errors import IllegalTransition, ValidationFailed
from commonpot.extensions import db
from commonpot.models import FundingRound, RoundStatus, User, utcnow
from commonpot.money import format_cents
from commonpot.rounds.services import transition
from surveys.services import profile_ballots

from .grants import grants_of, usable
from .models import (
    AllocationRun,
    Document,
    FundingLine,
    Pledge,
    PledgeState,
    ProjectOutcome,
    Signature,
    SourceKind,
    TargetKind,
)

RULES = {"max-welfare": "Maximum support (optimal)", "greedy": "Greedy by support"}


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
    (expired grants are not), and the ballots."""
    on = on or utcnow().date()
    projects = tuple(
        optimizer.Project(
            str(p.id), p.cost_cents, str(p.priority_area_id) if p.priority_area_id else None
        )
        for p in funding_round.projects
    )
    sources = []
    for source_id, members in sorted(pledge_sources(funding_round).items()):
        cents = sum(p.amount_cents for p in members)
        if source_id == "pool":
            sources.append(optimizer.Source("pool", cents, "pool"))
            continue
        first = members[0]
        if first.target == TargetKind.AREA:
            scope = {"categories": frozenset({str(first.priority_area_id)})}
        else:
            scope = {"projects": frozenset(str(pid) for pid in first.target_project_ids)}
        sources.append(optimizer.Source(source_id, cents, "earmark", **scope))
    for grant in grants_of(funding_round):
        if not usable(grant, on):
            continue
        sources.append(
            optimizer.Source(
                f"grant:{grant.id}",
                grant.amount_cents,
                "grant",
                categories=frozenset({str(grant.priority_area_id)})
                if grant.priority_area_id
                else None,
                projects=frozenset(str(p.id) for p in grant.projects) or None,
                cap_per_project=grant.cap_per_project_cents,
                match_percent=grant.match_percent,
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
    return optimizer.Instance(projects, tuple(sources)), optimizer.Profile(kind, ballots)


def snapshot_json(instance: optimizer.Instance, profile: optimizer.Profile, rule: str) -> str:
    """Canonical JSON of everything the run saw, stored so anyone can re-run it."""

    def default(value):
        if isinstance(value, frozenset):
            return sorted(value)
        raise TypeError(type(value))

    return json.dumps(
        {"instance": asdict(instance), "profile": asdict(profile), "rule": rule},
        sort_keys=True,
        default=default,
        separators=(",", ":"),
    )


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


def run_allocation(funding_round: FundingRound, rule: str, *, actor: User) -> AllocationRun:
    if rule not in RULES:
        raise ValidationFailed([("rule", "Choose one of the listed rules.")])
    if funding_round.status not in (RoundStatus.CLOSED, RoundStatus.ALLOCATED):
        raise IllegalTransition("Close the round before running the allocation.")
    if is_locked(funding_round):
        raise IllegalTransition("Board members have started signing; the allocation is final.")
    instance, profile = build_input(funding_round)
    currency = funding_round.community.currency
    result = optimizer.allocate(
        instance, profile, rule, money=lambda cents: format_cents(cents, currency)
    )
    support = optimizer.support(instance, profile)

    run = AllocationRun(
        round=funding_round,
        rule=rule,
        solver_status=result.status,
        input_sha256=result.input_sha256,
        snapshot=snapshot_json(instance, profile, rule),
        objective=result.objective,
        available_cents=sum(s.amount for s in instance.sources),
        allocated_cents=result.cost,
        seconds=f"{result.seconds:.3f}",
        chosen=True,
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
    # The newest run is the one documents are made from; unsigned documents of older runs go.
    for older in db.session.scalars(select(AllocationRun).filter_by(round_id=funding_round.id)):
        older.chosen = False
    db.session.execute(delete(Document).where(Document.round_id == funding_round.id))
    db.session.add(run)
    db.session.flush()
    if funding_round.status == RoundStatus.CLOSED:
        transition(funding_round, RoundStatus.ALLOCATED, actor=actor)
    record(
        "allocation.run",
        f"allocation:{run.id}",
        community_id=funding_round.community_id,
        actor_id=actor.id,
        round=funding_round.id,
        rule=rule,
        status=result.status,
        input_sha256=result.input_sha256,
        selected=list(result.selected),
    )
    return run


def chosen_run(funding_round: FundingRound) -> AllocationRun | None:
    return db.session.scalar(
        select(AllocationRun).filter_by(round_id=funding_round.id, chosen=True)
    )


def plan_table(run: AllocationRun) -> dict:
    """The run as rows a page or a PDF shows: per project, cents by pool, earmarks, each grant."""
    grants = {g.id: g for g in grants_of(run.round)}
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
        if outcome.funded:
            row = by_project.get(project.id, {"pool": 0, "earmark": 0, "grants": {}})
            funded.append(
                {
                    "project": project,
                    "support": outcome.support,
                    "reason": outcome.reason,
                    **row,
                    "total": row["pool"] + row["earmark"] + sum(row["grants"].values()),
                }
            )
        else:
            unfunded.append(
                {"project": project, "support": outcome.support, "reason": outcome.reason}
            )
    used_by_grant = {gid: sum(r["grants"].get(gid, 0) for r in funded) for gid in grants}
    return {
        "funded": funded,
        "unfunded": unfunded,
        "grants": list(grants.values()),
        "used_by_grant": used_by_grant,
        "pool_used": sum(r["pool"] for r in funded),
        "earmark_used": sum(r["earmark"] for r in funded),
    }
