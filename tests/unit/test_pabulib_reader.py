"""Pabulib reader on small files written here: formats it must accept, errors it must name."""

from __future__ import annotations

from pathlib import Path

import pytest

from optimizer import PabulibError, Project, greedy, read_pabulib, support

GOOD = '''META
key;value
description;"Test; with ""quotes"""
budget;100,50
vote_type;approval
PROJECTS
project_id;cost;name;category;selected
1;50;"Park; with ""benches""";None;1
2;25.5;Library;culture;0
10;30;None;culture;1
VOTES
voter_id;vote;age
v1;1,2;30
v2;10;None
v3;None;41
'''


def lines_of(text: str) -> list[str]:
    return text.splitlines()


def test_reads_a_small_file() -> None:
    election = read_pabulib(GOOD)
    assert election.budget_cents == 10050  # decimal comma
    assert election.meta["description"] == 'Test; with "quotes"'
    assert election.meta["vote_type"] == "approval"
    assert election.projects == (
        Project("1", 5000, None),  # "None" cell
        Project("2", 2550, "culture"),
        Project("10", 3000, "culture"),
    )
    assert election.names == {"1": 'Park; with "benches"', "2": "Library", "10": ""}
    assert election.selected == frozenset({"1", "10"})
    assert election.profile.kind == "approval"
    assert [b.projects for b in election.profile.ballots] == [("1", "2"), ("10",), ()]
    instance = election.instance()
    assert instance.sources[0].amount == 10050 and instance.min_support is None
    assert support(instance, election.profile) == {"1": 1, "2": 1, "10": 1}


@pytest.mark.parametrize("encoding", ["lf", "crlf", "bom", "bom-crlf", "cr"])
def test_bom_and_line_endings(encoding: str, tmp_path: Path) -> None:
    text = GOOD.replace("\n", "\r\n") if "crlf" in encoding else GOOD
    text = text.replace("\n", "\r") if encoding == "cr" else text
    data = ("\ufeff" if "bom" in encoding else "") + text
    path = tmp_path / "election.pb"
    path.write_bytes(data.encode("utf-8"))
    for source in (path, str(path), data.encode("utf-8"), data):
        election = read_pabulib(source)
        assert election.budget_cents == 10050
        assert election.meta["description"] == 'Test; with "quotes"'
        assert [p.id for p in election.projects] == ["1", "2", "10"]


def test_budget_with_decimal_point_and_threshold() -> None:
    text = GOOD.replace("budget;100,50", "budget;1234.5\nmin_project_score_threshold;2")
    election = read_pabulib(text)
    assert election.budget_cents == 123450
    assert election.min_support == 2
    assert election.instance().min_support == 2
    assert greedy(election.instance(), election.profile).selected == ()


def test_cumulative_and_ordinal_votes() -> None:
    cumulative = GOOD.replace("vote_type;approval", "vote_type;cumulative").replace(
        "voter_id;vote;age\nv1;1,2;30\nv2;10;None\nv3;None;41",
        "voter_id;vote;points\nv1;1,2;3,2\nv2;10;5",
    )
    election = read_pabulib(cumulative)
    assert support(election.instance(), election.profile) == {"1": 3, "2": 2, "10": 5}
    ordinal = cumulative.replace("vote_type;cumulative", "vote_type;ordinal").replace(
        "v1;1,2;3,2", "v1;2,10,1;3,2,1"
    )
    election = read_pabulib(ordinal)
    assert election.profile.kind == "ordinal"
    assert election.profile.ballots[0].points is None  # points ignored for ordinal votes
    assert support(election.instance(), election.profile) == {"1": 0, "2": 2, "10": 1}
    scoring = cumulative.replace("vote_type;cumulative", "vote_type;scoring")
    assert read_pabulib(scoring).profile.kind == "cumulative"
    choose = GOOD.replace("vote_type;approval", "vote_type;choose-1")
    assert read_pabulib(choose).profile.kind == "approval"


def test_multiline_quoted_field_keeps_physical_line_numbers() -> None:
    text = GOOD.replace('"Park; with ""benches"""', '"Park\nover two lines"').replace(
        "v2;10;None", "v2;7;None"
    )
    with pytest.raises(PabulibError) as caught:
        read_pabulib(text)
    assert str(caught.value) == "line 15: vote for unknown project '7'"
    assert (
        read_pabulib(text.replace("v2;7;None", "v2;10;None")).names["1"] == "Park\nover two lines"
    )


def replace_line(number: int, new: str) -> str:
    lines = lines_of(GOOD)
    lines[number - 1] = new
    return "\n".join(lines) + "\n"


ERRORS = [
    # (1-based line to replace, new content, expected line, expected reason)
    (14, "v2;7;None", 14, "vote for unknown project '7'"),
    (9, "2;abc;Library;culture;0", 9, "cost 'abc' is not a non-negative number"),
    (9, "2;25.505;Library;culture;0", 9, "cost '25.505' has more than 2 decimals"),
    (9, "2;-5;Library;culture;0", 9, "cost '-5' is not a non-negative number"),
    (9, "1;25;Library;culture;0", 9, "duplicate project id '1'"),
    (9, "2;25;Library", 9, "expected 5 fields, found 3"),
    (7, "project_id;price;name;category;selected", 7, "PROJECTS header has no 'cost' column"),
    (12, "voter;vote;age", 12, "VOTES header has no 'voter_id' column"),
    (4, "budget;12.345", 4, "budget '12.345' has more than 2 decimals"),
    (4, "budgets;100", 1, "META has no budget"),
    (5, "vote_type;veto", 5, "unsupported vote_type 'veto'"),
    (14, "v1;10;None", 14, "voter 'v1' votes twice"),
    (14, "v2;10,10;None", 14, "the same project appears twice in one vote"),
    (1, "PROJECTS", 1, "section PROJECTS where META was expected"),
    (3, 'description;"unclosed"x', 3, "bad CSV"),
]


@pytest.mark.parametrize(("number", "new", "line", "reason"), ERRORS)
def test_errors_name_the_line(number: int, new: str, line: int, reason: str) -> None:
    with pytest.raises(PabulibError) as caught:
        read_pabulib(replace_line(number, new))
    assert caught.value.line == line
    assert caught.value.reason.startswith(reason)
    assert str(caught.value).startswith(f"line {line}: {reason}")


def test_points_length_mismatch() -> None:
    text = GOOD.replace("vote_type;approval", "vote_type;cumulative").replace(
        "voter_id;vote;age\nv1;1,2;30", "voter_id;vote;points\nv1;1,2;3"
    )
    with pytest.raises(PabulibError) as caught:
        read_pabulib(text)
    assert str(caught.value) == "line 13: 2 projects but 1 points in this vote"
    missing = text.replace("voter_id;vote;points", "voter_id;vote;score")
    with pytest.raises(PabulibError, match="line 12: cumulative votes need a 'points' column"):
        read_pabulib(missing)
    bad = text.replace("v1;1,2;3", "v1;1,2;3,x")
    with pytest.raises(PabulibError, match="line 13: points 'x' is not an integer"):
        read_pabulib(bad)


def test_missing_sections() -> None:
    without_votes = GOOD[: GOOD.index("VOTES")]
    with pytest.raises(PabulibError) as caught:
        read_pabulib(without_votes)
    assert str(caught.value) == "line 10: missing VOTES section"
    with pytest.raises(PabulibError, match="line 1: the file must start with a META section"):
        read_pabulib("key;value\nbudget;1\n")
    with pytest.raises(PabulibError, match="line 6: PROJECTS section has no header row"):
        read_pabulib(GOOD.replace("project_id;cost;name;category;selected\n", "").split("1;50")[0])


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.pb"
    path.write_bytes(GOOD.replace("Library", "Biblioth\u00e8que").encode("latin-1"))
    with pytest.raises(PabulibError, match="line 9: file is not UTF-8"):
        read_pabulib(path)
