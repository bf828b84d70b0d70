"""Every rule of every ballot (surveys.ballots), with property tests: no accepted ballot
breaks a rule, and every refused one gets a message tied to a field."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from surveys.ballots import (
    APPROVAL,
    BALLOT_TYPES,
    CUMULATIVE,
    KNAPSACK,
    RANKED,
    BallotSettings,
    check_priority_ranking,
    check_project_ballot,
    check_settings,
    min_spend_cents,
)

PROJECTS = {1: 300_00, 2: 400_00, 3: 500_00, 4: 100_00}  # id -> cost in cents
AREAS = {10, 11, 12}


def fields(errors):
    return [f for f, _ in errors]


def messages(errors):
    return " ".join(m for _, m in errors)


# -- approval ------------------------------------------------------------------------


def test_approval_needs_at_least_one_project_by_default():
    s = BallotSettings(APPROVAL)
    assert check_project_ballot(s, PROJECTS, set()) == [("votes", "Approve at least one project.")]
    assert check_project_ballot(s, PROJECTS, {1, 2, 3, 4}) == []


def test_approval_min_and_max():
    s = BallotSettings(APPROVAL, min_approvals=2, max_approvals=3)
    assert check_project_ballot(s, PROJECTS, {1}) == [
        ("votes", "Approve at least 2 projects (you chose 1).")
    ]
    assert check_project_ballot(s, PROJECTS, {1, 2, 3, 4}) == [
        ("votes", "Approve at most 3 projects (you chose 4).")
    ]
    assert check_project_ballot(s, PROJECTS, {1, 2}) == []
    assert check_project_ballot(s, PROJECTS, {1, 2, 3}) == []


def test_approval_only_of_this_rounds_projects_and_as_a_set():
    s = BallotSettings(APPROVAL)
    assert fields(check_project_ballot(s, PROJECTS, {1, 99})) == ["votes"]
    assert fields(check_project_ballot(s, PROJECTS, {1: 1})) == ["votes"]


# -- knapsack ------------------------------------------------------------------------


def test_knapsack_total_must_fit_the_budget():
    s = BallotSettings(KNAPSACK, budget_cents=800_00)
    assert check_project_ballot(s, PROJECTS, {1, 2}) == []  # 700 <= 800
    assert check_project_ballot(s, PROJECTS, {1, 2, 4}) == []  # exactly 800
    errors = check_project_ballot(s, PROJECTS, {2, 3})  # 900
    assert fields(errors) == ["votes"]
    assert "$900.00, more than the budget of $800.00" in messages(errors)
    assert fields(check_project_ballot(s, PROJECTS, set())) == ["votes"]


def test_knapsack_minimum_share_of_the_budget_rounds_up():
    s = BallotSettings(KNAPSACK, budget_cents=1000_01, min_spend_percent=50)
    assert min_spend_cents(s) == 500_01  # 50% of 1000.01 is 500.005: at least 500.01
    errors = check_project_ballot(s, PROJECTS, {2, 4})  # 500.00
    assert errors == [
        ("votes", "Spend at least 50% of the budget ($500.01); your projects cost $500.00.")
    ]
    assert check_project_ballot(s, PROJECTS, {3, 4}) == []  # 600


def test_knapsack_money_in_the_communitys_currency():
    s = BallotSettings(KNAPSACK, budget_cents=100_00)
    assert "€" in messages(check_project_ballot(s, PROJECTS, {3}, currency="EUR"))


# -- cumulative ----------------------------------------------------------------------


def test_cumulative_exact_total():
    s = BallotSettings(CUMULATIVE, points_total=10)
    assert check_project_ballot(s, PROJECTS, {1: 6, 2: 4}) == []
    assert check_project_ballot(s, PROJECTS, {1: 6, 2: 3}) == [
        ("votes", "Spread exactly 10 points (you gave 9).")
    ]
    assert check_project_ballot(s, PROJECTS, {1: 6, 2: 5}) == [
        ("votes", "Spread exactly 10 points (you gave 11).")
    ]


def test_cumulative_at_most_total():
    s = BallotSettings(CUMULATIVE, points_total=10, points_exact=False)
    assert check_project_ballot(s, PROJECTS, {1: 3}) == []
    assert check_project_ballot(s, PROJECTS, {1: 3, 2: 0}) == []
    assert fields(check_project_ballot(s, PROJECTS, {1: 11})) == ["votes"]
    assert check_project_ballot(s, PROJECTS, {1: 0}) == [
        ("votes", "Give at least one point to a project.")
    ]


def test_cumulative_cap_and_negatives_point_at_the_project():
    s = BallotSettings(CUMULATIVE, points_total=10, points_cap=4)
    assert check_project_ballot(s, PROJECTS, {1: 4, 2: 4, 3: 2}) == []
    assert check_project_ballot(s, PROJECTS, {1: 5, 2: 5}) == [
        ("project_1", "Give at most 4 points to one project."),
        ("project_2", "Give at most 4 points to one project."),
    ]
    assert check_project_ballot(s, PROJECTS, {1: -2, 2: 4, 3: 4, 4: 4}) == [
        ("project_1", "Give a whole number of points, 0 or more.")
    ]
    assert fields(check_project_ballot(s, PROJECTS, {99: 4})) == ["votes"]
    assert fields(check_project_ballot(s, PROJECTS, {1, 2})) == ["votes"]


# -- ranked --------------------------------------------------------------------------


def test_ranked_contiguous_without_repeats_up_to_k():
    s = BallotSettings(RANKED, rank_limit=2)
    assert check_project_ballot(s, PROJECTS, {3: 1}) == []
    assert check_project_ballot(s, PROJECTS, {3: 1, 1: 2}) == []
    assert check_project_ballot(s, PROJECTS, {}) == [("votes", "Rank at least one project.")]
    assert check_project_ballot(s, PROJECTS, {3: 2}) == [
        ("votes", "Use ranks 1 to 1 without a gap: nothing is ranked 1.")
    ]
    assert check_project_ballot(s, PROJECTS, {3: 3, 1: 1}) == [
        ("project_3", "Choose a rank from 1 to 2.")
    ]
    errors = check_project_ballot(s, PROJECTS, {3: 1, 1: 1})
    assert fields(errors) == ["project_1", "project_3", "votes"]
    assert "Give each project a different rank" in messages(errors)


def test_ranked_without_a_limit_takes_every_project():
    s = BallotSettings(RANKED)
    assert check_project_ballot(s, PROJECTS, {1: 1, 2: 2, 3: 3, 4: 4}) == []
    assert fields(check_project_ballot(s, PROJECTS, {1: 1, 2: 2, 4: 4})) == ["votes"]
    assert fields(check_project_ballot(s, PROJECTS, {9: 1})) == ["votes"]


# -- priority ranking ----------------------------------------------------------------


def test_priority_ranking_of_every_area():
    s = BallotSettings()
    assert check_priority_ranking(s, AREAS, {10: 2, 11: 1, 12: 3}) == []
    assert check_priority_ranking(s, AREAS, {10: 1, 11: 2}) == [
        ("priorities", "Rank every priority area.")
    ]
    errors = check_priority_ranking(s, AREAS, {10: 1, 11: 1, 12: 2})
    assert fields(errors) == ["area_10", "area_11", "priorities"]
    assert "Give each priority area a different rank, from 1 (most important) to 3." in messages(
        errors
    )


def test_priority_ranking_of_the_top_k():
    s = BallotSettings(priority_rank_limit=2)
    assert check_priority_ranking(s, AREAS, {12: 1}) == []
    assert check_priority_ranking(s, AREAS, {12: 1, 10: 2}) == []
    assert check_priority_ranking(s, AREAS, {12: 1, 10: 3}) == [
        ("area_10", "Choose a rank from 1 to 2.")
    ]
    assert check_priority_ranking(s, AREAS, {}) == [
        ("priorities", "Rank at least one priority area.")
    ]
    assert fields(check_priority_ranking(s, AREAS, {12: 2})) == ["priorities"]


# -- settings ------------------------------------------------------------------------


def test_settings_rules():
    def check(**kw):
        return fields(check_settings(BallotSettings(**kw), project_count=4, area_count=3))

    assert check() == []
    assert check(ballot_type="plurality") == ["ballot_type"]
    assert check(min_approvals=3, max_approvals=2) == ["min_approvals"]
    assert check(min_approvals=5) == ["min_approvals"]
    assert check(max_approvals=0) == ["max_approvals"]
    assert check(ballot_type=KNAPSACK) == ["budget_cents"]
    assert check(ballot_type=KNAPSACK, budget_cents=100, min_spend_percent=101) == [
        "min_spend_percent"
    ]
    assert check(ballot_type=KNAPSACK, budget_cents=100, min_spend_percent=80) == []
    assert check(ballot_type=CUMULATIVE) == ["points_total"]
    assert check(ballot_type=CUMULATIVE, points_total=10, points_cap=11) == ["points_cap"]
    assert check(ballot_type=CUMULATIVE, points_total=10, points_cap=2) == ["points_cap"]
    assert check(ballot_type=CUMULATIVE, points_total=10, points_cap=2, points_exact=False) == []
    assert check(ballot_type=CUMULATIVE, points_total=10, points_cap=3) == []
    assert check(ballot_type=RANKED, rank_limit=5) == ["rank_limit"]
    assert check(ballot_type=RANKED, rank_limit=4) == []
    assert check(priority_rank_limit=4) == ["priority_rank_limit"]
    assert check(priority_rank_limit=0) == ["priority_rank_limit"]


# -- properties ----------------------------------------------------------------------

small = st.integers(min_value=1, max_value=6)


@st.composite
def rounds(draw):
    """Valid settings for a round with some projects."""
    kind = draw(st.sampled_from(BALLOT_TYPES))
    count = draw(st.integers(min_value=1, max_value=6))
    projects = {
        i: draw(st.integers(min_value=1, max_value=1000)) * 100 for i in range(1, count + 1)
    }
    kw: dict = {"ballot_type": kind}
    if kind == APPROVAL:
        kw["min_approvals"] = draw(st.none() | st.integers(1, count))
        kw["max_approvals"] = draw(st.none() | st.integers(kw["min_approvals"] or 1, count + 2))
    elif kind == KNAPSACK:
        kw["budget_cents"] = draw(st.integers(min_value=100, max_value=3000 * 100))
        kw["min_spend_percent"] = draw(st.none() | st.integers(1, 100))
    elif kind == CUMULATIVE:
        kw["points_total"] = draw(st.integers(1, 12))
        kw["points_exact"] = draw(st.booleans())
        kw["points_cap"] = draw(st.none() | st.integers(1, kw["points_total"]))
        if (
            kw["points_exact"]
            and kw["points_cap"]
            and kw["points_cap"] * count < kw["points_total"]
        ):
            kw["points_cap"] = None
    else:
        kw["rank_limit"] = draw(st.none() | st.integers(1, count))
    s = BallotSettings(**kw)
    assert check_settings(s, project_count=count, area_count=3) == []
    return s, projects


ids = st.integers(min_value=0, max_value=8)  # 0, 7 and 8 are never projects
choices = st.sets(ids, max_size=8) | st.dictionaries(
    ids, st.integers(min_value=-2, max_value=14), max_size=8
)


def breaks_a_rule(s: BallotSettings, projects: dict[int, int], choice) -> bool:
    """An independent statement of the rules: True when the ballot must be refused."""
    if s.ballot_type in (APPROVAL, KNAPSACK):
        if isinstance(choice, dict) or not choice or not set(choice) <= set(projects):
            return True
        if s.ballot_type == APPROVAL:
            n = len(choice)
            return n < (s.min_approvals or 1) or (
                s.max_approvals is not None and n > s.max_approvals
            )
        spent = sum(projects[p] for p in choice)
        return spent > s.budget_cents or 100 * spent < s.budget_cents * (s.min_spend_percent or 0)
    if not isinstance(choice, dict) or not set(choice) <= set(projects):
        return True
    values = list(choice.values())
    if s.ballot_type == CUMULATIVE:
        total = sum(values)
        return (
            any(v < 0 for v in values)
            or (s.points_cap is not None and any(v > s.points_cap for v in values))
            or total == 0
            or total > s.points_total
            or (s.points_exact and total != s.points_total)
        )
    k = min(s.rank_limit or len(projects), len(projects))
    return not values or sorted(values) != list(range(1, len(values) + 1)) or len(values) > k


def field_ok(field: str, projects) -> bool:
    if field in ("votes",):
        return True
    return field.startswith("project_") and int(field.removeprefix("project_")) in projects


@settings(max_examples=600, deadline=None)
@given(rounds(), choices)
def test_accepted_ballots_keep_every_rule_and_refused_ones_say_where(round_, choice):
    s, projects = round_
    errors = check_project_ballot(s, projects, choice)
    assert bool(errors) == breaks_a_rule(s, projects, choice), (s, projects, choice, errors)
    for field, message in errors:
        assert field_ok(field, projects), (field, errors)
        assert message.strip().endswith((".", ":")) and len(message) > 10


@settings(max_examples=400, deadline=None)
@given(
    st.none() | st.integers(1, 4),
    st.dictionaries(st.integers(9, 14), st.integers(-1, 5), max_size=6),
)
def test_priority_rankings_accepted_only_when_contiguous_and_within_k(limit, ranks):
    s = BallotSettings(priority_rank_limit=limit)
    areas = {10, 11, 12, 13}
    errors = check_priority_ranking(s, areas, ranks)
    k = min(limit or 4, 4)
    values = sorted(ranks.values())
    valid = (
        set(ranks) <= areas
        and bool(ranks)
        and values == list(range(1, len(values) + 1))
        and len(values) <= k
        and (limit is not None and limit < 4 or len(values) == 4)
    )
    assert bool(errors) == (not valid), (limit, ranks, errors)
    for field, _ in errors:
        assert field == "priorities" or (
            field.startswith("area_") and int(field.removeprefix("area_")) in areas
        )
