"""Greedy and max-welfare on small instances worked out by hand."""

from __future__ import annotations

import pytest

from optimizer import (
    Allocation,
    Ballot,
    Instance,
    Profile,
    Project,
    Result,
    Source,
    allocate,
    check_plan,
    fingerprint,
    greedy,
    max_welfare,
)

FOOD = frozenset({"food"})


def approvals(counts: dict[str, int]) -> Profile:
    """A profile where project p is approved by exactly counts[p] voters."""
    voters = max(counts.values(), default=0)
    ballots = tuple(
        Ballot(f"v{i}", tuple(p for p, n in sorted(counts.items()) if i < n)) for i in range(voters)
    )
    return Profile("approval", ballots)


def codes(result: Result) -> dict[str, str]:
    return {e.project: e.code for e in result.explanations}


def assert_well_formed(result: Result, instance: Instance) -> None:
    """Invariants every result must satisfy, whatever the rule."""
    assert list(result.selected) == sorted(result.selected)
    assert list(result.plan) == sorted(result.plan, key=lambda a: (a.source, a.project))
    assert check_plan(instance, result.selected, result.plan) == []
    assert result.cost == sum(p.cost for p in instance.projects if p.id in result.selected)
    assert [e.project for e in result.explanations] == sorted(p.id for p in instance.projects)
    assert {e.project for e in result.explanations if e.funded} == set(result.selected)
    assert all(e.text and "\n" not in e.text for e in result.explanations)
    assert all(a.cents > 0 for a in result.plan)


def test_greedy_and_max_welfare_differ() -> None:
    # Budget 10. A: cost 6, support 5; B and C: cost 5, support 4 each.
    # Greedy takes A (5), then neither B nor C fits in the remaining 4: {A}, support 5.
    # Max-welfare: {B, C} costs 10 with support 8; any set with A has support 5: {B, C}.
    inst = Instance.single_budget((Project("A", 6), Project("B", 5), Project("C", 5)), 10)
    profile = approvals({"A": 5, "B": 4, "C": 4})
    g = greedy(inst, profile)
    assert (g.selected, g.cost, g.objective, g.status) == (("A",), 6, 5, "complete")
    assert g.plan == (Allocation("pool", "A", 6),)
    b = g.explanation("B")
    assert b.code == "insufficient_funds"
    assert b.numbers == {"support": 4, "cost": 5, "rank": 2, "of": 3, "raisable": 4}
    assert b.text == (
        "Needed 0.05; only 0.04 could still be raised from eligible sources "
        "when its turn came (rank 2 of 3 by support)."
    )
    m = max_welfare(inst, profile)
    assert (m.selected, m.cost, m.objective, m.status) == (("B", "C"), 10, 8, "optimal")
    a = m.explanation("A")
    # With A forced in the best is A alone (5): 8 - 5 = 3 support lost.
    assert a.code == "not_optimal" and a.numbers["support_lost"] == 3
    assert (
        a.text
        == "Funding it would lower total support by 3 (re-solved with the project forced in)."
    )
    for result in (g, m):
        assert_well_formed(result, inst)


def test_ties_are_broken_by_id_as_a_string() -> None:
    # "10" < "9" as strings. Both cost 6, budget 10, same support: only one fits.
    inst = Instance.single_budget((Project("9", 6), Project("10", 6)), 10)
    profile = approvals({"9": 2, "10": 2})
    g = greedy(inst, profile)
    assert g.selected == ("10",)
    assert g.explanation("9").numbers["rank"] == 2
    m = max_welfare(inst, profile)
    assert m.selected == ("10",)
    assert codes(m)["9"] == "tie_order"
    assert_well_formed(m, inst)


def test_max_welfare_prefers_larger_cost_among_equal_support() -> None:
    # Budget 10. A costs 10, B costs 3, same support 5; both do not fit together.
    # {A} and {B} tie on support 5; {A} spends more, so {A} (even though "A" < "B"
    # would not matter here) and B is explained as losing on cost.
    inst = Instance.single_budget((Project("A", 10), Project("B", 3)), 10)
    profile = approvals({"A": 5, "B": 5})
    m = max_welfare(inst, profile)
    assert m.selected == ("A",)
    b = m.explanation("B")
    assert b.code == "tie_cost"
    assert b.numbers["chosen_cost"] == 10 and b.numbers["cost_with"] == 3


def test_zero_support_projects_are_considered() -> None:
    # Budget 10: A (cost 6, support 3) then Z (cost 4, nobody voted for it) still fits.
    inst = Instance.single_budget((Project("A", 6), Project("Z", 4), Project("Y", 5)), 10)
    profile = approvals({"A": 3})
    g = greedy(inst, profile)
    # Order: A (3), then Y and Z tied at 0 -> "Y" first: Y (5) does not fit, Z does.
    assert g.selected == ("A", "Z")
    assert codes(g) == {"A": "funded", "Y": "insufficient_funds", "Z": "funded"}
    # Max-welfare: support 3 either way; the largest cost with support 3 is A+Z = 10.
    assert max_welfare(inst, profile).selected == ("A", "Z")


def test_zero_cost_projects_are_selected() -> None:
    inst = Instance.single_budget((Project("A", 10), Project("free", 0)), 5)
    profile = approvals({"A": 4})
    for result in (greedy(inst, profile), max_welfare(inst, profile)):
        assert result.selected == ("free",)
        assert codes(result)["free"] == "zero_cost"
        assert result.funded_by("free") == {}
        assert_well_formed(result, inst)


def _food_instance() -> Instance:
    """A 5000-cent food-security grant only for food projects, and a 5000-cent pool."""
    projects = (
        Project("mural", 6000, "park"),
        Project("pantry", 3000, "food"),
        Project("soup", 4000, "food"),
    )
    sources = (Source("pool", 5000), Source("food", 5000, "grant", categories=FOOD))
    return Instance(projects, sources)


def test_restricted_grant_only_funds_its_category() -> None:
    inst = _food_instance()
    # The mural is the favourite, but only the pool (5000) may pay for it: never fundable.
    # Both food projects (7000) fit: grant 5000 + pool 2000.
    profile = approvals({"mural": 9, "pantry": 5, "soup": 4})
    for result in (greedy(inst, profile), max_welfare(inst, profile)):
        assert result.selected == ("pantry", "soup")
        assert_well_formed(result, inst)
        assert result.used("food") == 5000 and result.used("pool") == 2000
        assert {a.project for a in result.plan if a.source == "food"} <= {"pantry", "soup"}
        mural = result.explanation("mural")
        assert mural.code == "insufficient_funds" and not mural.funded
        assert mural.numbers["raisable"] == 5000
    g = greedy(inst, profile)
    assert g.explanation("mural").text == (
        "Needed 60.00; only 50.00 could still be raised from eligible sources "
        "when its turn came (rank 1 of 3 by support)."
    )
    m = max_welfare(inst, profile)
    assert m.explanation("mural").text == (
        "Needed 60.00; even on its own at most 50.00 could be raised from eligible sources."
    )


def test_greedy_reroutes_money_to_fit_a_later_project() -> None:
    # "a" (food) comes first and could be paid by the pool; "b" (park) only by the pool.
    # Both fit when the grant pays for a.
    inst = Instance(
        (Project("a", 500, "food"), Project("b", 500, "park")),
        (Source("pool", 500), Source("food", 500, "grant", categories=FOOD)),
    )
    g = greedy(inst, approvals({"a": 2, "b": 1}))
    assert g.selected == ("a", "b")
    assert g.plan == (Allocation("food", "a", 500), Allocation("pool", "b", 500))


def test_no_eligible_source() -> None:
    inst = Instance(
        (Project("bench", 100, "park"), Project("soup", 100, "food")),
        (Source("food", 500, "grant", categories=FOOD),),
    )
    profile = approvals({"bench": 3, "soup": 1})
    for result in (greedy(inst, profile), max_welfare(inst, profile)):
        assert result.selected == ("soup",)
        bench = result.explanation("bench")
        assert bench.code == "no_eligible_source"
        assert bench.text.startswith("No source eligible for this project has money")


def test_cap_per_project() -> None:
    # The seed grant gives at most 300 to one project; pool 400. "big" (1000) can get at
    # most 700 in all; "mid" (600) and "small" (300) fit: seed 300 each, pool 300 + 0.
    inst = Instance(
        (Project("big", 1000), Project("mid", 600), Project("small", 300)),
        (Source("pool", 400), Source("seed", 900, "grant", cap_per_project=300)),
    )
    profile = approvals({"big": 5, "mid": 3, "small": 2})
    for result in (greedy(inst, profile), max_welfare(inst, profile)):
        assert result.selected == ("mid", "small")
        assert result.funded_by("mid") == {"seed": 300, "pool": 300}
        assert result.funded_by("small") == {"seed": 300}
        assert result.explanation("big").numbers["raisable"] == 700
        assert_well_formed(result, inst)


def test_earmarked_pledges_are_used_before_the_pool() -> None:
    inst = Instance(
        (Project("park", 1000), Project("library", 800)),
        (
            Source("pool", 2000),
            Source("pledge", 600, "earmark", projects=frozenset({"park"})),
        ),
    )
    profile = approvals({"park": 2, "library": 1})
    for result in (greedy(inst, profile), max_welfare(inst, profile)):
        assert result.selected == ("library", "park")
        assert result.funded_by("park") == {"pledge": 600, "pool": 400}
        assert result.used("pool") == 1200  # the pot keeps 800


def test_threshold_blocks_weak_projects() -> None:
    projects = (Project("a", 10), Project("b", 10))
    inst = Instance.single_budget(projects, 100, min_support=3)
    profile = approvals({"a": 5, "b": 2})
    for result in (greedy(inst, profile), max_welfare(inst, profile)):
        assert result.selected == ("a",)
        b = result.explanation("b")
        assert b.code == "below_threshold" and b.numbers == {"support": 2, "min_support": 3}


def test_allocate_dispatches_and_records_the_input() -> None:
    inst = Instance.single_budget((Project("A", 6), Project("B", 5), Project("C", 5)), 10)
    profile = approvals({"A": 5, "B": 4, "C": 4})
    g = allocate(inst, profile, "greedy")
    assert g.rule == "greedy" and g.selected == ("A",)
    assert g.input_sha256 == fingerprint(inst, profile, "greedy", {})
    m = allocate(inst, profile, "max-welfare")
    assert m.rule == "max-welfare" and m.selected == ("B", "C")
    assert m.input_sha256 == fingerprint(inst, profile, "max-welfare", {})
    assert m.seconds >= 0 and g.seconds >= 0
    timed = allocate(inst, profile, "max-welfare", time_limit=30)
    assert timed.input_sha256 == fingerprint(inst, profile, "max-welfare", {"time_limit": 30})
    with pytest.raises(ValueError, match="unknown rule 'borda-greedy'"):
        allocate(inst, profile, "borda-greedy")


def test_money_formatter_is_used_in_texts() -> None:
    inst = Instance.single_budget((Project("A", 600), Project("B", 500)), 1000)
    result = allocate(inst, approvals({"A": 2, "B": 1}), "greedy", money=lambda c: f"{c} ct")
    assert result.explanation("B").text.startswith("Needed 500 ct; only 400 ct")


def test_cumulative_and_ordinal_profiles() -> None:
    inst = Instance.single_budget((Project("x", 5), Project("y", 5), Project("z", 5)), 10)
    cumulative = Profile("cumulative", (Ballot("1", ("x", "z"), (1, 4)), Ballot("2", ("y",), (2,))))
    assert greedy(inst, cumulative).selected == ("y", "z")  # z 4, y 2, x 1
    ordinal = Profile("ordinal", (Ballot("1", ("x", "y", "z")), Ballot("2", ("x", "z", "y"))))
    assert greedy(inst, ordinal).selected == ("x", "y")  # Borda: x 4, y 1, z 1 -> "y" < "z"


def test_solver_never_writes_to_stdout(capfd: pytest.CaptureFixture[str]) -> None:
    # stdout is reserved for the CLI's JSON; CBC runs as a child process, hence capfd.
    inst = Instance(
        (Project("a", 500, "food"), Project("b", 500, "park"), Project("c", 300)),
        (Source("pool", 600), Source("food", 500, "grant", categories=FOOD)),
    )
    profile = approvals({"a": 2, "b": 1, "c": 1})
    max_welfare(inst, profile)
    greedy(inst, profile)
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""


@pytest.mark.parametrize("rule", ["greedy", "equal-shares", "max-welfare"])
def test_a_funded_project_says_which_money_paid_for_it(rule: str) -> None:
    # Garden (food, 500) can take the food grant (300) and two earmarked pledges to
    # several projects, labelled alike (50 + 30); the pot pays the rest (120).
    instance = Instance(
        (Project("garden", 500, "food"),),
        (
            Source("pool", 1_000, "pool", label="the common pot"),
            Source("g", 300, "grant", categories=FOOD, label="Food grant"),
            Source("p1", 50, "earmark", frozenset({"garden"}), label="pledges to several"),
            Source("p2", 30, "earmark", frozenset({"garden"}), label="pledges to several"),
        ),
    )
    result = allocate(instance, approvals({"garden": 2}), rule)
    why = result.explanation("garden")
    assert why.funded
    assert why.text.endswith(
        " Paid from Food grant (3.00), the common pot (1.20) and pledges to several (0.80)."
    )
    assert {k: v for k, v in why.numbers.items() if k.startswith("from:")} == {
        "from:g": 300,
        "from:pool": 120,
        "from:p1": 50,
        "from:p2": 30,
    }
