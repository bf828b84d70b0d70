"""Pure helpers of the allocation pages: who got a funded project, and the checks on
"only with" links (cycles, projects that could never be funded)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

import optimizer
from pooling.allocation import titled, voters_served
from pooling.constraint_graph import closure, never_fundable, path, requires


def test_voters_served_counts_positive_support_of_each_ballot_kind():
    approval = optimizer.Profile(
        "approval",
        (
            optimizer.Ballot("a", ("1", "2")),
            optimizer.Ballot("b", ("3",)),
            optimizer.Ballot("c", ()),
        ),
    )
    assert voters_served(approval, {"2"}) == 1 and voters_served(approval, {"2", "3"}) == 2
    points = optimizer.Profile(
        "cumulative",
        (optimizer.Ballot("a", ("1", "2"), (0, 5)), optimizer.Ballot("b", ("1",), (3,))),
    )
    assert voters_served(points, {"1"}) == 1  # a gave "1" no points
    # Borda: a ballot of length L gives L-1-position, so its last choice earns nothing.
    ranked = optimizer.Profile(
        "ordinal",
        (optimizer.Ballot("a", ("1", "2", "3")), optimizer.Ballot("b", ("3",))),
    )
    assert voters_served(ranked, {"3"}) == 0 and voters_served(ranked, {"2"}) == 1


def test_titled_names_only_the_given_projects():
    text = "Funded only together with “3”, which was not funded; area “12” is full."
    assert titled(text, [3], {3: "Garden", 12: "Tutoring"}) == (
        "Funded only together with “Garden”, which was not funded; area “12” is full."
    )


edges = st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), max_size=12)


def reaches(pairs: list[tuple[int, int]], start: int, goal: int) -> bool:
    """Obviously correct: grow the set of nodes reachable from start until it stops."""
    seen = {start}
    while True:
        more = {a for b, a in pairs if b in seen} - seen
        if not more:
            return goal in seen
        seen |= more


@given(edges)
def test_a_link_closes_a_cycle_exactly_when_its_target_reaches_back(candidates):
    kept: list[tuple[int, int]] = []
    for b, a in candidates:
        if a == b:
            continue
        chain = path(requires(kept), a, b)
        assert (chain is not None) == reaches(kept, a, b)
        if chain is not None:
            assert chain[0] == a and chain[-1] == b
            assert all((x, y) in kept for x, y in zip(chain, chain[1:], strict=False))
            continue  # refused, as the service refuses it
        kept.append((b, a))
    for node in range(6):  # what was kept has no cycle
        assert not any(reaches(kept, a, node) for b, a in kept if b == node)


def test_a_project_needing_two_of_a_group_could_never_be_funded():
    titles = {1: "A", 2: "B", 3: "C", 4: "D"}
    pairs = [(1, 2), (2, 3)]  # A only with B, B only with C
    assert closure(requires(pairs), 1) == {1, 2, 3}
    assert never_fundable(pairs, [{2, 4}], titles) is None
    assert never_fundable(pairs, [{1, 3}], titles) == (
        "“A” needs “C”, which is incompatible with it: “A” could never be funded."
    )
    assert never_fundable(pairs, [{2, 3}], titles) == (
        "“A” needs “B” and “C”, which are incompatible with each other: “A” could never be funded."
    )
