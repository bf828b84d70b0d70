"""Equal shares on small instances worked out by hand (money in cents, shares exact)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from optimizer import (
    COMPLETIONS,
    RULES,
    Allocation,
    Ballot,
    Instance,
    Profile,
    Project,
    Result,
    Source,
    allocate,
    check_plan,
    equal_shares,
    fingerprint,
)
from optimizer.equal_shares_budgets import Electorate
from optimizer.equal_shares_engine import OK, run


def approvals(*ballots: str | tuple[str, ...]) -> Profile:
    """One ballot per argument: "AC" approves A and C."""
    return Profile("approval", tuple(Ballot(f"v{i}", tuple(b)) for i, b in enumerate(ballots)))


def codes(result: Result) -> dict[str, str]:
    return {e.project: e.code for e in result.explanations}


def assert_well_formed(result: Result, instance: Instance) -> None:
    assert result.rule == "equal-shares" and result.status == "complete"
    assert list(result.selected) == sorted(result.selected)
    assert check_plan(instance, result.selected, result.plan) == []
    assert result.cost == sum(p.cost for p in instance.projects if p.id in result.selected)
    assert [e.project for e in result.explanations] == sorted(p.id for p in instance.projects)
    assert {e.project for e in result.explanations if e.funded} == set(result.selected)
    assert all(e.text and "\n" not in e.text for e in result.explanations)


# Budget 900 for 3 voters: shares of 300. A (600) by v0, v1; B (300) by v2; C (400) by all.
THREE = Instance.single_budget((Project("A", 600), Project("B", 300), Project("C", 400)), 900)
THREE_VOTES = approvals("AC", "AC", "BC")


def test_plain_equal_shares_by_hand() -> None:
    # Cost utility: rho = what a supporter pays / the cost. C: 400/3 each, rho 1/3;
    # A: 300 each, rho 1/2; B: 300, rho 1. C first; everyone keeps 300 - 133.33 =
    # 166.67, so A (333.33 between v0 and v1 < 600) and B (166.67 < 300) are out.
    result = equal_shares(THREE, THREE_VOTES, completion="none")
    assert (result.selected, result.cost, result.objective) == (("C",), 400, 3)
    assert result.plan == (Allocation("pool", "C", 400),)
    c = result.explanation("C")
    assert c.code == "funded"
    assert c.numbers == {
        "support": 3,
        "cost": 400,
        "round": 1,
        "payers": 3,
        "supporters": 3,
        "max_payment": 134,  # 133.33 rounded up: nobody paid more
        "voter_share": 300,
        "from:pool": 400,  # which money paid: all of it from the one pot
    }
    assert c.text == (
        "Bought in round 1 of equal shares: 3 of its 3 supporters paid for it, "
        "none more than 1.34, from shares of 3.00 per voter. Paid from pool (4.00)."
    )
    a = result.explanation("A")
    assert a.code == "insufficient_shares"
    assert a.numbers == {"support": 2, "cost": 600, "supporters": 2, "left": 333}
    assert a.text == "Its 2 supporters had 3.33 left between them; it costs 6.00."
    assert_well_formed(result, THREE)


def test_add1_keeps_the_last_outcome_that_did_not_overspend() -> None:
    # Shares grow by 100 cents. At 400: C, then A has 2 * 266.67 < 600, B 266.67 < 300:
    # {C} again, and B would still fit (400 + 300 <= 900), so not exhaustive. At 500:
    # C, then A (300 each, rho 1/2) beats B (rho 1): 400 + 600 > 900 overspends, so
    # the outcome at 400 stands: {C}, although B fits. add1-greedy then adds B.
    add1 = equal_shares(THREE, THREE_VOTES)
    assert add1.selected == ("C",)
    assert add1.explanation("C").numbers["voter_share"] == 400
    assert add1.explanation("B").numbers["left"] == 26666 // 100
    full = equal_shares(THREE, THREE_VOTES, completion="add1-greedy")
    assert full.selected == ("B", "C")
    b = full.explanation("B")
    assert (b.code, b.funded, b.numbers["rank"]) == ("completion", True, 3)
    assert b.text == (
        "Added by the greedy completion: it still fit when its turn came (rank 3 of 3 by support)."
        " Paid from pool (3.00)."
    )
    a = full.explanation("A")
    assert a.numbers["completion_raisable"] == 500
    assert a.text.endswith("The greedy completion could not fit it either: only 5.00 remained.")
    for result in (add1, full):
        assert_well_formed(result, THREE)


def test_ties_go_to_the_smaller_id_as_a_string() -> None:
    # "10" < "9" as strings. Same cost, same two voters, each can only pay one.
    inst = Instance.single_budget((Project("9", 600), Project("10", 600)), 600)
    profile = Profile("approval", (Ballot("a", ("9", "10")), Ballot("b", ("10", "9"))))
    for completion in COMPLETIONS:
        assert equal_shares(inst, profile, completion=completion).selected == ("10",)


def test_cumulative_points_are_the_utility() -> None:
    # Budget 1200, shares of 400. P (900): points 4, 1, 1 -> rho = 900/6 = 150 per point
    # asks 600 of v0, who has 400: v0 pays all, the others 500 / 2 points = 250 each.
    # Q (600): v1, v2 give 2 points each -> 150 per point, 300 each. Q first (150 < 250);
    # then P's supporters hold 400 + 100 + 100 = 600 < 900. Greedy by points would take P.
    inst = Instance.single_budget((Project("P", 900), Project("Q", 600)), 1200)
    profile = Profile(
        "cumulative",
        (
            Ballot("v0", ("P",), (4,)),
            Ballot("v1", ("P", "Q"), (1, 2)),
            Ballot("v2", ("Q", "P"), (2, 1)),
        ),
    )
    result = equal_shares(inst, profile, completion="none")
    assert result.selected == ("Q",)
    assert result.objective == 4
    assert result.explanation("P").numbers["left"] == 600
    assert allocate(inst, profile, "greedy").selected == ("P",)


def test_ordinal_ballots_use_borda_scores() -> None:
    # Budget 300, shares of 100. Borda (L - 1 - position): v0 A2 B1, v1 A2 C1, v2 B1.
    # A (200, 4 points): 50 per point, 100 each; B (150, 2 points): 75; C (100, 1): 100.
    # A first and v0, v1 are empty: {A}, and C (100) still fits.
    # add1, shares of 200: A (100 each), then B (75 per point) beats C (100) but
    # 200 + 150 > 300 overspends: {A} stands. Greedy by Borda then adds C, not B.
    inst = Instance.single_budget((Project("A", 200), Project("B", 150), Project("C", 100)), 300)
    profile = Profile(
        "ordinal",
        (Ballot("v0", ("A", "B", "C")), Ballot("v1", ("A", "C", "B")), Ballot("v2", ("B", "C"))),
    )
    assert equal_shares(inst, profile, completion="none").selected == ("A",)
    assert equal_shares(inst, profile).selected == ("A",)
    assert equal_shares(inst, profile, completion="add1-greedy").selected == ("A", "C")


def test_exact_arithmetic_breaks_a_tie_that_floats_cannot_see() -> None:
    # rho(b) = (10**17 + 1) / (3 * 10**17) is just above rho(z) = 1/3, but both are the
    # same double. The floats would call it a tie and give it to "b" (smaller id); the
    # exact prices put z first. Budget 2 * 10**17 for 3 voters covers both.
    big = 10**17
    inst = Instance.single_budget((Project("b", big + 1), Project("z", 1)), 2 * big)
    profile = Profile(
        "cumulative",
        (
            Ballot("v0", ("b",), (15 * big // 10,)),
            Ballot("v1", ("b",), (15 * big // 10,)),
            Ballot("v2", ("z",), (3,)),
        ),
    )
    result = equal_shares(inst, profile, completion="none")
    assert result.selected == ("b", "z")
    assert result.explanation("z").numbers["round"] == 1
    assert result.explanation("b").numbers["round"] == 2


def test_engine_reports_exact_prices() -> None:
    # Two projects of cost 3 with 7 supporters each and shares of 3/7: everyone pays
    # all they have, rho = (3/7) / 3 = 1/7. Same price: rank 0 (project 1) first.
    electorate = Electorate([3, 3], [1, 0], [(0,), (1,)], [7, 7])
    outcome = run(electorate, Fraction(3, 7), lambda p: OK)
    assert [b.project for b in outcome.bought] == [1, 0]
    assert [outcome.rho(b) for b in outcome.bought] == [Fraction(1, 7), Fraction(1, 7)]
    assert [b.payers for b in outcome.bought] == [7, 7]
    assert outcome.left(0) == 0


def test_restricted_money_skips_what_cannot_be_funded() -> None:
    # 4 voters, pool 500 + food grant 500: shares of 250. mural (600, park) by v0-v2:
    # 200 each, rho 1/3, but only the pool may pay for it: skipped. pantry (300, food)
    # by v2, v3: 150 each, rho 1/2: bought. soup (400, food) by v3: 100 left.
    # add1 (+100): at 550 v3 keeps 400 after pantry and buys soup: exhaustive.
    food = frozenset({"food"})
    inst = Instance(
        (
            Project("mural", 600, "park"),
            Project("pantry", 300, "food"),
            Project("soup", 400, "food"),
        ),
        (Source("pool", 500), Source("food", 500, "grant", categories=food)),
    )
    profile = approvals(("mural",), ("mural",), ("mural", "pantry"), ("pantry", "soup"))
    plain = equal_shares(inst, profile, completion="none")
    assert plain.selected == ("pantry",)
    mural = plain.explanation("mural")
    assert mural.code == "insufficient_funds"
    assert mural.numbers["raisable"] == 500 and mural.numbers["round"] == 1
    assert_well_formed(plain, inst)
    add1 = equal_shares(inst, profile)
    assert add1.selected == ("pantry", "soup")
    assert add1.explanation("soup").numbers["voter_share"] == 550
    assert add1.used("food") == 500 and add1.used("pool") == 200
    assert_well_formed(add1, inst)


def test_zero_cost_projects_follow_pabutools() -> None:
    # With cost utility a free project is worth nothing to its approvers: equal shares
    # leaves it (as pabutools does), the greedy completion adds it.
    inst = Instance.single_budget((Project("A", 10), Project("free", 0)), 5)
    profile = approvals(("A", "free"), ("free",))
    for completion in ("none", "add1"):
        result = equal_shares(inst, profile, completion=completion)
        assert result.selected == ()
        assert codes(result)["free"] == "no_benefit"
    full = equal_shares(inst, profile, completion="add1-greedy")
    assert full.selected == ("free",) and codes(full)["free"] == "zero_cost"
    # With points a free project someone gave points to is bought up front.
    points = Profile("cumulative", (Ballot("v0", ("free", "A"), (1, 2)),))
    for completion in COMPLETIONS:
        result = equal_shares(inst, points, completion=completion)
        assert result.selected == ("free",) and codes(result)["free"] == "zero_cost"


def test_threshold_and_no_support() -> None:
    inst = Instance(
        (Project("A", 100), Project("B", 100), Project("Z", 50)), (Source("p", 300),), 2
    )
    profile = approvals("A", "AB", "A")
    result = equal_shares(inst, profile, completion="add1-greedy")
    assert codes(result) == {"A": "funded", "B": "below_threshold", "Z": "below_threshold"}
    assert result.selected == ("A",)
    no_min = Instance(inst.projects, inst.sources)
    plain = equal_shares(no_min, profile, completion="none")
    assert codes(plain)["Z"] == "no_support"
    assert plain.explanation("Z").text == "Nobody supports it, so no voter's share goes to it."
    full = equal_shares(no_min, profile, completion="add1-greedy")
    assert "Z" in full.selected and codes(full)["Z"] == "completion"


def test_no_voters_and_no_money() -> None:
    inst = Instance.single_budget((Project("A", 100),), 500)
    nobody = Profile("approval", ())
    for completion in ("none", "add1"):
        assert equal_shares(inst, nobody, completion=completion).selected == ()
    # The greedy completion considers projects nobody supports, as `greedy` does.
    assert equal_shares(inst, nobody, completion="add1-greedy").selected == ("A",)
    broke = Instance.single_budget((Project("A", 100),), 0)
    result = equal_shares(broke, approvals("A"))
    assert result.selected == () and codes(result)["A"] == "no_eligible_source"


def test_allocate_and_options() -> None:
    assert RULES == ("greedy", "equal-shares", "max-welfare")
    assert COMPLETIONS == ("add1", "none", "add1-greedy")
    default = allocate(THREE, THREE_VOTES, "equal-shares")
    assert default.selected == ("C",)
    assert default.input_sha256 == fingerprint(
        THREE, THREE_VOTES, "equal-shares", {"completion": "add1", "increment": 100}
    )
    hashes = {
        allocate(THREE, THREE_VOTES, "equal-shares", completion=c).input_sha256 for c in COMPLETIONS
    }
    assert len(hashes) == 3
    with pytest.raises(ValueError, match="unknown completion 'add2'"):
        allocate(THREE, THREE_VOTES, "equal-shares", completion="add2")
    with pytest.raises(ValueError, match="increment"):
        equal_shares(THREE, THREE_VOTES, increment=0)
    # Other rules ignore the completion, even a wrong one.
    assert allocate(THREE, THREE_VOTES, "greedy", completion="add2").selected == ("B", "C")
    with pytest.raises(ValueError, match="voted for unknown project 'X'"):
        equal_shares(THREE, approvals("AX"))


def test_increment_is_a_parameter() -> None:
    # A step of 1000 cents jumps from shares of 300 to 1300: C, then A (rho 1/2) is
    # bought and overspends at once, so {C} from the first run stands.
    assert equal_shares(THREE, THREE_VOTES, increment=1000).selected == ("C",)
    # A step of 50: at 350 and 400 {C} as before; at 450 C leaves 316.67 each, so A
    # (300 each, rho 1/2) is bought after it and overspends: the 400 outcome stands.
    assert equal_shares(THREE, THREE_VOTES, increment=50).selected == ("C",)


def test_supporters_who_paid_everything_are_empty_afterwards() -> None:
    # Shares of 100. A (200) takes everything from both voters (rho 1/2), before B (50,
    # v0 alone, rho 1). Afterwards v0 holds nothing, so B cannot be bought, and since
    # A + B would overspend, add1 keeps {A} as well.
    inst = Instance.single_budget((Project("A", 200), Project("B", 50)), 200)
    profile = approvals("AB", "A")
    for completion in ("none", "add1"):
        result = equal_shares(inst, profile, completion=completion)
        assert result.selected == ("A",)
        assert result.explanation("B").numbers["left"] == 0
