"""The rules side by side on one round: greedy, equal shares (with the chosen completion)
and maximum support run on the same input snapshot, stored as runs of one comparison.

Comparing never changes the round's allocation; the organizer may then use one of the
compared runs, which becomes the allocation like a run made on the allocation page.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import select

from commonpot.audit import record
from commonpot.errors import ValidationFailed
from commonpot.extensions import db
from commonpot.models import FundingRound, User

from .allocation import (
    RULES,
    build_input,
    completion_for,
    execute,
    require_runnable,
    snapshot_json,
    use_run,
)
from .allocation_models import AllocationComparison
from .models import AllocationRun


def compare_rules(
    funding_round: FundingRound, completion: str | None, *, actor: User
) -> AllocationComparison:
    """Run every rule on one snapshot of the round; the round's allocation stays as it was."""
    completion = completion_for("equal-shares", completion)
    assert completion is not None
    require_runnable(funding_round)
    instance, profile = build_input(funding_round)
    digest = hashlib.sha256(snapshot_json(instance, profile, "").encode()).hexdigest()
    comparison = AllocationComparison(
        round_id=funding_round.id,
        completion=completion,
        snapshot_sha256=digest,
        created_by_id=actor.id,
    )
    db.session.add(comparison)
    for rule in RULES:
        run = execute(
            funding_round,
            instance,
            profile,
            rule,
            completion if rule == "equal-shares" else None,
            actor=actor,
        )
        comparison.runs.append(run)
    db.session.flush()
    record(
        "allocation.compared",
        f"round:{funding_round.id}",
        community_id=funding_round.community_id,
        actor_id=actor.id,
        comparison=comparison.id,
        completion=completion,
        snapshot_sha256=digest,
        runs={run.rule: run.id for run in comparison.runs},
        selected={
            run.rule: sorted(str(o.project_id) for o in run.outcomes if o.funded)
            for run in comparison.runs
        },
    )
    return comparison


def latest_comparison(funding_round: FundingRound) -> AllocationComparison | None:
    return db.session.scalar(
        select(AllocationComparison)
        .filter_by(round_id=funding_round.id)
        .order_by(AllocationComparison.id.desc())
        .limit(1)
    )


def use_compared_run(funding_round: FundingRound, run_id: int, *, actor: User) -> AllocationRun:
    """The organizer's pick among compared runs becomes the round's allocation."""
    run = db.session.get(AllocationRun, run_id)
    if run is None or run.round_id != funding_round.id or run.comparison_id is None:
        raise ValidationFailed([(None, "Choose one of this round's compared results.")])
    if run.chosen:  # choosing it again would only throw its documents away
        raise ValidationFailed([(None, "This result is already the round's allocation.")])
    use_run(run, actor=actor)
    record(
        "allocation.chosen",
        f"allocation:{run.id}",
        community_id=funding_round.community_id,
        actor_id=actor.id,
        round=funding_round.id,
        rule=run.rule,
        completion=run.completion,
        comparison=run.comparison_id,
        input_sha256=run.input_sha256,
        selected=sorted(str(o.project_id) for o in run.outcomes if o.funded),
    )
    return run


@dataclass(frozen=True)
class RuleColumn:
    """One rule's run and its totals, as the comparison table's column shows them."""

    run: AllocationRun
    label: str
    funded: frozenset[int]
    cost: int
    support: int
    unspent: int
    voters: int
    voters_served: int
    seconds: str

    @property
    def proven(self) -> bool:
        """Max-welfare's answer is only the best when the solver proved it."""
        return self.run.rule != "max-welfare" or self.run.solver_status == "optimal"


@dataclass(frozen=True)
class ProjectRow:
    project_id: int
    title: str
    area: str
    cost: int
    support: int
    funded: tuple[bool, ...]  # one per column

    @property
    def differs(self) -> bool:
        return len(set(self.funded)) > 1


def comparison_table(comparison: AllocationComparison) -> tuple[list[RuleColumn], list[ProjectRow]]:
    """Columns in the order the rules are offered; rows strongest support first."""
    order = list(RULES)
    runs = sorted(comparison.runs, key=lambda r: order.index(r.rule))
    columns = []
    for run in runs:
        funded = frozenset(o.project_id for o in run.outcomes if o.funded)
        label = RULES[run.rule] + (f" ({run.completion})" if run.completion else "")
        columns.append(
            RuleColumn(
                run=run,
                label=label,
                funded=funded,
                cost=run.allocated_cents,
                support=sum(o.support for o in run.outcomes if o.funded),
                unspent=run.available_cents - run.allocated_cents,
                voters=run.voters or 0,
                voters_served=run.voters_served or 0,
                seconds=run.seconds,
            )
        )
    outcomes = runs[0].outcomes if runs else []
    rows = [
        ProjectRow(
            project_id=o.project_id,
            title=o.project.title,
            area=o.project.priority_area.name if o.project.priority_area else "",
            cost=o.project.cost_cents,
            support=o.support,
            funded=tuple(o.project_id in c.funded for c in columns),
        )
        for o in outcomes
    ]
    rows.sort(key=lambda r: (-r.support, r.title))
    return columns, rows
