"""The canonical serialisation of a rule's input and its SHA-256 fingerprint.

Every Result carries the fingerprint, so anyone holding the input can re-run the rule
and check they had the same one. The bytes are the JSON of one nested object with keys
sorted, no spaces, non-ASCII kept (`json.dumps(..., sort_keys=True, separators=(",",
":"), ensure_ascii=False)`). The ballots, which are nearly all of it on a city's vote,
are written straight to text (the same bytes `json.dumps` would give: the tests check
it), because building a dict per ballot first cost more than the rule itself.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from json.encoder import encode_basestring  # type: ignore[attr-defined]

from .model import AreaShare, Ballot, Instance, Profile, Project, Source

FORMAT = "commonpot-optimizer-input/1"


def _dumps(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _sorted_set(values: frozenset[str] | None) -> list[str] | None:
    return None if values is None else sorted(values)


def instance_input(instance: Instance) -> dict[str, object]:
    """The instance's canonical form; projects and sources sorted by id."""
    data: dict[str, object] = {
        "min_support": instance.min_support,
        "projects": [_project_input(p) for p in sorted(instance.projects, key=lambda p: p.id)],
        "sources": [_source_input(s) for s in sorted(instance.sources, key=lambda s: s.id)],
    }
    data.update(_constraints_input(instance))
    return data


def _source_input(source: Source) -> dict[str, object]:
    """A source's canonical form; the label (it only names the source in texts) only when
    set, so fingerprints of inputs without one stay what they were."""
    data: dict[str, object] = {
        "id": source.id,
        "amount": source.amount,
        "kind": source.kind,
        "projects": _sorted_set(source.projects),
        "categories": _sorted_set(source.categories),
        "cap_per_project": source.cap_per_project,
        "match_percent": source.match_percent,
    }
    if source.label:
        data["label"] = source.label
    return data


def _project_input(project: Project) -> dict[str, object]:
    """A project's canonical form; the hours keys only when set, so fingerprints of
    inputs without them stay what they were."""
    data: dict[str, object] = {"id": project.id, "cost": project.cost, "category": project.category}
    if project.hours_needed is not None or project.hours_offered:
        data["hours_needed"] = project.hours_needed
        data["hours_offered"] = project.hours_offered
    return data


def _constraints_input(instance: Instance) -> dict[str, object]:
    """The constraints' canonical form, each key only when set (old fingerprints stay)."""
    data: dict[str, object] = {}
    if instance.area_shares:
        data["area_shares"] = [
            {"category": a.category, "min_bps": a.min_bps, "max_bps": a.max_bps}
            for a in sorted(instance.area_shares, key=lambda a: a.category)
        ]
    if instance.dependencies:
        data["dependencies"] = [list(pair) for pair in sorted(set(instance.dependencies))]
    if instance.incompatible:
        data["incompatible"] = sorted({tuple(sorted(g)) for g in instance.incompatible})
    return data


class _Quoted(dict[str, str]):
    """Each project id as a JSON string, encoded once."""

    def __missing__(self, key: str) -> str:
        text = self[key] = encode_basestring(key)
        return text


def ballots_text(profile: Profile) -> str:
    """The ballots as the JSON list `json.dumps` would write, in their order (they are the
    record of the vote): {"points":...,"projects":[...],"voter":"..."} each."""
    quote = _Quoted().__getitem__
    parts = []
    for ballot in profile.ballots:
        ids = ",".join(map(quote, ballot.projects))
        points = "null" if ballot.points is None else "[" + ",".join(map(str, ballot.points)) + "]"
        voter = encode_basestring(str(ballot.voter))
        parts.append(f'{{"points":{points},"projects":[{ids}],"voter":{voter}}}')
    return "[" + ",".join(parts) + "]"


def canonical_input(
    instance: Instance, profile: Profile, rule: str, options: Mapping[str, object]
) -> bytes:
    """Canonical JSON of everything a rule reads (see the module docstring)."""
    head = _dumps(
        {"format": FORMAT, "instance": instance_input(instance), "options": dict(options)}
    )
    # Top-level keys in sorted order: format, instance, options, profile, rule.
    text = (
        f'{head[:-1]},"profile":{{"ballots":{ballots_text(profile)},'
        f'"kind":{_dumps(profile.kind)}}},"rule":{_dumps(rule)}}}'
    )
    return text.encode("utf-8")


def fingerprint(
    instance: Instance,
    profile: Profile,
    rule: str,
    options: Mapping[str, object] | None = None,
) -> str:
    """SHA-256 of `canonical_input`, so anyone holding the input can re-run the rule."""
    return hashlib.sha256(canonical_input(instance, profile, rule, options or {})).hexdigest()


def read_input(text: str | bytes) -> tuple[Instance, Profile, str, dict[str, object]]:
    """The instance, profile, rule and options back from `canonical_input`'s bytes, so a
    stored run can be re-run: `canonical_input` of what this returns is the same bytes."""
    data = json.loads(text)
    if data.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} document")
    raw = data["instance"]

    def ids(values: list[str] | None) -> frozenset[str] | None:
        return None if values is None else frozenset(values)

    projects = tuple(
        Project(p["id"], p["cost"], p["category"], p.get("hours_needed"), p.get("hours_offered", 0))
        for p in raw["projects"]
    )
    sources = tuple(
        Source(
            s["id"],
            s["amount"],
            s["kind"],
            ids(s["projects"]),
            ids(s["categories"]),
            s["cap_per_project"],
            s["match_percent"],
            s.get("label", ""),
        )
        for s in raw["sources"]
    )
    instance = Instance(
        projects,
        sources,
        raw["min_support"],
        area_shares=tuple(
            AreaShare(a["category"], a["min_bps"], a["max_bps"]) for a in raw.get("area_shares", ())
        ),
        dependencies=tuple((b, a) for b, a in raw.get("dependencies", ())),
        incompatible=tuple(frozenset(g) for g in raw.get("incompatible", ())),
    )
    ballots = tuple(
        Ballot(
            b["voter"], tuple(b["projects"]), None if b["points"] is None else tuple(b["points"])
        )
        for b in data["profile"]["ballots"]
    )
    return instance, Profile(data["profile"]["kind"], ballots), data["rule"], data["options"]
