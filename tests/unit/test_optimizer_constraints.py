"""Selection constraints, worked by hand: dependencies, incompatible projects, area shares,
volunteer hours and the support threshold, under each rule.

The round used throughout (one pot; supports are approval counts):

    project  cost  area  support
    A         400  food       5
    B         300  park       4
    C         300  park       3
    D         200  food       1
"""

from __future__ import annotations

import pytest

from optimizer import (
    AreaShare,
    Ballot,
    Instance,
    Profile,
    Project,
    Source,
    allocate,
    check_plan,
    check_selection,
)

PROJECTS = (
    Project("A", 400, "food"),
    Project("B", 300, "park"),
    Project("C", 300, "park"),
    Project("D", 200, "food"),
)
SUPPORT = {"A": 5, "B": 4, "C": 3, "D": 1}


def profile() -> Profile:
    """Ballots giving exactly SUPPORT: voter i approves every project with support > i."""
    return Profile(
        "approval",
        tuple(
            Ballot(f"v{i}", tuple(p for p, s in SUPPORT.items() if s > i))
            for i in range(max(SUPPORT.values()))
        ),
    )


def round_(budget: int = 700, projects=PROJECTS, **constraints) -> Instance:
    return Instance(tuple(projects), (Source("pool", budget, "pool"),), **constraints)


def run(instance: Instance, rule: str, completion: str | None = None):
    result = allocate(instance, profile(), rule, completion=completion)
    assert check_plan(instance, result.selected, result.plan) == []
    return result


def test_without_constraints_every_rule_takes_a_and_b() -> None:
    # Greedy: A (400), B (300), the pot is empty. Max-welfare: {A, B} has support 9, the
    # best of every set within 700. Equal shares (5 voters, 140 each): A costs 80 each
    # to its 5 supporters, then B 75 each to its 4: 60 left each, C and D cannot be paid.
    for rule in ("greedy", "max-welfare", "equal-shares"):
        assert run(round_(), rule).selected == ("A", "B")


def test_incompatible_projects_greedy_takes_the_first_and_explains_the_second() -> None:
    instance = round_(incompatible=(frozenset({"A", "B"}),))
    result = run(instance, "greedy")
    # A is taken; B is refused at its turn; C (300) fits the 300 left.
    assert result.selected == ("A", "C")
    why = result.explanation("B")
    assert why.code == "incompatible"
    assert why.related == ("A",)
    assert why.text == "Incompatible with “A”, which was funded."


def test_incompatible_projects_max_welfare_picks_the_best_combination() -> None:
    instance = round_(incompatible=(frozenset({"A", "B"}),))
    # Without B: {A, C} = 8; without A: {B, C} = 7 (cost 600, 100 left for nothing).
    result = run(instance, "max-welfare")
    assert result.selected == ("A", "C")
    assert result.objective == 8
    assert result.status == "optimal"
    assert check_selection(instance, result.selected) == []


def test_dependency_on_a_lower_ranked_project_is_lost_by_greedy_and_kept_by_max_welfare() -> None:
    instance = round_(900, dependencies=(("B", "D"),))  # "B only with D"
    result = run(instance, "greedy")
    # A (400); B's turn: D not yet funded -> refused; C (300); D (200): 900 spent.
    assert result.selected == ("A", "C", "D")
    why = result.explanation("B")
    assert why.code == "dependency"
    assert why.related == ("D",)
    assert "which was funded only after its turn came (rank 2 of 4" in why.text
    # Max-welfare: {A, B, D} (support 10, cost 900) beats {A, C, D} (9).
    best = run(instance, "max-welfare")
    assert best.selected == ("A", "B", "D")
    assert best.objective == 10


def test_a_project_whose_prerequisite_is_never_funded_says_so() -> None:
    instance = round_(700, dependencies=(("B", "D"),))
    result = run(instance, "greedy")
    # A (400), B refused (no D), C (300): nothing left for D.
    assert result.selected == ("A", "C")
    assert result.explanation("B").text == "Funded only together with “D”, which was not funded."


def test_area_maximum_share_is_held_against_all_the_money_in_greedy() -> None:
    instance = round_(1_000, area_shares=(AreaShare("park", max_bps=3_500),))
    result = run(instance, "greedy")
    # 35% of 1,000 is 350: B (300) fits, C (600 in park) does not; D (200) fits.
    assert result.selected == ("A", "B", "D")
    why = result.explanation("C")
    assert why.code == "area_max"
    assert why.numbers["area_cap"] == 350
    assert why.numbers["area_cents"] == 300


def test_area_minimum_share_is_met_by_max_welfare_and_reported_by_greedy() -> None:
    # food must have at least 70% of the money funded.
    instance = round_(700, area_shares=(AreaShare("food", min_bps=7_000),))
    greedy = run(instance, "greedy")
    assert greedy.selected == ("A", "B")  # food has 400 of 700: 57.1%
    assert greedy.notes == (
        "Area “food” got 57.1% of the money funded (4.00 of 7.00), below its minimum share "
        "of 70%: greedy takes projects one at a time and cannot guarantee minimum shares.",
    )
    assert greedy.notes[0] in greedy.explanation("D").text
    # Max-welfare: {A, B} breaks it; {A, D} (600, all food) has 6; {A} alone 5; {A, B, D}
    # costs 900. So {A, D}.
    best = run(instance, "max-welfare")
    assert best.selected == ("A", "D")
    assert best.objective == 6
    assert check_selection(instance, best.selected) == []
    assert check_selection(instance, greedy.selected) == ["area_min[food]"]


def test_volunteer_hours_short_keep_a_project_out_of_every_rule() -> None:
    projects = (Project("A", 400, "food", hours_needed=10, hours_offered=4), *PROJECTS[1:])
    instance = round_(700, projects)
    for rule in ("greedy", "max-welfare", "equal-shares"):
        result = run(instance, rule)
        assert "A" not in result.selected
        why = result.explanation("A")
        assert why.code == "hours"
        assert why.text == "Needs 10 volunteer hours; 4 were offered."
    enough = (Project("A", 400, "food", hours_needed=10, hours_offered=10), *PROJECTS[1:])
    assert "A" in run(round_(700, enough), "greedy").selected


def test_support_threshold_applies_to_every_rule() -> None:
    instance = Instance(PROJECTS, (Source("pool", 1_000, "pool"),), min_support=4)
    for rule in ("greedy", "max-welfare", "equal-shares"):
        result = run(instance, rule)
        assert set(result.selected) <= {"A", "B"}
        assert result.explanation("C").code == "below_threshold"


def test_max_welfare_explains_an_unfunded_project_with_what_binds() -> None:
    instance = round_(incompatible=(frozenset({"A", "B"}),))
    result = run(instance, "max-welfare")
    why = result.explanation("B")
    # Forced in: {B, C} (7) against {A, C} (8): one support lost, because A is
    # incompatible with it.
    assert why.code == "not_optimal"
    assert why.numbers["support_lost"] == 1
    assert "A" in why.related
    assert "incompatible" in why.text


@pytest.mark.parametrize("completion", ["add1", "none", "add1-greedy"])
def test_equal_shares_skips_an_incompatible_winner(completion: str) -> None:
    # 5 voters with 200 each. Without the rule: A at 80 each, then B at 75 each from its
    # 4 supporters' 120. With it, B wins its round and is skipped, its supporters keep
    # their money, and C is bought from v0-v2's 120 each (100 each).
    assert run(round_(1_000), "equal-shares", "none").selected == ("A", "B")
    instance = round_(1_000, incompatible=(frozenset({"A", "B"}),))
    result = run(instance, "equal-shares", completion)
    assert result.selected[:2] == ("A", "C")
    assert "B" not in result.selected
    why = result.explanation("B")
    assert why.code == "incompatible"
    assert why.text == "Incompatible with “A”, which was funded."


def test_bad_constraints_are_refused() -> None:
    with pytest.raises(ValueError, match="depend on itself"):
        round_(dependencies=(("A", "A"),))
    with pytest.raises(ValueError, match="unknown project"):
        round_(dependencies=(("A", "Z"),))
    with pytest.raises(ValueError, match="two projects or more"):
        round_(incompatible=(frozenset({"A"}),))
    with pytest.raises(ValueError, match="min_bps is above max_bps"):
        round_(area_shares=(AreaShare("food", 6_000, 5_000),))
    with pytest.raises(ValueError, match="from 0 to 10000"):
        round_(area_shares=(AreaShare("food", max_bps=10_001),))


def test_max_welfare_reports_the_support_lost_when_a_project_is_forced_in() -> None:
    # Budget 7,000: {1, 2} (support 3 + 2) is best; 3 alone fits but only with support 1.
    instance = Instance(
        (Project("1", 300_000, "F"), Project("2", 400_000, "E"), Project("3", 500_000, "P")),
        (Source("pool", 700_000, "pool"),),
    )
    ballots = (Ballot("a", ("1", "2", "3")), Ballot("b", ("1", "2")), Ballot("c", ("1",)))
    result = allocate(instance, Profile("approval", ballots), "max-welfare")
    assert result.selected == ("1", "2")
    why = result.explanation("3")
    assert why.code == "not_optimal"
    assert why.numbers["support_lost"] == 4
