"""The survey's tallies, their CSV, and the data the results page draws as bar charts.

Measures, per project: ballots naming it (approved, picked, given points or ranked),
points (cumulative: the points given; other ballots: 1 per ballot), Borda score (ranked:
a ballot ranking L projects gives L - 1 - position, so its last choice gets 0). Per
priority area: Borda over the areas (rank r of n areas earns n - r, unranked areas 0),
its share of all such points, and first choices. Participation: member responses
(online and paper) over the eligible members (the roll, or the resident accounts when
there is no roll), by block when the roll has blocks; imported ballots are counted apart.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from dataclasses import dataclass

from sqlalchemy import and_, func, select
from sqlalchemy.orm import aliased

from commonpot.extensions import db
from commonpot.models import BallotType, FundingRound, Membership, Role

from .models import PriorityRanking, ProjectVote, Response, ResponseSource, RollMember

NO_BLOCK = "Not on the roll"


@dataclass(frozen=True)
class ProjectTally:
    id: int
    title: str
    area: str
    cost_cents: int
    ballots: int
    points: int
    borda: int
    first: int  # ranked: ballots with this project first


@dataclass(frozen=True)
class AreaTally:
    id: int
    name: str
    score: int
    first: int
    share: float  # of all area points, 0..1 (shown, never in the CSV)


@dataclass(frozen=True)
class BlockTally:
    block: str
    eligible: int
    responses: int

    @property
    def rate(self) -> float | None:
        return self.responses / self.eligible if self.eligible else None


@dataclass(frozen=True)
class Tally:
    round_id: int
    ballot_type: BallotType
    responses: int
    by_source: dict[str, int]
    eligible: int
    member_responses: int
    blocks: list[BlockTally]
    projects: list[ProjectTally]  # strongest first, by the ballot's own measure
    areas: list[AreaTally]  # strongest first

    @property
    def participation(self) -> float | None:
        return self.member_responses / self.eligible if self.eligible else None

    @property
    def measure(self) -> str:
        """The ProjectTally attribute that ranks projects for this ballot type."""
        return {
            BallotType.CUMULATIVE: "points",
            BallotType.RANKED: "borda",
        }.get(self.ballot_type, "ballots")


def tally(funding_round: FundingRound) -> Tally:
    rid = funding_round.id
    by_source = {s.value: 0 for s in ResponseSource}
    for source, n in db.session.execute(
        select(Response.source, func.count())
        .where(Response.round_id == rid)
        .group_by(Response.source)
    ):
        by_source[ResponseSource(source).value] = n
    responses = sum(by_source.values())

    ballots: Counter[int] = Counter()
    points: Counter[int] = Counter()
    ranked: dict[int, list[tuple[int, int]]] = defaultdict(list)
    rows = db.session.execute(
        select(
            ProjectVote.response_id, ProjectVote.project_id, ProjectVote.points, ProjectVote.rank
        )
        .join(Response)
        .where(Response.round_id == rid)
    )
    for response_id, project_id, given, rank in rows:
        if given > 0:
            ballots[project_id] += 1
            points[project_id] += given
        if rank is not None:
            ranked[response_id].append((rank, project_id))
    borda: Counter[int] = Counter()
    first: Counter[int] = Counter()
    for choices in ranked.values():
        choices.sort()
        length = len(choices)
        for position, (_, project_id) in enumerate(choices):
            borda[project_id] += length - 1 - position
        first[choices[0][1]] += 1

    kind = funding_round.ballot_type
    projects = [
        ProjectTally(
            id=p.id,
            title=p.title,
            area=p.priority_area.name if p.priority_area else "",
            cost_cents=p.cost_cents,
            ballots=ballots[p.id],
            points=points[p.id],
            borda=borda[p.id],
            first=first[p.id],
        )
        for p in funding_round.projects
    ]
    measure = {BallotType.CUMULATIVE: "points", BallotType.RANKED: "borda"}.get(kind, "ballots")
    projects.sort(key=lambda t: (-getattr(t, measure), -t.ballots, t.title))

    areas_n = len(funding_round.priority_areas)
    area_score: Counter[int] = Counter()
    area_first: Counter[int] = Counter()
    for area_id, rank in db.session.execute(
        select(PriorityRanking.priority_area_id, PriorityRanking.rank)
        .join(Response)
        .where(Response.round_id == rid)
    ):
        area_score[area_id] += areas_n - rank
        if rank == 1:
            area_first[area_id] += 1
    total = sum(area_score.values())
    areas = [
        AreaTally(
            id=a.id,
            name=a.name,
            score=area_score[a.id],
            first=area_first[a.id],
            share=area_score[a.id] / total if total else 0.0,
        )
        for a in funding_round.priority_areas
    ]
    areas.sort(key=lambda t: (-t.score, -t.first, t.name))

    eligible, blocks = _participation(funding_round)
    return Tally(
        round_id=rid,
        ballot_type=kind,
        responses=responses,
        by_source=by_source,
        eligible=eligible,
        member_responses=by_source["online"] + by_source["paper"],
        blocks=blocks,
        projects=projects,
        areas=areas,
    )


def _participation(funding_round: FundingRound) -> tuple[int, list[BlockTally]]:
    community_id = funding_round.community_id
    roll = Counter(
        dict(
            db.session.execute(
                select(RollMember.block, func.count())
                .where(RollMember.community_id == community_id)
                .group_by(RollMember.block)
            ).all()
        )
    )
    if not roll:
        residents = db.session.scalar(
            select(func.count(func.distinct(Membership.user_id))).where(
                Membership.community_id == community_id, Membership.role == Role.RESIDENT
            )
        )
        return residents or 0, []
    eligible = sum(roll.values())
    if set(roll) == {""}:
        return eligible, []
    # A paper response names its roll line; an online one the line its account claimed.
    named, claimed = aliased(RollMember), aliased(RollMember)
    answered: Counter[str] = Counter()
    for named_block, claimed_block in db.session.execute(
        select(named.block, claimed.block)
        .select_from(Response)
        .outerjoin(named, Response.member_id == named.id)
        .outerjoin(
            claimed,
            and_(
                Response.member_id.is_(None),
                claimed.user_id == Response.user_id,
                claimed.community_id == community_id,
            ),
        )
        .where(Response.round_id == funding_round.id, Response.source != ResponseSource.IMPORTED)
    ):
        block = named_block if named_block is not None else claimed_block
        answered[NO_BLOCK if block is None else block] += 1
    blocks = [
        BlockTally(block or "(no block)", roll[block], answered[block])
        for block in sorted(roll, key=lambda b: (b == "", b.lower()))
    ]
    if answered[NO_BLOCK]:
        blocks.append(BlockTally(NO_BLOCK, 0, answered[NO_BLOCK]))
    return eligible, blocks


# -- CSV -----------------------------------------------------------------------------

CSV_HEADER = ("section", "id", "name", "measure", "value")


def to_csv(t: Tally) -> str:
    """One figure per line, integers only: section, id, name, measure, value."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(CSV_HEADER)
    w.writerow(("responses", "", "all", "responses", t.responses))
    for source, n in t.by_source.items():
        w.writerow(("responses", "", source, "responses", n))
    w.writerow(("participation", "", "all", "eligible", t.eligible))
    w.writerow(("participation", "", "all", "responses", t.member_responses))
    for b in t.blocks:
        w.writerow(("participation", "", b.block, "eligible", b.eligible))
        w.writerow(("participation", "", b.block, "responses", b.responses))
    for p in t.projects:
        w.writerow(("project", p.id, p.title, "cost_cents", p.cost_cents))
        w.writerow(("project", p.id, p.title, "ballots", p.ballots))
        if t.ballot_type == BallotType.CUMULATIVE:
            w.writerow(("project", p.id, p.title, "points", p.points))
        if t.ballot_type == BallotType.RANKED:
            w.writerow(("project", p.id, p.title, "borda", p.borda))
            w.writerow(("project", p.id, p.title, "first_choices", p.first))
    for a in t.areas:
        w.writerow(("priority_area", a.id, a.name, "borda", a.score))
        w.writerow(("priority_area", a.id, a.name, "first_choices", a.first))
    return out.getvalue()


# -- charts --------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    label: str
    value: str  # as shown
    width: float  # percent of the chart's width, 0..100


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    bars: list[Bar]

    @property
    def description(self) -> str:
        """What a screen reader says for the whole chart (the table beside it has it all)."""
        return f"{self.title}: " + "; ".join(f"{b.label} {b.value}" for b in self.bars)


def _bars(items: list[tuple[str, float, str]]) -> list[Bar]:
    top = max((v for _, v, _ in items), default=0) or 1
    return [Bar(label, shown, round(100 * value / top, 1)) for label, value, shown in items]


def charts(t: Tally) -> dict[str, Chart]:
    measure = t.measure
    project_title = {
        "ballots": "Approvals" if t.ballot_type == BallotType.APPROVAL else "Ballots choosing it",
        "points": "Points",
        "borda": "Borda score",
    }[measure]
    found = {
        "projects": Chart(
            "chart-projects",
            project_title,
            _bars([(p.title, getattr(p, measure), str(getattr(p, measure))) for p in t.projects]),
        ),
        "areas": Chart(
            "chart-areas",
            "Share of priority points",
            _bars([(a.name, a.share, f"{100 * a.share:.1f}%") for a in t.areas]),
        ),
    }
    if t.blocks:
        found["blocks"] = Chart(
            "chart-blocks",
            "Participation by block",
            [
                Bar(
                    b.block,
                    f"{100 * b.rate:.0f}%" if b.rate is not None else str(b.responses),
                    min(100.0, round(100 * b.rate, 1)) if b.rate is not None else 0.0,
                )
                for b in t.blocks
            ],
        )
    return found
