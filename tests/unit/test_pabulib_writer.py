"""Pabulib writer: whatever it writes, the reader reads back as the same election."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer import Ballot, Election, Profile, Project, read_pabulib
from optimizer.model import PROFILE_ALIASES
from optimizer.pabulib_writer import units, write_pabulib


def election(kind: str, ballots, *, meta=None, names=None, selected=None) -> Election:
    projects = (Project("1", 5000, "parks"), Project("2", 2550, None), Project("10", 1, "x"))
    return Election(
        meta={"description": "Test", "vote_type": kind, **(meta or {})},
        projects=projects,
        names=names or {"1": "Park", "2": "Library", "10": ""},
        budget_cents=10050,
        profile=Profile(PROFILE_ALIASES.get(kind, kind), tuple(ballots)),
        selected=selected,
    )


def same(a: Election, b: Election) -> None:
    assert b.projects == a.projects
    assert b.names == a.names
    assert b.budget_cents == a.budget_cents
    assert b.profile == a.profile
    assert b.selected == a.selected


def test_units() -> None:
    assert [units(c) for c in (0, 1, 10, 100, 2550, 154896100)] == [
        "0",
        "0.01",
        "0.1",
        "1",
        "25.5",
        "1548961",
    ]
    with pytest.raises(ValueError):
        units(-1)


@pytest.mark.parametrize(
    ("kind", "ballots"),
    [
        ("approval", [Ballot("a", ("1", "2")), Ballot("b", ()), Ballot("c", ("10",))]),
        ("choose-1", [Ballot("a", ("1",)), Ballot("b", ("10",))]),
        ("cumulative", [Ballot("a", ("1", "2"), (3, 2)), Ballot("b", ("10",), (0,))]),
        ("scoring", [Ballot("a", ("2", "1"), (1, 5))]),
        ("ordinal", [Ballot("a", ("10", "1", "2")), Ballot("b", ("2",))]),
    ],
)
def test_round_trip_per_vote_type(kind: str, ballots) -> None:
    original = election(kind, ballots, selected=frozenset({"1"}))
    text = write_pabulib(original)
    back = read_pabulib(text)
    same(original, back)
    assert back.meta["vote_type"] == kind
    assert back.meta["num_votes"] == str(len(ballots))
    assert back.meta["num_projects"] == "3" and back.meta["budget"] == "100.5"


def test_quotes_fields_and_writes_the_votes_column() -> None:
    original = election(
        "approval",
        [Ballot("v;1", ("1",)), Ballot('v"2', ("1", "2"))],
        meta={"description": 'A; "quoted" vote', "country": "Nowhere", "vote_type": "approval"},
        names={"1": 'Park; with "benches"', "2": "Two\nlines", "10": "Ten"},
    )
    text = write_pabulib(original)
    assert '"A; ""quoted"" vote"' in text
    assert text.splitlines()[2:4] == ['description;"A; ""quoted"" vote"', "country;Nowhere"]
    assert '1;50;2;"Park; with ""benches""";parks' in text
    assert "10;0.01;0;Ten;x" in text
    back = read_pabulib(text)
    same(original, back)
    assert back.meta["description"] == 'A; "quoted" vote'


def test_refuses_what_cannot_be_read_back() -> None:
    with pytest.raises(ValueError, match="two ballots"):
        write_pabulib(election("approval", [Ballot("a", ("1",)), Ballot("a", ("2",))]))
    with pytest.raises(ValueError, match="section marker|cannot be written"):
        write_pabulib(election("approval", [Ballot("votes", ())]))
    bad = Election({}, (Project("1,2", 100),), {}, 100, Profile("approval", ()))
    with pytest.raises(ValueError, match="vote list"):
        write_pabulib(bad)


# Printable text without the characters the format cannot carry at a field's edges.
_text = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="\ufeff"
    ),
    max_size=30,
).map(str.strip)
_ids = st.from_regex(r"[A-Za-z0-9/_-]{1,8}", fullmatch=True)


@st.composite
def elections(draw) -> Election:
    kind = draw(st.sampled_from(["approval", "cumulative", "ordinal"]))
    ids = draw(st.lists(_ids, min_size=1, max_size=6, unique=True))
    projects = tuple(
        Project(i, draw(st.integers(1, 10**12)), draw(st.none() | _text.filter(bool))) for i in ids
    )
    names = {i: draw(_text.filter(lambda s: s.lower() != "none")) for i in ids}
    projects = tuple(
        p if p.category is None or p.category.lower() != "none" else Project(p.id, p.cost)
        for p in projects
    )
    voters = draw(st.lists(_ids, max_size=8, unique=True))
    ballots = []
    for voter in voters:
        chosen = tuple(draw(st.lists(st.sampled_from(ids), unique=True)))
        if not chosen and voter.upper() in ("META", "PROJECTS", "VOTES"):
            chosen = (ids[0],)
        points = None
        if kind == "cumulative":
            points = tuple(draw(st.integers(0, 100)) for _ in chosen)
        ballots.append(Ballot(voter, chosen, points))
    return Election(
        meta={"description": draw(_text)},
        projects=projects,
        names=names,
        budget_cents=draw(st.integers(0, 10**12)),
        profile=Profile(kind, tuple(ballots)),
    )


@settings(max_examples=200, deadline=None)
@given(elections())
def test_any_election_reads_back_the_same(original: Election) -> None:
    same(original, read_pabulib(write_pabulib(original)))
