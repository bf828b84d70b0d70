"""Reader for Pabulib files (pabulib.org), the open library of real participatory budgets.

A file has three `;`-separated sections, each with a header row: META (key;value),
PROJECTS (project_id;cost;...) and VOTES (voter_id;vote;...). Reading real elections
lets the rules be checked against what cities actually did. Every problem is reported
with the 1-based physical line of the file, because the people fixing files read them
in an editor.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from .model import PROFILE_ALIASES, PROFILE_KINDS, Ballot, Instance, Profile, Project

SECTIONS = ("META", "PROJECTS", "VOTES")
VOTE_TYPES = ("approval", "choose-1", "cumulative", "scoring", "ordinal")
_MONEY = re.compile(r"\d+(?:[.,]\d+)?")
_MISSING = ("", "none")


class PabulibError(ValueError):
    """A malformed Pabulib file; str() reads like "line 12: vote for unknown project '7'"."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


@dataclass(frozen=True)
class Election:
    """One Pabulib election: costs and budget already in integer cents."""

    meta: dict[str, str]
    projects: tuple[Project, ...]
    names: dict[str, str]
    budget_cents: int
    profile: Profile
    selected: frozenset[str] | None = None  # what the file marks as funded, if it says
    min_support: int | None = None  # META min_project_score_threshold

    def instance(self) -> Instance:
        """The election as a single-budget instance (with its support threshold, if any)."""
        return Instance.single_budget(
            self.projects, self.budget_cents, min_support=self.min_support
        )


def to_cents(text: str, line: int, what: str) -> int:
    """Amount in file units ("1234", "1234.5", "1234,56") -> integer cents, exactly."""
    value = text.strip()
    if not _MONEY.fullmatch(value):
        raise PabulibError(line, f"{what} {text!r} is not a non-negative number")
    amount = Decimal(value.replace(",", "."))
    if -amount.as_tuple().exponent > 2:  # type: ignore[operator]
        raise PabulibError(line, f"{what} {text!r} has more than 2 decimals")
    return int(amount * 100)


def _int(text: str, line: int, what: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise PabulibError(line, f"{what} {text!r} is not an integer") from None


def _missing(cell: str) -> bool:
    return cell.strip().lower() in _MISSING


def _decode(source: str | os.PathLike[str] | bytes) -> str:
    if isinstance(source, str) and ("\n" in source or "\r" in source):
        return source.removeprefix("\ufeff")
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PabulibError(line, "file is not UTF-8") from None


def _rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """Non-blank CSV rows with the physical line each one starts on."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=";", strict=True)
    last = 0
    try:
        for row in reader:
            line, last = last + 1, reader.line_num
            cells = [cell.strip() for cell in row]
            if any(cells):
                yield line, cells
    except csv.Error as exc:
        raise PabulibError(reader.line_num, f"bad CSV ({exc})") from None


@dataclass
class _Section:
    name: str
    line: int
    header: list[str] | None = None
    header_line: int = 0
    rows: list[tuple[int, list[str]]] | None = None


def _sections(text: str) -> tuple[dict[str, _Section], int]:
    """Split rows into the three sections, in order; also return the last line number."""
    sections: dict[str, _Section] = {}
    current: _Section | None = None
    ends = re.findall(r"\r\n|\r|\n", text)
    last_line = len(ends) + (0 if text.endswith(("\n", "\r")) else 1)
    for line, cells in _rows(text):
        marker = cells[0].upper() if len(cells) == 1 or not any(cells[1:]) else ""
        if marker in SECTIONS:
            expected = SECTIONS[len(sections)] if len(sections) < len(SECTIONS) else None
            if marker != expected:
                raise PabulibError(line, f"section {marker} where {expected} was expected")
            current = sections[marker] = _Section(marker, line, rows=[])
        elif current is None:
            raise PabulibError(line, "the file must start with a META section")
        elif current.header is None:
            current.header, current.header_line = [c.lower() for c in cells], line
        else:
            assert current.rows is not None
            current.rows.append((line, cells))
    for name in SECTIONS:
        if name not in sections:
            raise PabulibError(last_line, f"missing {name} section")
        section = sections[name]
        if section.header is None:
            raise PabulibError(section.line, f"{name} section has no header row")
    return sections, last_line


def _columns(section: _Section, required: tuple[str, ...]) -> dict[str, int]:
    assert section.header is not None
    header = section.header
    if len(set(header)) != len(header):
        raise PabulibError(section.header_line, f"{section.name} header repeats a column")
    for column in required:
        if column not in header:
            raise PabulibError(
                section.header_line, f"{section.name} header has no {column!r} column"
            )
    return {column: i for i, column in enumerate(header)}


def _cells(section: _Section, line: int, cells: list[str]) -> list[str]:
    assert section.header is not None
    width = len(section.header)
    if len(cells) > width and not any(cells[width:]):
        cells = cells[:width]  # trailing separators
    if len(cells) != width:
        raise PabulibError(line, f"expected {width} fields, found {len(cells)}")
    return cells


def _read_meta(section: _Section) -> tuple[dict[str, str], dict[str, int]]:
    _columns(section, ("key", "value"))
    meta: dict[str, str] = {}
    lines: dict[str, int] = {}
    for line, cells in section.rows or []:
        key = cells[0].lower()
        if not key or len(cells) < 2:
            raise PabulibError(line, "META rows need a key and a value")
        if key in meta:
            raise PabulibError(line, f"META key {key!r} appears twice")
        meta[key] = ";".join(cells[1:]).rstrip(";")
        lines[key] = line
    return meta, lines


def _read_projects(
    section: _Section,
) -> tuple[tuple[Project, ...], dict[str, str], frozenset[str] | None]:
    col = _columns(section, ("project_id", "cost"))
    projects: dict[str, Project] = {}
    names: dict[str, str] = {}
    selected: set[str] = set()
    for line, raw in section.rows or []:
        cells = _cells(section, line, raw)
        project_id = cells[col["project_id"]]
        if _missing(project_id):
            raise PabulibError(line, "project without an id")
        if project_id in projects:
            raise PabulibError(line, f"duplicate project id {project_id!r}")
        cost = to_cents(cells[col["cost"]], line, "cost")
        category = cells[col["category"]] if "category" in col else ""
        projects[project_id] = Project(project_id, cost, None if _missing(category) else category)
        name = cells[col["name"]] if "name" in col else ""
        names[project_id] = "" if _missing(name) else name
        if "selected" in col and cells[col["selected"]] == "1":
            selected.add(project_id)
    marked = frozenset(selected) if "selected" in col else None
    return tuple(projects.values()), names, marked


def _ids(cell: str) -> list[str]:
    return [] if _missing(cell) else [part.strip() for part in cell.split(",")]


def _read_votes(section: _Section, kind: str, projects: set[str]) -> tuple[Ballot, ...]:
    col = _columns(section, ("voter_id", "vote"))
    with_points = PROFILE_ALIASES.get(kind, kind) == "cumulative"
    if with_points and "points" not in col:
        raise PabulibError(section.header_line, f"{kind} votes need a 'points' column")
    ballots: list[Ballot] = []
    voters: set[str] = set()
    for line, raw in section.rows or []:
        cells = _cells(section, line, raw)
        voter = cells[col["voter_id"]]
        if voter in voters:
            raise PabulibError(line, f"voter {voter!r} votes twice")
        voters.add(voter)
        chosen = _ids(cells[col["vote"]])
        for project_id in chosen:
            if project_id not in projects:
                raise PabulibError(line, f"vote for unknown project {project_id!r}")
        if len(set(chosen)) != len(chosen):
            raise PabulibError(line, "the same project appears twice in one vote")
        points = None
        if with_points:
            points = tuple(_int(p, line, "points") for p in _ids(cells[col["points"]]))
            if len(points) != len(chosen):
                raise PabulibError(
                    line, f"{len(chosen)} projects but {len(points)} points in this vote"
                )
        ballots.append(Ballot(voter, tuple(chosen), points))
    return tuple(ballots)


def read_pabulib(source: str | os.PathLike[str] | bytes) -> Election:
    """Read a Pabulib file from a path, its bytes, or its text (any str with a newline)."""
    sections, last_line = _sections(_decode(source))
    meta, meta_lines = _read_meta(sections["META"])
    meta_line = sections["META"].line
    if "budget" not in meta:
        raise PabulibError(meta_line, "META has no budget")
    budget = to_cents(meta["budget"], meta_lines["budget"], "budget")
    vote_type = meta.get("vote_type", "").lower()
    if vote_type not in VOTE_TYPES:
        line = meta_lines.get("vote_type", meta_line)
        raise PabulibError(line, f"unsupported vote_type {meta.get('vote_type', '')!r}")
    threshold = meta.get("min_project_score_threshold", "")
    min_support = None
    if not _missing(threshold):
        line = meta_lines["min_project_score_threshold"]
        min_support = _int(threshold, line, "min_project_score_threshold")
    projects, names, selected = _read_projects(sections["PROJECTS"])
    if not projects:
        raise PabulibError(sections["PROJECTS"].header_line, "no projects")
    ballots = _read_votes(sections["VOTES"], vote_type, {p.id for p in projects})
    kind = PROFILE_ALIASES.get(vote_type, vote_type)
    assert kind in PROFILE_KINDS
    return Election(
        meta=meta,
        projects=projects,
        names=names,
        budget_cents=budget,
        profile=Profile(kind, ballots),
        selected=selected,
        min_support=min_support,
    )
