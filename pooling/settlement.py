"""After approval: which pledge's and which grant's money pays for which funded project.

The funding plan says how many cents each *source* puts into each project. A source of
residents' money is several pledges; each pays the same fraction of what its source gave
(largest remainder, ties to the earlier pledge), and each pledge's share is spread over
the source's projects in id order. Exact integers, so the same run always settles the
same way.
"""

from __future__ import annotations

from collections import defaultdict

from .models import AllocationRun, Pledge


def apportion(total: int, weights: list[tuple[int, int]]) -> dict[int, int]:
    """Split `total` cents over (key, weight) pairs in proportion, exactly.

    Largest remainder; ties go to the smaller key. Every share is <= its weight when
    total <= sum of weights.
    """
    whole = sum(weight for _, weight in weights)
    if whole == 0 or total == 0:
        return {key: 0 for key, _ in weights}
    shares = {key: total * weight // whole for key, weight in weights}
    remainders = sorted(weights, key=lambda kw: (-(total * kw[1] % whole), kw[0]))
    for key, _ in remainders[: total - sum(shares.values())]:
        shares[key] += 1
    return shares


def pledge_allocations(
    run: AllocationRun, groups: dict[str, list[Pledge]]
) -> dict[int, dict[int, int]]:
    """{pledge id: {project id: cents}} for every pledge whose source the plan used."""
    by_source: dict[str, dict[int, int]] = defaultdict(dict)
    for line in run.lines:
        if line.source in groups:
            per_project = by_source[line.source]
            per_project[line.project_id] = per_project.get(line.project_id, 0) + line.cents
    out: dict[int, dict[int, int]] = {}
    for source, per_project in by_source.items():
        members = groups[source]
        used = apportion(sum(per_project.values()), [(p.id, p.amount_cents) for p in members])
        # North-west corner: pledges in id order fill projects in id order.
        projects = sorted(per_project.items())
        index, left = 0, projects[0][1] if projects else 0
        for pledge in sorted(members, key=lambda p: p.id):
            due = used[pledge.id]
            while due > 0:
                take = min(due, left)
                if take:
                    slot = out.setdefault(pledge.id, {})
                    slot[projects[index][0]] = slot.get(projects[index][0], 0) + take
                due, left = due - take, left - take
                if left == 0 and index + 1 < len(projects):
                    index += 1
                    left = projects[index][1]
    return out


def grant_allocations(run: AllocationRun) -> dict[int, dict[int, int]]:
    """{grant id: {project id: cents}} from the plan."""
    out: dict[int, dict[int, int]] = {}
    for line in run.lines:
        if line.grant_id is not None:
            slot = out.setdefault(line.grant_id, {})
            slot[line.project_id] = slot.get(line.project_id, 0) + line.cents
    return out
