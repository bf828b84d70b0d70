"""Pabulib import and export of a round: a real city's vote in, any round's ballots out.

Import turns a parsed `optimizer.Election` into a CLOSED round of the community: its
priority areas (the file's categories), projects and one anonymous `Response`
(source=imported, no user, no roll member, voter_label = the file's voter id) per voter.
Tens of thousands of ballots go straight to the driver (COPY on PostgreSQL, executemany
on SQLite; no ORM object and no audit event per row), so a city-wide file loads in
seconds; one `round.imported` audit event records the file's SHA-256 and counts. The
caller owns the transaction: it commits once, or rolls back and nothing of the round
remains.

Export writes any round (online, paper and imported responses alike) back as an
`Election` that `optimizer.pabulib_writer.write_pabulib` turns into a file.

Decisions:
- Project ids in an exported file are the app's project ids, not the ids of an imported
  file: the schema keeps no Pabulib id, and every round, imported or not, exports the same
  way. Imported projects are created in the file's order, so the n-th project of the file
  is the n-th project of the export (both in ascending id order); a round trip compares
  projects by that position, name and cost.
- Voter ids in an exported file are always pseudonymous, also for imported ballots (their
  original label stays in the database, never in an export): the first 16 hex digits of
  HMAC-SHA256(SECRET_KEY, "pabulib-voter:<round id>:<response id>"), and ballots are
  written sorted by that id, so neither the ids nor the order reveal who voted or when.
- A project name longer than the title column (200) is cut to 199 characters plus "…"
  and kept whole as the project's description; export writes the whole name back.
- META keys of an imported file that describe the election (country, unit, instance...)
  are kept in the `round.imported` audit event, and export writes them back from there.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

from sqlalchemy import String, Table, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY

from commonpot.audit import AuditEvent, record
from commonpot.codes import ALPHABET, receipt_code
from commonpot.errors import DomainError
from commonpot.extensions import db
from commonpot.models import (
    BallotType,
    Community,
    FundingRound,
    PriorityArea,
    Project,
    RoundStatus,
    User,
    utcnow,
)
from optimizer import Ballot, Election, PabulibError, Profile, read_pabulib
from optimizer import Project as PbProject
from optimizer.model import PROFILE_ALIASES
from optimizer.pabulib_writer import write_pabulib

from .models import ProjectVote, Response, ResponseSource

TITLE_MAX = 200  # Project.title and FundingRound.title
AREA_MAX = 120  # PriorityArea.name
LABEL_MAX = 80  # Response.voter_label
CHUNK = 10_000  # rows per INSERT call
# META keys that describe the election itself; kept on import, written back on export.
KEPT_META = (
    "country",
    "unit",
    "district",
    "subunit",
    "instance",
    "language",
    "currency",
    "date_begin",
    "date_end",
    "edition",
    "vote_type",
)
_DATE_FORMATS = ("%d.%m.%Y", "%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y")


class ImportRefused(DomainError):
    """A file that reads as Pabulib but cannot become a round (say, a free project)."""


@dataclass(frozen=True)
class Imported:
    round: FundingRound
    projects: int
    ballots: int
    votes: int


def _cut(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _date(text: str | None) -> datetime | None:
    """A META date ("02.10.2023", "2023-10-02") as midnight UTC; None when vague ("2020")."""
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime((text or "").strip(), fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def _positive_int(text: str | None) -> int | None:
    try:
        value = int((text or "").strip())
    except ValueError:
        return None
    return value if value >= 1 else None


def _area_names(election: Election) -> tuple[list[str], dict[str, str]]:
    """Priority areas to create and each project's area: its first category, else General."""
    names: dict[str, str] = {}  # lower-cased -> as first written
    of_project: dict[str, str] = {}
    for project in election.projects:
        first = (project.category or "").split(",")[0]
        name = _cut(first, AREA_MAX) or "General"
        of_project[project.id] = names.setdefault(name.lower(), name)
    areas = list(names.values())
    if len(areas) < 2:  # a round has at least two priority areas (as create_round requires)
        areas.append("General" if areas[0].lower() == "other" else "Other")
    return areas, of_project


def _settings(election: Election) -> dict[str, Any]:
    """The round's ballot type and settings from the file's vote_type and META."""
    meta, ballots = election.meta, election.profile.ballots
    vote_type = meta.get("vote_type", "").lower()
    kind = PROFILE_ALIASES.get(vote_type, vote_type)
    longest = max((len(b.projects) for b in ballots), default=0)
    if vote_type == "choose-1":
        return {"ballot_type": BallotType.APPROVAL, "max_approvals": 1}
    if kind == "approval":
        most = _positive_int(meta.get("max_length"))
        least = _positive_int(meta.get("min_length"))
        if most is not None and least is not None and least > most:
            least = None
        return {"ballot_type": BallotType.APPROVAL, "max_approvals": most, "min_approvals": least}
    if kind == "cumulative":
        largest = max((sum(b.points or ()) for b in ballots), default=0)
        total = _positive_int(meta.get("max_sum_points")) or (largest if largest >= 1 else None)
        return {
            "ballot_type": BallotType.CUMULATIVE,
            "points_total": total,
            "points_exact": False,
            "points_cap": _positive_int(meta.get("max_points")),
        }
    return {
        "ballot_type": BallotType.RANKED,
        "rank_limit": _positive_int(meta.get("max_length")) or (longest or None),
    }


def _check(election: Election) -> None:
    for project in election.projects:
        if project.cost <= 0:
            raise ImportRefused(f"project {project.id!r} costs nothing; every project needs a cost")
    for ballot in election.profile.ballots:
        if len(ballot.voter) > LABEL_MAX:
            raise ImportRefused(f"voter id {ballot.voter[:20]!r}... is over {LABEL_MAX} characters")
        if any(p < 0 for p in ballot.points or ()):
            raise ImportRefused(f"voter {ballot.voter!r} gives negative points")


# receipt_code()'s alphabet has 32 letters: one random byte's low 5 bits pick one uniformly.
_CODE_TABLE = bytes(ord(ALPHABET[b % len(ALPHABET)]) for b in range(256))
assert len(ALPHABET) == 32
CODE_LENGTH = len(receipt_code())


def _random_codes(count: int) -> list[str]:
    """`count` codes exactly like `receipt_code()` (same alphabet, length and randomness),
    made in one call to the OS's random source: 70,000 of them one by one take seconds."""
    letters = secrets.token_bytes(count * CODE_LENGTH).translate(_CODE_TABLE).decode()
    return [letters[i : i + CODE_LENGTH] for i in range(0, len(letters), CODE_LENGTH)]


def _stored_codes(codes: list[str]) -> set[str]:
    """Which of these codes a stored response already has."""
    column = Response.receipt_code
    if db.session.get_bind().dialect.name == "postgresql":  # one array, not 70,000 params
        wanted = bindparam("codes", value=codes, type_=ARRAY(String))
        return set(db.session.scalars(select(column).where(column == any_(wanted))))
    taken: set[str] = set()
    for start in range(0, len(codes), 5_000):
        taken.update(
            db.session.scalars(select(column).where(column.in_(codes[start : start + 5_000])))
        )
    return taken


def unique_receipt_codes(count: int) -> list[str]:
    """`count` fresh receipt codes, distinct from each other and from every stored one."""
    codes: set[str] = set()
    while True:
        while len(codes) < count:
            codes.update(_random_codes(count - len(codes)))
        taken = _stored_codes(list(codes))
        if not taken:
            return list(codes)
        codes -= taken


def _chunks(rows: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _bulk_insert(table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    """Rows straight to the driver, inside the session's transaction.

    PostgreSQL gets them through COPY, SQLite through executemany in chunks. Each column's
    bind processing (UTC datetimes, enums) still applies, but not SQLAlchemy's per-row
    statement machinery, which costs more than the database's own work here: 70,000
    responses and 270,000 votes go in within seconds on both.
    """
    connection = db.session.connection()
    dialect = connection.dialect
    processors = [table.c[c].type.dialect_impl(dialect).bind_processor(dialect) for c in columns]
    if any(processors):
        rows = [
            tuple(v if p is None else p(v) for p, v in zip(processors, row, strict=True))
            for row in rows
        ]
    if dialect.name == "postgresql":
        driver = connection.connection.driver_connection
        assert driver is not None
        with driver.cursor() as cursor:
            with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "
        f"VALUES ({', '.join(['?'] * len(columns))})"
    )
    for chunk in _chunks(rows):
        connection.exec_driver_sql(sql, list(chunk))


def _insert_responses(round_id: int, ballots: Sequence[Ballot]) -> list[int]:
    """One imported response per ballot; their ids, in the ballots' order.

    Plain multi-row INSERTs, then one SELECT of (receipt code, id): the codes are unique, so
    they tie each id to its ballot without relying on RETURNING's row order (which SQLite
    does not promise).
    """
    now = utcnow()
    codes = unique_receipt_codes(len(ballots))
    columns = ("round_id", "source", "voter_label", "receipt_code", "created_at", "updated_at")
    source = ResponseSource.IMPORTED
    rows = [
        (round_id, source, ballot.voter, code, now, now)
        for ballot, code in zip(ballots, codes, strict=True)
    ]
    _bulk_insert(Response.__table__, columns, rows)
    id_of = dict(
        db.session.execute(
            select(Response.receipt_code, Response.id).where(Response.round_id == round_id)
        ).all()
    )
    return [id_of[code] for code in codes]


def _insert_votes(rows: list[tuple[int, int, int, int | None]]) -> None:
    """(response id, project id, points, rank) rows."""
    columns = ("response_id", "project_id", "points", "rank")
    _bulk_insert(ProjectVote.__table__, columns, rows)


def read_file(data: bytes) -> Election:
    """read_pabulib, refusing first what no database text can hold (a NUL character)."""
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise PabulibError(line, "a NUL character (save the file as UTF-8 text)")
    return read_pabulib(data)


def import_election(
    community: Community,
    election: Election,
    *,
    source_name: str,
    sha256: str,
    actor: User | None = None,
) -> Imported:
    """Create a closed round holding the election's projects and ballots (not committed)."""
    _check(election)
    meta = election.meta
    areas, area_of = _area_names(election)
    place = ", ".join(
        f"{key} {meta[key]}" for key in ("country", "unit", "instance") if meta.get(key)
    )
    description = f"Imported from the Pabulib file {source_name}" + (
        f" ({place})." if place else "."
    )
    settings = _settings(election)
    funding_round = FundingRound(
        community=community,
        title=_cut(meta.get("description", ""), TITLE_MAX) or _cut(source_name, TITLE_MAX),
        description=description,
        status=RoundStatus.CLOSED,  # imported data is final: no draft/open life to go through
        budget_cents=election.budget_cents or None,
        opened_at=_date(meta.get("date_begin")),
        closed_at=_end_of_day(_date(meta.get("date_end"))),
        **settings,
    )
    funding_round.priority_areas = [PriorityArea(name=n, position=i) for i, n in enumerate(areas)]
    db.session.add(funding_round)
    db.session.flush()
    area_ids = {a.name: a.id for a in funding_round.priority_areas}

    project_ids: dict[str, int] = {}
    for project in election.projects:  # a few dozen rows, in the file's order
        name = election.names.get(project.id, "").strip() or f"Project {project.id}"
        title = _cut(name, TITLE_MAX)
        row = Project(
            round_id=funding_round.id,
            title=title,
            description=name if title != name else "",
            cost_cents=project.cost,
            priority_area_id=area_ids[area_of[project.id]],
        )
        db.session.add(row)
        db.session.flush()
        project_ids[project.id] = row.id

    ballots = election.profile.ballots
    response_ids = _insert_responses(funding_round.id, ballots)
    ranked = settings["ballot_type"] == BallotType.RANKED
    votes: list[tuple[int, int, int, int | None]] = []
    for response_id, ballot in zip(response_ids, ballots, strict=True):
        for position, project_id in enumerate(ballot.projects):
            votes.append(
                (
                    response_id,
                    project_ids[project_id],
                    ballot.points[position] if ballot.points is not None else 1,
                    position + 1 if ranked else None,
                )
            )
    _insert_votes(votes)
    record(
        "round.imported",
        f"round:{funding_round.id}",
        community_id=community.id,
        actor_id=actor.id if actor else None,
        file=source_name,
        sha256=sha256,
        projects=len(project_ids),
        ballots=len(ballots),
        votes=len(votes),
        ballot_type=settings["ballot_type"].value,
        meta={key: meta[key] for key in KEPT_META if meta.get(key)},
    )
    # The bulk inserts went around the ORM: let the round's collections load afresh.
    db.session.expire(funding_round, ["projects", "priority_areas"])
    return Imported(funding_round, len(project_ids), len(ballots), len(votes))


def _end_of_day(day: datetime | None) -> datetime | None:
    return None if day is None else datetime.combine(day.date(), time(23, 59, 59), tzinfo=UTC)


# --- export ------------------------------------------------------------------------------


def _imported_meta(funding_round: FundingRound) -> dict[str, str]:
    data = db.session.scalar(
        select(AuditEvent.data)
        .where(AuditEvent.action == "round.imported")
        .where(AuditEvent.subject == f"round:{funding_round.id}")
        .order_by(AuditEvent.seq.desc().nulls_first(), AuditEvent.id.desc())
        .limit(1)
    )
    return dict(json.loads(data).get("meta", {})) if data else {}


def export_name(project: Project) -> str:
    """The project's whole name: the title, or the description it was cut from on import."""
    title, whole = project.title, project.description
    if title.endswith("…") and len(whole) > len(title) and whole.startswith(title[:-1]):
        return project.description
    return project.title


def pseudonym(secret_key: str | bytes, round_id: int, response_id: int) -> str:
    key = secret_key.encode() if isinstance(secret_key, str) else secret_key
    message = f"pabulib-voter:{round_id}:{response_id}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:16]


def _meta(funding_round: FundingRound) -> dict[str, str]:
    kept = _imported_meta(funding_round)
    meta: dict[str, str] = {"description": funding_round.title}
    if kept:
        meta.update(kept)
    else:
        meta["unit"] = funding_round.community.name
        meta["instance"] = str(funding_round.id)
        meta["currency"] = funding_round.community.currency
        if funding_round.opened_at:
            meta["date_begin"] = funding_round.opened_at.strftime("%d.%m.%Y")
        if funding_round.closed_at:
            meta["date_end"] = funding_round.closed_at.strftime("%d.%m.%Y")
    r = funding_round
    if r.ballot_type in (BallotType.APPROVAL, BallotType.KNAPSACK):
        if r.max_approvals == 1:
            meta["vote_type"] = "choose-1"
        elif meta.get("vote_type") != "approval":
            meta.pop("vote_type", None)
        if r.min_approvals:
            meta["min_length"] = str(r.min_approvals)
        if r.max_approvals:
            meta["max_length"] = str(r.max_approvals)
    elif r.ballot_type == BallotType.CUMULATIVE:
        if r.points_total:
            meta["max_sum_points"] = str(r.points_total)
        if r.points_cap:
            meta["max_points"] = str(r.points_cap)
    elif r.rank_limit:
        meta["max_length"] = str(r.rank_limit)
    meta["comment"] = (
        f"Exported by commonpot from round {r.id}; voter ids are pseudonymous and project "
        "ids are commonpot's."
    )
    return meta


def round_election(funding_round: FundingRound, *, secret_key: str | bytes) -> Election:
    """Every response of the round (online, paper, imported) as a Pabulib election."""
    kind = {
        BallotType.APPROVAL: "approval",
        BallotType.KNAPSACK: "approval",
        BallotType.CUMULATIVE: "cumulative",
        BallotType.RANKED: "ordinal",
    }[funding_round.ballot_type]
    projects = db.session.scalars(
        select(Project).where(Project.round_id == funding_round.id).order_by(Project.id)
    ).all()
    areas = {
        a.id: a.name
        for a in db.session.scalars(
            select(PriorityArea).where(PriorityArea.round_id == funding_round.id)
        )
    }
    response_ids = db.session.scalars(
        select(Response.id).where(Response.round_id == funding_round.id).order_by(Response.id)
    ).all()
    chosen: dict[int, list[tuple[int, int, int]]] = {rid: [] for rid in response_ids}
    rows = db.session.execute(
        select(
            ProjectVote.response_id, ProjectVote.project_id, ProjectVote.points, ProjectVote.rank
        )
        .join(Response)
        .where(Response.round_id == funding_round.id)
    )
    for response_id, project_id, points, rank in rows:
        order = rank if kind == "ordinal" and rank is not None else 0
        chosen[response_id].append((order, project_id, points))
    ballots = []
    for response_id, votes in chosen.items():
        votes.sort()
        ballots.append(
            Ballot(
                pseudonym(secret_key, funding_round.id, response_id),
                tuple(str(project_id) for _, project_id, _ in votes),
                tuple(points for _, _, points in votes) if kind == "cumulative" else None,
            )
        )
    ballots.sort(key=lambda b: b.voter)
    if len({b.voter for b in ballots}) != len(ballots):  # 64 bits: never seen, still checked
        raise DomainError("two responses got the same pseudonym; change SECRET_KEY's use")
    return Election(
        meta=_meta(funding_round),
        projects=tuple(
            PbProject(str(p.id), p.cost_cents, areas.get(p.priority_area_id)) for p in projects
        ),
        names={str(p.id): export_name(p) for p in projects},
        budget_cents=funding_round.budget_cents or 0,
        profile=Profile(kind, tuple(ballots)),
    )


def export_round(funding_round: FundingRound, *, secret_key: str | bytes) -> str:
    """The round as the text of a Pabulib file."""
    return write_pabulib(round_election(funding_round, secret_key=secret_key))


def file_name(funding_round: FundingRound) -> str:
    return f"{funding_round.community.slug}-round-{funding_round.id}.pb"
