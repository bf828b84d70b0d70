"""Greedy by support: the rule most cities use, and the easiest to explain to a neighbour.

Projects are taken in decreasing support (ties: project id as a string, ascending); each
one is added when it can still be funded in full together with those already added.
Projects nobody supports are considered too, as in pabutools. With a matching grant the
exact integer model replaces the max-flow as the test of "can still be funded".

Constraints (`optimizer.constraints`): a project is refused when its turn comes if it is
below the support threshold, needs more volunteer hours than were offered, depends on a
project not selected by then (a prerequisite ranked lower is not pulled forward: the
dependent project is lost even when the prerequisite is funded later), is incompatible
with a project already selected, or would take its area over its maximum share of all
the money available. Minimum area shares are not guaranteed: greedy selects by support
alone, and when an area ends below its minimum share of the money funded the result's
`notes` and the explanations of that area's unfunded projects say so.
"""

from __future__ import annotations

import time

from .canonical import fingerprint
from .constraints import Block, Guard, note_unmet_minimums, share_notes
from .funding import fund
from .matching import funding_for, matching_note, unmatched
from .model import (
    Explanation,
    Instance,
    MoneyFormat,
    Profile,
    Result,
    format_cents,
    support,
)
from .payers import with_payers
from .solver import SolverError

RULE = "greedy"
# Greedy is not an optimisation: it either runs to the end or fails. Never "optimal".
COMPLETE = "complete"


def below_threshold(project: str, score: int, minimum: int) -> Explanation:
    """Shared wording for Pabulib's min_project_score_threshold."""
    text = f"Its support of {score} is below the minimum of {minimum} needed to be funded."
    numbers = {"support": score, "min_support": minimum}
    return Explanation(project, False, "below_threshold", text, numbers)


def no_eligible_source(project: str, cost: int, money: MoneyFormat) -> Explanation:
    """Shared wording for a project no source may (or can) pay for."""
    text = f"No source eligible for this project has money (it needs {money(cost)})."
    return Explanation(project, False, "no_eligible_source", text, {"cost": cost})


def zero_cost(project: str, score: int) -> Explanation:
    """Shared wording for a free project."""
    text = "It costs nothing, so it is selected without using any money."
    return Explanation(project, True, "zero_cost", text, {"support": score, "cost": 0})


def greedy(instance: Instance, profile: Profile, *, money: MoneyFormat = format_cents) -> Result:
    """Run greedy-by-support; `money` formats cents in the explanation texts."""
    start = time.perf_counter()
    scores = support(instance, profile)
    order = sorted(instance.projects, key=lambda p: (-scores[p.id], p.id))
    flow = funding_for(instance)
    guard = Guard(instance)
    blocked: dict[str, tuple[Block, str]] = {}
    explanations: list[Explanation] = []
    minimum = instance.min_support
    for rank, project in enumerate(order, start=1):
        score = scores[project.id]
        where = f"rank {rank} of {len(order)} by support"
        numbers = {"support": score, "cost": project.cost, "rank": rank, "of": len(order)}
        if minimum is not None and score < minimum:
            explanations.append(below_threshold(project.id, score, minimum))
            continue
        block = guard.check(project)
        if block is not None:
            blocked[project.id] = (block, where)
            continue
        if project.cost == 0:
            flow.try_add(project.id)
            guard.add(project)
            explanations.append(zero_cost(project.id, score))
            continue
        if not any(s.limit(project) > 0 for s in instance.sources):
            explanations.append(no_eligible_source(project.id, project.cost, money))
            continue
        got = flow.try_add(project.id)
        if got == project.cost:
            guard.add(project)
            text = f"Funded in full ({money(project.cost)}) when its turn came ({where})."
            explanations.append(Explanation(project.id, True, "funded", text, numbers))
        else:
            text = (
                f"Needed {money(project.cost)}; only {money(got)} could still be raised "
                f"from eligible sources when its turn came ({where})."
            )
            numbers["raisable"] = got
            without = unmatched(instance, flow.funded, project, got, flow)  # unchanged: refused
            if without is not None:
                text += " " + matching_note(instance, project, without, money)
                numbers["raisable_without_matching"] = without
            explanations.append(Explanation(project.id, False, "insufficient_funds", text, numbers))
    by_id = {p.id: p for p in instance.projects}
    for project_id, (block, where) in blocked.items():
        explanation = guard.explain(by_id[project_id], block, flow.funded, where, money)
        explanations.append(explanation)
    notes = share_notes(instance, flow.funded, RULE, money)
    explanations = note_unmet_minimums(instance, explanations, notes)
    selected = tuple(sorted(flow.funded))
    plan = fund(instance, selected)
    if plan is None:  # the flow said it fits; the funding model must agree
        raise SolverError("greedy selection could not be funded")
    return Result(
        rule=RULE,
        selected=selected,
        plan=plan,
        cost=sum(p.cost for p in instance.projects if p.id in flow.funded),
        objective=sum(scores[p] for p in selected),
        status=COMPLETE,
        explanations=tuple(
            sorted(with_payers(instance, explanations, plan, money), key=lambda e: e.project)
        ),
        input_sha256=fingerprint(instance, profile, RULE, {}),
        options={},
        seconds=time.perf_counter() - start,
        notes=tuple(n.text for n in notes),
    )
