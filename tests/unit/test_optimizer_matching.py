"""Matching grants and earmarks by category, on small instances worked out by hand.

A grant with match_percent m may put into a project at most m/100 of the cents the
residents (pool and earmarks) put into it: 100 * grant <= m * residents.
"""

from __future__ import annotations

import pytest

from optimizer import (
    Allocation,
    Ballot,
    Instance,
    Profile,
    Project,
    Source,
    allocate,
    check_plan,
    equal_shares,
    feasible,
    fingerprint,
    fund,
    greedy,
    max_welfare,
    raisable,
)
from optimizer.canonical import canonical_input
from optimizer.flow import FundingFlow
from optimizer.flow import feasible as flow_feasible
from optimizer.funding import matching_cuts, x_key
from optimizer.matching import funding_for, ratio_text

from .test_optimizer_rules import approvals, assert_well_formed, codes


def city(amount: int, percent: int, **kwargs: object) -> Source:
    """The city's matching grant."""
    return Source("city", amount, "grant", match_percent=percent, **kwargs)  # type: ignore[arg-type]


def test_one_to_one_grant_covers_only_what_residents_put_in() -> None:
    # Mural 1000; pool 800; city grant 1000 matching 1:1. The grant is spent before the
    # pool, but it may give at most what the pool gives: grant 500 + pool 500. The pool
    # keeps 300.
    inst = Instance((Project("mural", 1000),), (Source("pool", 800), city(1000, 100)))
    assert fund(inst, ["mural"]) == (
        Allocation("city", "mural", 500),
        Allocation("pool", "mural", 500),
    )
    # With a pool of 400 at most 400 + 400 = 800 can be raised, though the grant alone
    # holds the full 1000: the max-flow (no ratio) says yes, the exact check says no.
    short = Instance(inst.projects, (Source("pool", 400), city(1000, 100)))
    assert flow_feasible(short, ["mural"])
    assert not feasible(short, ["mural"])
    assert fund(short, ["mural"]) is None
    assert raisable(short, [], "mural") == 800


def test_earmarks_count_as_resident_money() -> None:
    # Mural 1000; an earmarked pledge of 200 for it, pool 1000, city 1:1. Earmark first
    # (200), then the grant, then the pool: grant = residents = 500, so the pool gives
    # 500 - 200 = 300.
    inst = Instance(
        (Project("mural", 1000),),
        (
            Source("pool", 1000),
            Source("pledge", 200, "earmark", projects=frozenset({"mural"})),
            city(1000, 100),
        ),
    )
    assert fund(inst, ["mural"]) == (
        Allocation("city", "mural", 500),
        Allocation("pledge", "mural", 200),
        Allocation("pool", "mural", 300),
    )


def test_two_to_one() -> None:
    # Mural 900, city matches 2:1. grant <= 2 * pool and grant + pool = 900, so the pool
    # gives at least 300: grant 600, pool 300.
    inst = Instance((Project("mural", 900),), (Source("pool", 1000), city(1000, 200)))
    assert fund(inst, ["mural"]) == (
        Allocation("city", "mural", 600),
        Allocation("pool", "mural", 300),
    )
    # Pool 299: at most 299 + 2 * 299 = 897 < 900.
    short = Instance(inst.projects, (Source("pool", 299), city(1000, 200)))
    assert fund(short, ["mural"]) is None
    assert raisable(short, [], "mural") == 897


def test_fifty_percent_rounds_in_integers() -> None:
    # Mural 1000, city gives one cent per two resident cents: 100 * g <= 50 * r,
    # g + r = 1000. In reals r = 666.67; in cents r = 667, g = 333 (33300 <= 33350),
    # while r = 666, g = 334 breaks it (33400 > 33300).
    inst = Instance((Project("mural", 1000),), (Source("pool", 1000), city(1000, 50)))
    assert fund(inst, ["mural"]) == (
        Allocation("city", "mural", 333),
        Allocation("pool", "mural", 667),
    )
    bad = [Allocation("city", "mural", 334), Allocation("pool", "mural", 666)]
    assert check_plan(inst, ["mural"], bad) == ["match[city,mural]"]


def test_check_plan_rejects_a_plan_that_breaks_the_ratio() -> None:
    inst = Instance(
        (Project("mural", 1000), Project("bench", 300)),
        (Source("pool", 800), Source("seed", 300, "grant"), city(1000, 100)),
    )
    # 600 of grant against 400 of residents: 1:1 broken.
    over = [Allocation("city", "mural", 600), Allocation("pool", "mural", 400)]
    assert check_plan(inst, ["mural"], over) == ["match[city,mural]"]
    # Another grant's money is not resident money: 500 city against 200 pool + 300 seed.
    seeded = [
        Allocation("city", "mural", 500),
        Allocation("pool", "mural", 200),
        Allocation("seed", "mural", 300),
    ]
    assert check_plan(inst, ["mural"], seeded) == ["match[city,mural]"]
    # Residents' money in another project does not count either.
    elsewhere = [
        Allocation("city", "bench", 300),
        Allocation("city", "mural", 400),
        Allocation("pool", "mural", 600),
    ]
    assert check_plan(inst, ["bench", "mural"], elsewhere) == ["match[city,bench]"]
    ok = [Allocation("city", "mural", 500), Allocation("pool", "mural", 500)]
    assert check_plan(inst, ["mural"], ok) == []


def test_a_matching_grant_alone_funds_nothing() -> None:
    # Only the city may pay for the bench and there is no resident money beside it.
    inst = Instance((Project("bench", 100),), (city(1000, 100),))
    assert fund(inst, ["bench"]) is None
    result = greedy(inst, approvals({"bench": 2}))
    assert result.selected == ()
    assert result.explanation("bench").text == (
        "Needed 1.00; only 0.00 could still be raised from eligible sources when its turn "
        "came (rank 1 of 1 by support). The city grant only matches resident money 1:1 "
        "here, and residents' money for it was short; without matching, 1.00 could have "
        "been raised."
    )


def _skipped_by_matching() -> Instance:
    """Pool 400 and a city grant of 800 matching 1:1; projects a 600, b 600, c 200."""
    projects = (Project("a", 600), Project("b", 600), Project("c", 200))
    return Instance(projects, (Source("pool", 400), city(800, 100)))


def test_greedy_skips_a_project_the_ratio_makes_infeasible() -> None:
    # Order a (3), b (2), c (1). a: residents >= 300 of its 600, so pool 300 + city 300.
    # b: the max-flow would fund it (pool 100 + city 500 = 600 left), but with 1:1 only
    # pool 100 + city 100 = 200 can be raised: skipped. c: pool 100 + city 100: funded.
    # The plan is forced: the pool gives all 400 (300 to a, 100 to c), the city matches.
    inst = _skipped_by_matching()
    result = greedy(inst, approvals({"a": 3, "b": 2, "c": 1}))
    assert result.selected == ("a", "c")
    assert result.plan == (
        Allocation("city", "a", 300),
        Allocation("city", "c", 100),
        Allocation("pool", "a", 300),
        Allocation("pool", "c", 100),
    )
    b = result.explanation("b")
    assert b.code == "insufficient_funds"
    assert b.numbers["raisable"] == 200 and b.numbers["raisable_without_matching"] == 600
    assert b.text == (
        "Needed 6.00; only 2.00 could still be raised from eligible sources when its turn "
        "came (rank 2 of 3 by support). The city grant only matches resident money 1:1 "
        "here, and residents' money for it was short; without matching, 6.00 could have "
        "been raised."
    )
    assert_well_formed(result, inst)
    # The same money without the ratio funds a and b (1200 = 400 + 800).
    plain = Instance(inst.projects, (Source("pool", 400), Source("city", 800, "grant")))
    assert greedy(plain, approvals({"a": 3, "b": 2, "c": 1})).selected == ("a", "b")


def test_equal_shares_skips_the_same_project() -> None:
    # Three voters, 1200 in all: shares of 400. a and b cost 600 and are approved by all
    # three (price 1/3 each, a first by id); c (200) only by the third voter. a is bought
    # (200 each), b is affordable from the shares left but the ratio refuses it, c is
    # bought by the third voter. Nothing else fits, so add1 stops there too.
    inst = _skipped_by_matching()
    ab = ("a", "b")
    profile = Profile("approval", (Ballot("1", ab), Ballot("2", ab), Ballot("3", (*ab, "c"))))
    for completion in ("none", "add1", "add1-greedy"):
        result = equal_shares(inst, profile, completion=completion)
        assert result.selected == ("a", "c")
        assert_well_formed(result, inst)
        b = result.explanation("b")
        assert b.numbers["raisable"] == 200 and b.numbers["raisable_without_matching"] == 600
        assert "The city grant only matches resident money 1:1 here" in b.text


def test_max_welfare_chooses_another_set_because_of_matching() -> None:
    # Pool 600, city 1000. A 1000 (support 5), B and C 600 (support 3 each).
    # Without the ratio: 1600 of money, {A, B} (support 8, ties {A, C}; "B" < "C").
    # With 1:1: residents hold 600, so at most 1200 can be spent and each project needs
    # half its cost from the pool. {A, B} needs 1600: out. {B, C} needs 1200 (pool 300 +
    # city 300 each): support 6, beating {A} (5).
    projects = (Project("A", 1000), Project("B", 600), Project("C", 600))
    profile = approvals({"A": 5, "B": 3, "C": 3})
    plain = Instance(projects, (Source("pool", 600), Source("city", 1000, "grant")))
    assert max_welfare(plain, profile).selected == ("A", "B")
    inst = Instance(projects, (Source("pool", 600), city(1000, 100)))
    result = max_welfare(inst, profile)
    assert (result.selected, result.objective, result.status) == (("B", "C"), 6, "optimal")
    assert result.plan == (
        Allocation("city", "B", 300),
        Allocation("city", "C", 300),
        Allocation("pool", "B", 300),
        Allocation("pool", "C", 300),
    )
    a = result.explanation("A")
    assert a.code == "not_optimal" and a.numbers["support_lost"] == 1  # best with A: {A}
    assert_well_formed(result, inst)
    assert codes(allocate(inst, profile, "greedy")) == {
        "A": "funded",  # pool 500 + city 500
        "B": "insufficient_funds",  # 100 of pool left: 200 raisable
        "C": "insufficient_funds",
    }


def test_max_welfare_says_when_matching_makes_a_project_unfundable() -> None:
    # Pool 200: the mural (1000) can get 200 + 200 on its own; 1000 without the ratio.
    inst = Instance((Project("mural", 1000),), (Source("pool", 200), city(1000, 100)))
    mural = max_welfare(inst, approvals({"mural": 4})).explanation("mural")
    assert mural.code == "insufficient_funds"
    assert mural.numbers == {"cost": 1000, "raisable": 400, "raisable_without_matching": 1000}
    assert mural.text == (
        "Needed 10.00; even on its own at most 4.00 could be raised from eligible sources. "
        "The city grant only matches resident money 1:1 here, and residents' money for it "
        "was short; without matching, 10.00 could have been raised."
    )


def test_matching_elsewhere_can_leave_a_project_short() -> None:
    # The city matches food projects only. Soup (800, first) takes pool 400 + city 400;
    # the bench (park, 200) can only be paid by the pool, which has 100 left. Without the
    # ratio the city would have paid all of the soup and the pool all of the bench.
    inst = Instance(
        (Project("soup", 800, "food"), Project("bench", 200, "park")),
        (Source("pool", 500), city(1000, 100, categories=frozenset({"food"}))),
    )
    result = greedy(inst, approvals({"soup": 2, "bench": 1}))
    assert result.selected == ("soup",)
    assert result.explanation("bench").text.endswith(
        "Matching grants (city 1:1) needed residents' money for other projects, which left "
        "too little for it; without matching, 2.00 could have been raised."
    )


def test_instances_without_matching_keep_the_max_flow() -> None:
    plain = Instance((Project("a", 1),), (Source("pool", 1), Source("seed", 1, "grant")))
    assert isinstance(funding_for(plain), FundingFlow)
    assert not plain.matching
    assert Instance(plain.projects, (Source("pool", 1), city(1, 100))).matching


def test_ratio_text() -> None:
    assert [ratio_text(p) for p in (100, 200, 50, 150, 33)] == [
        "1:1",
        "2:1",
        "1:2",
        "3:2",
        "33:100",
    ]


def test_earmark_by_category() -> None:
    # A 500 pledge earmarked for park projects. It is spent first and only on park
    # projects; the preferred source pays the smaller ids: benches 300, then 200 of
    # trees. The pool pays the soup (300) and the rest of the trees (200), keeping 100.
    park = frozenset({"park"})
    greening = Source("greening", 500, "earmark", categories=park)
    projects = (
        Project("trees", 400, "park"),
        Project("benches", 300, "park"),
        Project("soup", 300, "food"),
    )
    inst = Instance(projects, (Source("pool", 600), greening))
    assert greening.tier == 0 and greening.restricted and greening.resident
    assert greening.eligible(projects[0]) and not greening.eligible(projects[2])
    assert greening.limit(projects[0]) == 400 and greening.limit(projects[2]) == 0
    assert fund(inst, ["trees", "benches", "soup"]) == (
        Allocation("greening", "benches", 300),
        Allocation("greening", "trees", 200),
        Allocation("pool", "soup", 300),
        Allocation("pool", "trees", 200),
    )
    # With projects and categories both named, both must hold (as for grants).
    both = Source("e", 50, "earmark", projects=frozenset({"soup", "trees"}), categories=park)
    assert [both.eligible(p) for p in projects] == [True, False, False]


def test_earmark_for_several_projects_is_capped_by_its_amount() -> None:
    # A 500 pledge for a or b (400 each) gives up to 500 across both, not 500 each:
    # a 400 (smaller id first), b 100; the pool pays b's other 300 and c's 400.
    projects = (Project("a", 400), Project("b", 400), Project("c", 400))
    pledge = Source("pledge", 500, "earmark", projects=frozenset({"a", "b"}))
    inst = Instance(projects, (Source("pool", 1000), pledge))
    plan = fund(inst, ["a", "b", "c"])
    assert plan == (
        Allocation("pledge", "a", 400),
        Allocation("pledge", "b", 100),
        Allocation("pool", "b", 300),
        Allocation("pool", "c", 400),
    )
    # With a pool of 200, a and b (800) exceed pledge + pool (700); a alone fits, and
    # b could then still raise the pledge's last 100 plus the pool's 200.
    small = Instance(projects, (Source("pool", 200), pledge))
    assert fund(small, ["a", "b"]) is None
    assert feasible(small, ["a"]) and raisable(small, ["a"], "b") == 300
    over = [Allocation("pledge", "a", 400), Allocation("pledge", "b", 300)]
    assert check_plan(small, ["a"], over) == ["source_amount[pledge]", "full_cost[b]"]


@pytest.mark.parametrize("kind", ["pool", "earmark"])
def test_only_grants_may_match(kind: str) -> None:
    with pytest.raises(ValueError, match="only a grant can have match_percent"):
        Source("s", 10, kind, projects=frozenset({"a"}), match_percent=100)


@pytest.mark.parametrize("percent", [0, -50, True, 1.5, "100"])
def test_match_percent_must_be_a_positive_integer(percent: object) -> None:
    with pytest.raises(ValueError, match="positive integer"):
        Source("g", 10, "grant", match_percent=percent)  # type: ignore[arg-type]


def test_an_earmark_must_name_projects_or_categories() -> None:
    with pytest.raises(ValueError, match="must name its projects or categories"):
        Source("e", 10, "earmark")
    assert Source("e", 10, "earmark", categories=frozenset({"park"})).projects is None


def test_canonical_input_records_the_ratio() -> None:
    profile = Profile("approval", ())
    project = (Project("a", 100),)
    plain = Instance(project, (Source("pool", 100), Source("g", 100, "grant")))
    matched = Instance(project, (Source("pool", 100), Source("g", 100, "grant", match_percent=200)))
    assert b'"match_percent":null' in canonical_input(plain, profile, "greedy", {})
    assert b'"match_percent":200' in canonical_input(matched, profile, "greedy", {})
    assert fingerprint(plain, profile, "greedy") != fingerprint(matched, profile, "greedy")


def test_the_rounding_cut_asks_whole_cents_of_residents() -> None:
    # A 10-cent project, the pool, a 1:2 grant and a second, unmatched grant. In fractional
    # cents residents could give 6.67 and the 1:2 grant 3.33; in whole cents the grant
    # gives at most 3, so residents and the unmatched grant together give at least 7.
    bench = Project("bench", 10)
    pool, half, other = Source("pool", 20), city(20, 50), Source("fund", 20, "grant")
    pairs = [(pool, bench), (half, bench), (other, bench)]
    (cut,) = matching_cuts([bench], pairs)
    assert cut.sense == ">=" and cut.rhs == 7
    assert dict(cut.terms) == {x_key("pool", "bench"): 1, x_key("fund", "bench"): 1}
    # Every whole-cent plan of the project keeps it, and it cuts off the fractional one.
    for grant in range(11):
        for resident in range(11 - grant):
            fund_cents = 10 - grant - resident
            if 100 * grant <= 50 * resident:
                assert resident + fund_cents >= 7
    # A 1:1 grant has no fractional part to round: no cut.
    assert list(matching_cuts([bench], [(pool, bench), (city(20, 100), bench)])) == []


def test_most_cents_by_rounding_agrees_with_the_whole_model() -> None:
    # Three funded projects at 1:2 (each needs ceil(2C/3) resident cents) and a fourth
    # asking what is left of the pool: 100 - 7 - 8 - 14 = 71 cents (72.67 in fractions).
    projects = (Project("a", 10), Project("b", 11), Project("c", 20), Project("d", 500))
    inst = Instance(projects, (Source("pool", 100), city(100, 50, projects=frozenset("abc"))))
    assert raisable(inst, ["a", "b", "c"], "d") == 100 - 7 - 8 - 14
