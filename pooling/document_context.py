"""Plain values for the PDF templates: the allocation report and each project's term sheet.

No ORM object reaches WeasyPrint. Money by instrument comes from the same arithmetic that
settles the round at approval (`settlement.pledge_allocations` over the counting pledges),
so what a term sheet says each instrument gives a project is what settlement will take.
Residents are never named: only counts and sums leave this module (the project lead and
the board, who sign, are named).
"""

from __future__ import annotations

import json
from collections import defaultdict

from markupsafe import Markup
from sqlalchemy import select

from commonpot import __version__
from commonpot.extensions import db
from commonpot.models import (
    BallotType,
    Community,
    FundingRound,
    Membership,
    Project,
    Role,
    User,
    utcnow,
)
from commonpot.money import format_cents
from surveys.results import tally
from surveys.services import priority_scores, response_count

from . import charts
from .allocation import plan_table
from .grants import grant_restriction
from .hours import hours_by_project
from .models import AllocationRun, Grant
from .pledge_tallies import pledge_totals
from .project_money import (
    RunMoney,
    instrument_breakdown,
    money_in,
    project_finance,
    project_targets,
    run_money,
    tranches,
)

__all__ = ["board_of", "document_context", "term_sheet_context"]

SUPPORT_UNITS = {
    BallotType.APPROVAL: "approvals",
    BallotType.KNAPSACK: "ballots choosing it",
    BallotType.CUMULATIVE: "points",
    BallotType.RANKED: "Borda points",
}


def board_of(community: Community) -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .join(Membership)
            .where(Membership.community_id == community.id, Membership.role == Role.BOARD)
            .order_by(User.name)
        )
    )


def _sources_of(row: dict, grants: dict[int, Grant]) -> list[dict]:
    """How the allocation drew the project's money: earmarks, the common pot, each grant."""
    drawn = [("Earmarked pledges", "earmark", row["earmark"]), ("Common pot", "pool", row["pool"])]
    drawn += [(grants[gid].name, "grant", cents) for gid, cents in sorted(row["grants"].items())]
    return [{"label": label, "kind": kind, "cents": cents} for label, kind, cents in drawn if cents]


def _area(project: Project) -> str:
    return project.priority_area.name if project.priority_area else ""


def _funded_project(row: dict, money_: RunMoney, extra: dict, currency: str) -> dict:
    project: Project = row["project"]
    finance = project_finance(money_, project, currency)
    return {
        "id": project.id,
        "title": project.title,
        "category": _area(project),
        "cost_cents": project.cost_cents,
        "support": row["support"],
        "funded_cents": row["total"],
        "sources": _sources_of(row, money_.grants),
        "description": project.description,
        "lead": project.lead_display or None,
        "lead_id": project.lead_id,
        "explanation": row["reason"],
        "finance": finance,
        "by_instrument": instrument_breakdown(finance),
        "targets": project_targets(project, row["total"], extra["earmarked"].get(project.id, 0)),
        "hours_offered": extra["hours"].get(project.id, 0),
    }


def _unfunded_project(row: dict) -> dict:
    project: Project = row["project"]
    return {
        "id": project.id,
        "title": project.title,
        "category": _area(project),
        "cost_cents": project.cost_cents,
        "support": row["support"],
        "reason": row["reason"],
    }


# -- the report's sections ---------------------------------------------------------------


def _source_list(money_: RunMoney, table: dict, currency: str) -> list[dict]:
    """The optimizer's sources as the run saw them: the pot, all earmarks, each grant."""
    earmarks = sum(
        cents for key, cents in money_.available.items() if key.startswith(("earmark:", "pledge:"))
    )
    sources = [
        {
            "id": "pool",
            "label": "Common pot (residents' pledges)",
            "kind": "pool",
            "amount_cents": money_.available.get("pool", 0),
            "used_cents": table["pool_used"],
            "restriction": "",
        },
        {
            "id": "earmark",
            "label": "Pledges earmarked to projects or areas",
            "kind": "earmark",
            "amount_cents": earmarks,
            "used_cents": table["earmark_used"],
            "restriction": "Each pledge only for its project, its area or its listed projects",
        },
    ]
    return sources + [
        {
            "id": f"grant:{g.id}",
            "label": f"{g.name} ({g.funder})" if g.funder else g.name,
            "kind": "grant",
            "amount_cents": g.amount_cents,
            "used_cents": table["used_by_grant"][g.id],
            "restriction": grant_restriction(g, currency),
        }
        for g in table["grants"]
    ]


def _node(key: str, label: str, cents: int, currency: str) -> charts.Node:
    return charts.Node(key, label, cents, format_cents(cents, currency))


def flow_chart(funded: list[dict], flows_in: dict, currency: str) -> Markup:
    """Counted money by instrument and grant (left) to funded projects (right)."""
    sources = [
        _node(row["label"], row["label"], row["counted"], currency)
        for row in flows_in["rows"]
        if row["counted"]
    ] + [
        _node(f"grant:{g['id']}", f"Grant: {g['label']}", g["counted"], currency)
        for g in flows_in["grants"]
        if g["counted"]
    ]
    targets = [_node(str(p["id"]), p["title"], p["funded_cents"], currency) for p in funded]
    left_over = flows_in["total"]["counted"] - flows_in["total"]["allocated"]
    if left_over > 0:
        targets.append(_node("unused", "Not allocated", left_over, currency))
    return charts.flow_chart(
        sources, targets, _flows(funded, flows_in), title="Where the money goes"
    )


def _flows(funded: list[dict], flows_in: dict) -> list[charts.Flow]:
    flows = []
    keys = {"donations": "Donations", "shares": "Member shares", "loans": "Community loans"}
    for p in funded:
        for key, label in keys.items():
            flows.append(charts.Flow(label, str(p["id"]), p["finance"][key]["cents"]))
        for g in p["finance"]["grants"]:
            flows.append(charts.Flow(f"grant:{g['id']}", str(p["id"]), g["cents"]))
    for row in flows_in["rows"]:
        flows.append(charts.Flow(row["label"], "unused", row["counted"] - row["allocated"]))
    for g in flows_in["grants"]:
        flows.append(charts.Flow(f"grant:{g['id']}", "unused", g["counted"] - g["allocated"]))
    return flows


def priorities(r: FundingRound, funded: list[dict]) -> list[dict]:
    """Each area's share of the priority points and of the money allocated."""
    scores = priority_scores(r)
    points = sum(scores.values()) or 1
    allocated = sum(p["funded_cents"] for p in funded) or 1
    money_by_area: dict[str, int] = defaultdict(int)
    for p in funded:
        money_by_area[p["category"]] += p["funded_cents"]
    return [
        {
            "name": a.name,
            "score": scores[a.id],
            "share": scores[a.id] / points,
            "funded_cents": money_by_area.get(a.name, 0),
            "money_share": money_by_area.get(a.name, 0) / allocated,
        }
        for a in sorted(r.priority_areas, key=lambda a: (-scores[a.id], a.name))
    ]


def priority_chart(areas: list[dict]) -> Markup:
    return charts.paired_bar_chart(
        [
            (
                a["name"],
                charts.Bar("points", a["share"], f"{100 * a['share']:.1f}% of priority points"),
                charts.Bar("money", a["money_share"], f"{100 * a['money_share']:.1f}% of money"),
            )
            for a in areas
        ],
        title="Priority areas: share of points and of money allocated",
    )


def participation(r: FundingRound, money_: RunMoney) -> dict:
    t = tally(r)
    hours = hours_by_project(r)
    counted = list(money_.pledges.values())
    return {
        "members": t.eligible,
        "responses": response_count(r),
        "member_responses": t.member_responses,
        "by_source": {source: n for source, n in t.by_source.items() if n},
        "rate": t.participation,
        "pledgers": len({p.user_id for p in counted}),
        "pledges": len(counted),
        "pledged_cents": sum(p.amount_cents for p in counted),
        "median_cents": _median([p.amount_cents for p in counted]),
        "hours": sum(hours.values()),
        "blocks": [
            {"block": b.block, "eligible": b.eligible, "responses": b.responses, "rate": b.rate}
            for b in t.blocks
        ],
    }


def _median(values: list[int]) -> int:
    if not values:
        return 0
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) // 2


def block_chart(blocks: list[dict]) -> Markup | None:
    if not blocks:
        return None
    return charts.bar_chart(
        [
            charts.Bar(
                b["block"],
                b["rate"] or 0.0,
                f"{100 * b['rate']:.0f}% ({b['responses']} of {b['eligible']})"
                if b["rate"] is not None
                else f"{b['responses']} responses",
            )
            for b in blocks
        ],
        title="Participation by block",
    )


def _round_dict(r: FundingRound) -> dict:
    return {
        "id": r.id,
        "title": r.title,
        "status": r.status.value,
        "description": r.description,
        "opens_at": r.opened_at or r.opens_at,
        "closes_at": r.closed_at or r.closes_at,
        "support_unit": SUPPORT_UNITS.get(r.ballot_type, "support"),
    }


def constraints_of(instance: dict, r: FundingRound) -> list[str]:
    """The selection constraints in the run's input snapshot, in words (names, not ids).

    Read generically from the snapshot's keys, so whatever constraints a round sets show
    here once the app sets them: area shares, dependencies, incompatible groups, a
    minimum support.
    """
    areas = {str(a.id): a.name for a in r.priority_areas}
    titles = {str(p.id): p.title for p in r.projects}
    out = []
    for share in instance.get("area_shares") or ():
        area = areas.get(str(share.get("category")), str(share.get("category")))
        bounds = [
            f"{word} {share[key] / 100:.2f}%"
            for word, key in (("at least", "min_bps"), ("at most", "max_bps"))
            if share.get(key) is not None
        ]
        out.append(f"{area}: {' and '.join(bounds)} of the money funded")
    for pair in instance.get("dependencies") or ():
        later, first = (titles.get(str(p), str(p)) for p in pair)
        out.append(f"“{later}” only if “{first}” is funded")
    for group in instance.get("incompatible") or ():
        names = ", ".join(f"“{titles.get(str(p), str(p))}”" for p in group)
        out.append(f"At most one of {names}")
    if instance.get("min_support"):
        out.append(f"Only projects with a support of at least {instance['min_support']}")
    return out


def _allocation_dict(run: AllocationRun) -> dict:
    snapshot = json.loads(run.snapshot)
    options = snapshot.get("options") or {}
    return {
        "options": [f"{key}: {value}" for key, value in sorted(options.items())],
        "constraints": constraints_of(snapshot.get("instance") or {}, run.round),
        "rule": run.rule,
        "status": run.solver_status,
        "input_sha256": run.input_sha256,
        "created_at": run.created_at,
        "available_cents": run.available_cents,
        "allocated_cents": run.allocated_cents,
        "software_version": __version__,
    }


def document_context(run: AllocationRun) -> dict:
    """Plain values for the report; term sheets add their project (`term_sheet_context`)."""
    r, community = run.round, run.round.community
    currency = community.currency
    table = plan_table(run)
    money_ = run_money(run)
    extra = {"earmarked": pledge_totals(r)[1], "hours": hours_by_project(r)}
    funded = [_funded_project(row, money_, extra, currency) for row in table["funded"]]
    flows_in = money_in(r, money_)
    areas = priorities(r, funded)
    people = participation(r, money_)
    return {
        "community": {
            "name": community.name,
            "slug": community.slug,
            "currency": currency,
            "timezone": community.timezone,
        },
        "round": _round_dict(r),
        "allocation": _allocation_dict(run),
        "sources": _source_list(money_, table, currency),
        "funded": funded,
        "unfunded": [_unfunded_project(row) for row in table["unfunded"]],
        "money_in": flows_in,
        "priorities": areas,
        "participation": people,
        "charts": {
            "flow": flow_chart(funded, flows_in, currency),
            "priorities": priority_chart(areas) if areas else None,
            "blocks": block_chart(people["blocks"]),
        },
        "signatories": [{"name": u.name, "role": "Board member"} for u in board_of(community)],
        "quorum": community.quorum,
        "generated_at": utcnow(),
    }


def _area_standing(priorities: list[dict], name: str) -> dict | None:
    """Where the project's priority area came in the members' ranking."""
    for rank, area in enumerate(priorities, 1):
        if area["name"] == name:
            return {"name": name, "rank": rank, "of": len(priorities), "share": area["share"]}
    return None


def term_sheet_context(context: dict, project: dict) -> dict:
    """The report's context narrowed to one funded project (its term sheet)."""
    return {
        **context,
        "project": project,
        "funded_cents": project["funded_cents"],
        "sources": project["sources"],
        "finance": project["finance"],
        "area": _area_standing(context["priorities"], project["category"]),
        "tranches": tranches(project["funded_cents"]),
        "ballots": context["participation"]["responses"],
    }
