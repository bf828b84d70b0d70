"""Data model: validation, support counting, fingerprints and result helpers."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from optimizer import (
    Allocation,
    Ballot,
    Instance,
    Profile,
    Project,
    Result,
    Source,
    fingerprint,
    format_cents,
    support,
)
from optimizer.canonical import canonical_input


def _instance() -> Instance:
    return Instance.single_budget((Project("a", 100), Project("b", 200), Project("c", 300)), 400)


def test_format_cents() -> None:
    assert format_cents(0) == "0.00"
    assert format_cents(5) == "0.05"
    assert format_cents(123456) == "1,234.56"
    assert format_cents(100000000) == "1,000,000.00"
    assert format_cents(-1505) == "-15.05"


@pytest.mark.parametrize("cost", [1.5, 10.0, -1, True, "5"])
def test_costs_must_be_non_negative_integer_cents(cost: object) -> None:
    with pytest.raises(ValueError, match="integer number of cents"):
        Project("a", cost)  # type: ignore[arg-type]


def test_source_validation() -> None:
    with pytest.raises(ValueError, match="kind"):
        Source("s", 10, kind="loan")
    with pytest.raises(ValueError, match="must name its projects"):
        Source("s", 10, kind="earmark")
    with pytest.raises(ValueError, match="cents"):
        Source("s", 10.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not one string"):
        Source("s", 10, kind="grant", categories="food")  # type: ignore[arg-type]
    # Sets and lists are accepted and frozen, so the source stays hashable.
    grant = Source("s", 10, kind="grant", categories={"food"})  # type: ignore[arg-type]
    assert grant.categories == frozenset({"food"})
    assert hash(grant)


def test_eligibility_and_limit() -> None:
    food = Project("f", 900, "food")
    park = Project("p", 900, "park")
    grant = Source("g", 500, "grant", categories=frozenset({"food"}), cap_per_project=300)
    assert grant.eligible(food) and not grant.eligible(park)
    assert grant.limit(food) == 300 and grant.limit(park) == 0
    named = Source("e", 50, "earmark", projects=frozenset({"p"}))
    assert named.eligible(park) and not named.eligible(food)
    both = Source("g2", 50, "grant", projects=frozenset({"f"}), categories=frozenset({"park"}))
    assert not both.eligible(food) and not both.eligible(park)  # both conditions must hold


def test_spending_tiers() -> None:
    tiers = [
        Source("e", 1, "earmark", projects=frozenset({"x"})).tier,
        Source("r", 1, "grant", categories=frozenset({"food"})).tier,
        Source("u", 1, "grant").tier,
        Source("p", 1, "pool").tier,
    ]
    assert tiers == [0, 1, 2, 3]


def test_instance_rejects_duplicate_ids() -> None:
    with pytest.raises(ValueError, match="duplicate project"):
        Instance.single_budget((Project("a", 1), Project("a", 2)), 5)
    with pytest.raises(ValueError, match="duplicate source"):
        Instance((Project("a", 1),), (Source("s", 1), Source("s", 2)))


def test_support_approval_and_choose_one() -> None:
    ballots = (Ballot("v1", ("a", "b")), Ballot("v2", ("b",)), Ballot("v3", ()))
    assert support(_instance(), Profile("approval", ballots)) == {"a": 1, "b": 2, "c": 0}
    one = (Ballot("v1", ("c",)), Ballot("v2", ("c",)))
    assert support(_instance(), Profile("choose-1", one)) == {"a": 0, "b": 0, "c": 2}


def test_support_cumulative_sums_points() -> None:
    ballots = (Ballot("v1", ("a", "b"), (3, 2)), Ballot("v2", ("b",), (5,)))
    assert support(_instance(), Profile("cumulative", ballots)) == {"a": 3, "b": 7, "c": 0}
    assert support(_instance(), Profile("scoring", ballots)) == {"a": 3, "b": 7, "c": 0}


def test_support_ordinal_is_borda_with_last_getting_zero() -> None:
    # Length 3: 2, 1, 0. Length 2: 1, 0. Points on ordinal ballots are ignored.
    ballots = (Ballot("v1", ("c", "a", "b"), (9, 9, 9)), Ballot("v2", ("a", "c")))
    assert support(_instance(), Profile("ordinal", ballots)) == {"a": 1 + 1, "b": 0, "c": 2 + 0}


def test_support_rejects_unknown_projects_and_bad_ballots() -> None:
    with pytest.raises(ValueError, match="unknown project 'z'"):
        support(_instance(), Profile("approval", (Ballot("v", ("z",)),)))
    with pytest.raises(ValueError, match="twice"):
        Ballot("v", ("a", "a"))
    with pytest.raises(ValueError, match="points and projects differ"):
        Ballot("v", ("a", "b"), (1,))
    with pytest.raises(ValueError, match="need points"):
        Profile("cumulative", (Ballot("v", ("a",)),))
    with pytest.raises(ValueError, match="profile kind"):
        Profile("veto", ())


def test_fingerprint_is_sha256_of_canonical_json_and_order_free_for_projects() -> None:
    profile = Profile("approval", (Ballot("v1", ("a",)),))
    inst = _instance()
    digest = fingerprint(inst, profile, "greedy", {})
    assert digest == hashlib.sha256(canonical_input(inst, profile, "greedy", {})).hexdigest()
    shuffled = Instance(tuple(reversed(inst.projects)), inst.sources)
    assert fingerprint(shuffled, profile, "greedy") == digest
    assert b'"cost":100' in canonical_input(inst, profile, "greedy", {})
    cheaper = Instance.single_budget((Project("a", 99), *inst.projects[1:]), 400)
    assert fingerprint(cheaper, profile, "greedy") != digest
    assert fingerprint(inst, profile, "max-welfare") != digest
    assert fingerprint(inst, profile, "greedy", {"time_limit": 5}) != digest


def test_result_helpers() -> None:
    plan = (
        Allocation("grant", "a", 60),
        Allocation("pool", "a", 40),
        Allocation("pool", "b", 200),
    )
    result = Result("greedy", ("a", "b"), plan, 300, 3, "complete", (), "0" * 64, 0.0)
    assert result.funded_by("a") == {"grant": 60, "pool": 40}
    assert result.funded_by("c") == {}
    assert result.used("pool") == 240
    assert result.used("nobody") == 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.cost = 1  # type: ignore[misc]
