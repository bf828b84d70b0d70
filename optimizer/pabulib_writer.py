"""Writer for Pabulib files: the inverse of `optimizer.pabulib.read_pabulib`.

`write_pabulib(election)` returns the text of a `.pb` file that `read_pabulib` reads back
as the same projects (ids, costs, categories, names) and the same ballots, in the same
order. Fields are written with the csv module (delimiter `;`), so names holding `;`,
quotes or line breaks are quoted. Money goes back to the file's units as a decimal
string ("1548961", "25.5"). META keeps what the election carries, except the keys this
writer computes: num_projects, num_votes, budget and vote_type.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from decimal import Decimal

from .model import PROFILE_ALIASES, Ballot
from .pabulib import SECTIONS, Election

# META keys written first, in this order, when present; the rest follow as given.
_LEADING = ("description", "country", "unit", "district", "subunit", "instance")
_COMPUTED = ("num_projects", "num_votes", "budget", "vote_type")


def units(cents: int) -> str:
    """Integer cents -> the file's units as a plain decimal string: 150000 -> "1500"."""
    if cents < 0:
        raise ValueError(f"negative amount {cents}")
    value = Decimal(cents) / 100
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def _vote_type(election: Election) -> str:
    """The election's own vote_type when it names this profile's kind, else the kind."""
    given = election.meta.get("vote_type", "").strip().lower()
    if given and PROFILE_ALIASES.get(given, given) == election.profile.kind:
        return given
    return election.profile.kind


def _check_ids(election: Election) -> None:
    for project in election.projects:
        if "," in project.id or project.id != project.id.strip():
            raise ValueError(f"project id {project.id!r} cannot be written to a vote list")
    for ballot in election.profile.ballots:
        if ballot.voter != ballot.voter.strip():
            raise ValueError(f"voter id {ballot.voter!r} has surrounding spaces")
        if not ballot.projects and ballot.voter.upper() in SECTIONS:
            # "votes;" would read back as a section marker.
            raise ValueError(f"voter id {ballot.voter!r} with an empty ballot cannot be written")
    voters = Counter(ballot.voter for ballot in election.profile.ballots)
    repeated = [voter for voter, n in voters.items() if n > 1]
    if repeated:
        raise ValueError(f"voter {repeated[0]!r} has two ballots")


def _vote_counts(ballots: tuple[Ballot, ...]) -> Counter[str]:
    return Counter(project for ballot in ballots for project in ballot.projects)


def write_pabulib(election: Election) -> str:
    """The election as Pabulib text (UTF-8 without BOM when encoded, `\\n` line ends)."""
    _check_ids(election)
    cumulative = PROFILE_ALIASES.get(election.profile.kind, election.profile.kind) == "cumulative"
    ballots = election.profile.ballots
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)

    meta = {key.lower(): value for key, value in election.meta.items()}
    computed = {
        "num_projects": str(len(election.projects)),
        "num_votes": str(len(ballots)),
        "budget": units(election.budget_cents),
        "vote_type": _vote_type(election),
    }
    writer.writerow(["META"])
    writer.writerow(["key", "value"])
    for key in _LEADING:
        if meta.get(key, "").strip():
            writer.writerow([key, meta[key]])
    for key in _COMPUTED:
        writer.writerow([key, computed[key]])
    for key, value in meta.items():
        if key not in _LEADING and key not in _COMPUTED and value.strip():
            writer.writerow([key, value])

    votes = _vote_counts(ballots)
    header = ["project_id", "cost", "votes", "name", "category"]
    if election.selected is not None:
        header.append("selected")
    writer.writerow(["PROJECTS"])
    writer.writerow(header)
    for project in election.projects:
        row = [
            project.id,
            units(project.cost),
            str(votes[project.id]),
            election.names.get(project.id, ""),
            project.category or "",
        ]
        if election.selected is not None:
            row.append("1" if project.id in election.selected else "0")
        writer.writerow(row)

    writer.writerow(["VOTES"])
    writer.writerow(["voter_id", "vote", "points"] if cumulative else ["voter_id", "vote"])
    for ballot in ballots:
        row = [ballot.voter, ",".join(ballot.projects)]
        if cumulative:
            row.append(",".join(str(p) for p in ballot.points or ()))
        writer.writerow(row)
    return out.getvalue()
