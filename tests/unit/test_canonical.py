"""The fingerprint's bytes are exactly those of one `json.dumps` of the whole input, and
its hash of a known input never changes (stored runs carry it)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

from hypothesis import given
from hypothesis import strategies as st

from optimizer import (
    AreaShare,
    Ballot,
    Instance,
    Profile,
    Project,
    Source,
    allocate,
    fingerprint,
)
from optimizer.canonical import FORMAT, canonical_input, instance_input, read_input

ids = st.text(min_size=1, max_size=6)  # any Unicode: quotes, backslashes, controls, emoji


def reference(instance: Instance, profile: Profile, rule: str, options: dict) -> bytes:
    """The plain way: one dict, one json.dumps (what the fast writer must equal)."""
    ballots = [
        {
            "voter": str(b.voter),
            "projects": list(b.projects),
            "points": None if b.points is None else list(b.points),
        }
        for b in profile.ballots
    ]
    data = {
        "format": FORMAT,
        "rule": rule,
        "options": options,
        "instance": instance_input(instance),
        "profile": {"kind": profile.kind, "ballots": ballots},
    }
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


@st.composite
def inputs(draw):
    project_ids = draw(st.lists(ids, min_size=1, max_size=5, unique=True))
    projects = tuple(Project(p, draw(st.integers(0, 10**9))) for p in project_ids)
    cumulative = draw(st.booleans())
    ballots = []
    for voter in draw(st.lists(ids, max_size=6)):
        chosen = draw(st.lists(st.sampled_from(project_ids), unique=True))
        points = tuple(draw(st.integers(1, 10**6)) for _ in chosen) if cumulative else None
        ballots.append(Ballot(voter, tuple(chosen), points))
    profile = Profile("cumulative" if cumulative else "approval", tuple(ballots))
    options = draw(st.dictionaries(st.sampled_from(["completion", "é", "z"]), ids, max_size=2))
    return Instance.single_budget(projects, draw(st.integers(0, 10**9))), profile, options


@given(inputs(), st.sampled_from(["greedy", "equal-shares", "max-welfare"]))
def test_fast_writer_gives_the_bytes_of_json_dumps(data, rule) -> None:
    instance, profile, options = data
    assert canonical_input(instance, profile, rule, options) == reference(
        instance, profile, rule, options
    )


def test_a_known_input_keeps_its_fingerprint() -> None:
    instance = Instance(
        (Project("a", 100, "food", hours_needed=5, hours_offered=2), Project("b", 250)),
        (Source("pool", 300, "pool"), Source("g", 100, "grant", match_percent=100)),
        area_shares=(AreaShare("food", 1_000, 6_000),),
        dependencies=(("b", "a"),),
    )
    profile = Profile("approval", (Ballot("1", ("a", "b")), Ballot('ü"', ("b",))))
    text = canonical_input(instance, profile, "greedy", {}).decode()
    assert text.startswith('{"format":"commonpot-optimizer-input/1","instance":{"area_shares"')
    assert '"ballots":[{"points":null,"projects":["a","b"],"voter":"1"},' in text
    assert asdict(profile)["kind"] == "approval"
    assert json.loads(text)["profile"]["ballots"][1]["voter"] == 'ü"'
    assert fingerprint(instance, profile, "greedy") == (
        "df07422638a5987cecf13d26425c12ae4e35b31a62965b913b78daf1a2af61c1"
    )


@given(inputs(), st.sampled_from(["greedy", "equal-shares", "max-welfare"]))
def test_the_canonical_bytes_read_back_to_the_same_input(data, rule) -> None:
    instance, profile, options = data
    text = canonical_input(instance, profile, rule, options)
    again = read_input(text)
    assert canonical_input(*again) == text
    assert again[2] == rule and again[3] == options


def test_a_result_can_be_rerun_from_its_canonical_input() -> None:
    instance = Instance(
        (Project("a", 100, "food", hours_needed=5, hours_offered=5), Project("b", 250, "park")),
        (
            Source("pool", 300, "pool"),
            Source("g", 100, "grant", frozenset({"b"}), cap_per_project=80),
        ),
        area_shares=(AreaShare("food", None, 6_000),),
        incompatible=(frozenset({"a", "b"}),),
    )
    profile = Profile("approval", (Ballot("1", ("a", "b")), Ballot("2", ("b",))))
    for rule in ("greedy", "equal-shares", "max-welfare"):
        result = allocate(instance, profile, rule)
        text = canonical_input(instance, profile, rule, result.options)
        assert hashlib.sha256(text).hexdigest() == result.input_sha256
        again, ballots, same_rule, options = read_input(text)
        completion = options.get("completion")
        rerun = allocate(again, ballots, same_rule, completion=completion)
        assert (rerun.selected, rerun.plan, rerun.input_sha256) == (
            result.selected,
            result.plan,
            result.input_sha256,
        )
