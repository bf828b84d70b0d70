"""Pabulib import and export of rounds: `commonpot round import|export` and the download.

Through the app's CLI runner on SQLite and PostgreSQL, and through the installed command
in a subprocess on SQLite.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from commonpot.audit import AuditEvent
from commonpot.audit_chain import verify_chain
from commonpot.codes import ALPHABET
from commonpot.extensions import db
from commonpot.models import BallotType, FundingRound, Project, RoundStatus
from optimizer import Election, read_pabulib
from surveys import pabulib_io
from surveys.models import ProjectVote, Response, ResponseSource, RollMember
from tests import factories
from tests.integration.test_cli import run

PABULIB = Path(__file__).resolve().parents[3] / "shared" / "pabulib"

APPROVAL = '''META
key;value
description;"Parks; and ""benches"""
country;Utopia
unit;Eastside
instance;2024
budget;1000.50
vote_type;approval
date_begin;02.10.2023
date_end;31.10.2023
max_length;3
PROJECTS
project_id;cost;votes;name;category
p1;600;3;"Bench; by the ""pond""";parks,green
p2;250.5;2;Bins;waste
p3;500;2;;Parks
VOTES
voter_id;vote;age
v1;p1,p2;30
v2;p1,p3;41
v3;p1;None
v4;p2,p3;22
v5;;50
'''

CUMULATIVE = """META
key;value
description;Points
budget;900
vote_type;cumulative
max_sum_points;5
PROJECTS
project_id;cost;name
1;300;One
2;400;Two
3;500;Three
VOTES
voter_id;vote;points
a;1,2;3,2
b;3;5
c;2,1,3;1,1,1
d;2;0
"""

ORDINAL = """META
key;value
description;Ranks
budget;900
vote_type;ordinal
PROJECTS
project_id;cost;name
10;300;Ten
20;400;Twenty
30;500;Thirty
VOTES
voter_id;vote
x;30,10
y;10,20,30
z;20
"""

CHOOSE_1 = (
    APPROVAL.replace("vote_type;approval", "vote_type;choose-1")
    .replace("v1;p1,p2;30", "v1;p2;30")
    .replace("v2;p1,p3;41", "v2;p3;41")
    .replace("v4;p2,p3;22", "v4;p2;22")
)

SCORING = CUMULATIVE.replace("vote_type;cumulative", "vote_type;scoring").replace(
    "max_sum_points;5\n", ""
)


@pytest.fixture
def eastside(app):
    community, people = factories.community("eastside", residents=2)
    return community, people


def write(tmp_path: Path, text: str, name: str = "file.pb") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def import_file(runner, path: Path, slug: str = "eastside") -> dict:
    result = runner.invoke(args=["round", "import", str(path), "--community", slug, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def export_file(runner, round_id: int, out: Path) -> Election:
    result = runner.invoke(args=["round", "export", str(round_id), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return read_pabulib(out)


def ballots_by_position(election: Election) -> Counter:
    """Ballots as a multiset, projects named by their position in the PROJECTS section.

    An ordinal ballot is a sequence; approval and cumulative ballots are sets (of projects,
    or of (project, points) pairs), whatever order the file lists them in.
    """
    position = {p.id: i for i, p in enumerate(election.projects)}
    ballots: Counter = Counter()
    for b in election.profile.ballots:
        projects = [position[p] for p in b.projects]
        if election.profile.kind == "ordinal":
            ballots[tuple(projects)] += 1
        else:
            points = b.points or [None] * len(projects)
            ballots[frozenset(zip(projects, points, strict=True))] += 1
    return ballots


def assert_same_election(original: Election, back: Election) -> None:
    assert [p.cost for p in back.projects] == [p.cost for p in original.projects]
    names = [original.names[p.id] or f"Project {p.id}" for p in original.projects]
    assert [back.names[p.id] for p in back.projects] == names
    assert back.budget_cents == original.budget_cents
    assert back.profile.kind == original.profile.kind
    assert ballots_by_position(back) == ballots_by_position(original)


def test_import_approval_makes_a_closed_round_of_anonymous_ballots(app, runner, eastside, tmp_path):
    community, _ = eastside
    path = write(tmp_path, APPROVAL, "Utopia_Eastside_2024.pb")
    out = import_file(runner, path)
    assert (out["projects"], out["ballots"], out["votes"]) == (3, 5, 7)
    r = db.session.get(FundingRound, out["id"])
    assert r.community_id == community.id and r.status == RoundStatus.CLOSED
    assert r.ballot_type == BallotType.APPROVAL and r.max_approvals == 3
    assert r.title == 'Parks; and "benches"' and r.budget_cents == 100050
    assert "Utopia_Eastside_2024.pb" in r.description and "Utopia" in r.description
    assert "Eastside" in r.description and "2024" in r.description
    assert r.opened_at.date().isoformat() == "2023-10-02"
    assert r.closed_at.date().isoformat() == "2023-10-31"
    # The first of several categories; "Parks" is the same area as "parks".
    assert [a.name for a in r.priority_areas] == ["parks", "waste"]
    projects = [(p.title, p.cost_cents, p.priority_area.name) for p in r.projects]
    assert projects == [
        ('Bench; by the "pond"', 60000, "parks"),
        ("Bins", 25050, "waste"),
        ("Project p3", 50000, "parks"),
    ]
    responses = db.session.scalars(select(Response).where(Response.round_id == r.id)).all()
    assert sorted(x.voter_label for x in responses) == ["v1", "v2", "v3", "v4", "v5"]
    assert {x.source for x in responses} == {ResponseSource.IMPORTED}
    assert all(x.user_id is None and x.member_id is None for x in responses)
    codes = [x.receipt_code for x in responses]
    assert len(set(codes)) == 5 and all(len(c) == 10 for c in codes)
    votes = {x.voter_label: sorted(v.project.title for v in x.votes) for x in responses}
    assert votes["v2"] == ['Bench; by the "pond"', "Project p3"] and votes["v5"] == []
    assert all(v.points == 1 and v.rank is None for x in responses for v in x.votes)

    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "round.imported")
    ).all()
    assert len(events) == 1 and events[0].subject == f"round:{r.id}"
    data = json.loads(events[0].data)
    assert data["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (data["projects"], data["ballots"], data["votes"]) == (3, 5, 7)
    assert verify_chain() == []


@pytest.mark.parametrize(
    ("text", "ballot_type", "settings"),
    [
        (CHOOSE_1, BallotType.APPROVAL, {"max_approvals": 1}),
        (CUMULATIVE, BallotType.CUMULATIVE, {"points_total": 5, "points_exact": False}),
        (SCORING, BallotType.CUMULATIVE, {"points_total": 5, "points_exact": False}),
        (ORDINAL, BallotType.RANKED, {"rank_limit": 3}),
    ],
    ids=["choose-1", "cumulative", "scoring", "ordinal"],
)
def test_vote_types_become_ballot_types(
    app, runner, eastside, tmp_path, text, ballot_type, settings
):
    out = import_file(runner, write(tmp_path, text))
    r = db.session.get(FundingRound, out["id"])
    assert r.ballot_type == ballot_type
    assert {key: getattr(r, key) for key in settings} == settings
    # No categories: one "General" area, and "Other" beside it (a round has at least two).
    if text in (CUMULATIVE, ORDINAL):
        assert [a.name for a in r.priority_areas] == ["General", "Other"]
        assert {p.priority_area.name for p in r.projects} == {"General"}
    rows = db.session.execute(
        select(Response.voter_label, Project.title, ProjectVote.points, ProjectVote.rank)
        .join(ProjectVote, ProjectVote.response_id == Response.id)
        .join(Project, Project.id == ProjectVote.project_id)
        .where(Response.round_id == r.id)
    ).all()
    got = {(label, title): (points, rank) for label, title, points, rank in rows}
    if ballot_type == BallotType.CUMULATIVE:
        assert got[("a", "One")] == (3, None) and got[("d", "Two")] == (0, None)
    if ballot_type == BallotType.RANKED:
        assert got[("x", "Thirty")] == (1, 1) and got[("x", "Ten")] == (1, 2)
        assert got[("y", "Thirty")] == (1, 3)


@pytest.mark.parametrize(
    "text", [APPROVAL, CHOOSE_1, CUMULATIVE, SCORING, ORDINAL], ids=lambda t: t.split("\n")[2]
)
def test_round_trip_gives_the_same_projects_and_votes(app, runner, eastside, tmp_path, text):
    original = read_pabulib(text)
    out = import_file(runner, write(tmp_path, text))
    back = export_file(runner, out["id"], tmp_path / "out.pb")
    assert_same_election(original, back)
    assert back.meta["vote_type"] == original.meta["vote_type"]
    assert back.meta["num_votes"] == str(len(original.profile.ballots))
    # Voters are pseudonymous: no label of the file, and nothing in the file's order.
    voters = [b.voter for b in back.profile.ballots]
    assert not set(voters) & {b.voter for b in original.profile.ballots}
    assert voters == sorted(voters) and all(len(v) == 16 for v in voters)
    # Exporting twice writes the same file.
    again = tmp_path / "again.pb"
    export_file(runner, out["id"], again)
    assert again.read_bytes() == (tmp_path / "out.pb").read_bytes()


@pytest.mark.parametrize(
    "name",
    ["Netherlands_Amsterdam_304", "Poland_Gdansk_2020_Suchanino", "Poland_Krakow_2022_Czyzyny"],
)
def test_round_trip_of_real_files(app, runner, eastside, tmp_path, name):
    if not PABULIB.is_dir():
        pytest.skip(f"real Pabulib files not available: folder {PABULIB} is absent")
    path = PABULIB / f"{name}.pb"
    if not path.is_file():
        pytest.skip(f"real Pabulib file not available: {path} is absent")
    original = read_pabulib(path)
    out = import_file(runner, path)
    assert out["ballots"] == len(original.profile.ballots)
    back = export_file(runner, out["id"], tmp_path / "out.pb")
    assert_same_election(original, back)
    for key in ("country", "unit", "instance", "description"):
        assert back.meta[key] == original.meta[key]


def test_a_file_broken_half_way_saves_nothing(app, runner, eastside, tmp_path):
    lines = APPROVAL.splitlines()
    lines[lines.index("v4;p2,p3;22")] = "v4;p2,p9;22"
    path = write(tmp_path, "\n".join(lines) + "\n", "broken.pb")
    result = runner.invoke(args=["round", "import", str(path), "--community", "eastside"])
    assert result.exit_code == 1
    assert f"{path}: line {lines.index('v4;p2,p9;22') + 1}: vote for unknown project 'p9'" in (
        result.output
    )
    assert db.session.scalar(select(func.count()).select_from(FundingRound)) == 0


def test_a_database_failure_mid_import_saves_nothing(app, runner, eastside, tmp_path, monkeypatch):
    """The responses are in when the votes fail: the whole round goes, in one rollback."""
    events = db.session.scalar(select(func.count()).select_from(AuditEvent))

    def fail(rows):
        assert db.session.scalar(select(func.count()).select_from(Response)) == 5
        raise RuntimeError("disk full")

    monkeypatch.setattr(pabulib_io, "_insert_votes", fail)
    path = write(tmp_path, APPROVAL)
    result = runner.invoke(args=["round", "import", str(path), "--community", "eastside"])
    assert result.exit_code == 1 and isinstance(result.exception, RuntimeError)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(FundingRound)) == 0
    assert db.session.scalar(select(func.count()).select_from(Response)) == 0
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == events


def test_unknown_community_and_unusable_files_are_refused(app, runner, eastside, tmp_path):
    path = write(tmp_path, APPROVAL)
    result = runner.invoke(args=["round", "import", str(path), "--community", "nowhere"])
    assert result.exit_code == 1 and "no community 'nowhere'" in result.output
    negative = write(tmp_path, CUMULATIVE.replace("b;3;5", "b;3;-5"), "negative.pb")
    result = runner.invoke(args=["round", "import", str(negative), "--community", "eastside"])
    assert result.exit_code == 1 and "negative points" in result.output
    missing = runner.invoke(args=["round", "export", "999", "--out", str(tmp_path / "x.pb")])
    assert missing.exit_code == 1 and "no round 999" in missing.output
    assert db.session.scalar(select(func.count()).select_from(FundingRound)) == 0


def test_export_has_online_paper_and_imported_ballots_under_pseudonyms(
    app, runner, eastside, tmp_path
):
    community, people = eastside
    out = import_file(runner, write(tmp_path, ORDINAL))
    r = db.session.get(FundingRound, out["id"])
    ten, twenty, thirty = r.projects
    resident = people["residents"][0]
    member = RollMember(community=community, member_number="M-0042", name="Paula Paper")
    db.session.add(member)
    db.session.flush()
    online = Response(
        round_id=r.id, user_id=resident.id, source=ResponseSource.ONLINE, receipt_code="ONLINE0001"
    )
    paper = Response(
        round_id=r.id,
        member_id=member.id,
        entered_by_id=people["organizer"][0].id,
        source=ResponseSource.PAPER,
        receipt_code="PAPER00001",
    )
    online.votes = [
        ProjectVote(project_id=twenty.id, rank=2),
        ProjectVote(project_id=thirty.id, rank=1),
    ]
    paper.votes = [ProjectVote(project_id=ten.id, rank=1)]
    db.session.add_all([online, paper])
    db.session.commit()

    path = tmp_path / "out.pb"
    back = export_file(runner, r.id, path)
    text = path.read_text(encoding="utf-8")
    assert len(back.profile.ballots) == 5 and back.meta["num_votes"] == "5"
    ballots = Counter(b.projects for b in back.profile.ballots)
    ids = {p.title: str(p.id) for p in r.projects}
    assert ballots[(ids["Thirty"], ids["Twenty"])] == 1  # rank order
    assert ballots[(ids["Ten"],)] == 1
    for secret in (resident.name, resident.email, "M-0042", "Paula", "x;", "ONLINE0001"):
        assert secret not in text
    assert back.meta["vote_type"] == "ordinal" and back.meta["max_length"] == "3"


def test_organizers_download_the_round_as_a_pabulib_file(app, client, runner, eastside, tmp_path):
    community, people = eastside
    out = import_file(runner, write(tmp_path, CUMULATIVE))
    db.session.commit()
    url = f"/c/eastside/rounds/{out['id']}/export.pb"
    assert client.get(url).status_code == 302  # signed out: to the login page
    client.login(people["residents"][0].email)
    assert client.get(url).status_code == 403
    client.logout()
    client.login(people["organizer"][0].email)
    response = client.get(url)
    assert response.status_code == 200
    disposition = response.headers["Content-Disposition"]
    assert disposition == f'attachment; filename="eastside-round-{out["id"]}.pb"'
    assert response.mimetype == "text/plain"
    back = read_pabulib(response.get_data())
    assert_same_election(read_pabulib(CUMULATIVE), back)
    assert back.meta["max_sum_points"] == "5"
    other, _ = factories.community("westside", residents=0)
    assert client.get(f"/c/westside/rounds/{out['id']}/export.pb").status_code == 403
    assert other.slug == "westside"


# --- the installed command, in a subprocess (SQLite) -------------------------------------


def test_installed_command_imports_and_exports(tmp_path):
    database = tmp_path / "pb.db"
    env = {"DATABASE_URL": f"sqlite:///{database}", "SECRET_KEY": "pb-test-secret"}
    run("db", "upgrade", env=env)
    run(
        "community",
        "create",
        "--name",
        "Eastside",
        "--slug",
        "eastside",
        "--organizer-email",
        "o@eastside.example",
        "--organizer-name",
        "Olga",
        env=env,
    )
    pb = write(tmp_path, APPROVAL)
    made = run("round", "import", str(pb), "--community", "eastside", "--json", env=env)
    data = json.loads(made.stdout)  # stdout holds the JSON alone
    assert data["id"] >= 1 and (data["projects"], data["ballots"]) == (3, 5)
    plain = run("round", "import", str(pb), "--community", "eastside", env=env)
    assert plain.stdout.strip() == str(data["id"] + 1)

    out = tmp_path / "out.pb"
    exported = run("round", "export", str(data["id"]), "--out", str(out), env=env)
    assert exported.stdout == ""
    assert_same_election(read_pabulib(APPROVAL), read_pabulib(out))

    con = sqlite3.connect(database)
    assert con.execute("SELECT count(*) FROM survey_response").fetchone()[0] == 10
    assert con.execute("SELECT status FROM funding_round").fetchall() == [("closed",), ("closed",)]

    bad = write(tmp_path, APPROVAL.replace("v3;p1;None", "v3;p1;None;extra"), "bad.pb")
    refused = run(
        "round", "import", str(bad), "--community", "eastside", "--json", env=env, check=False
    )
    assert refused.returncode == 1 and refused.stdout == ""
    line = APPROVAL.splitlines().index("v3;p1;None") + 1
    assert f"{bad}: line {line}: expected 3 fields, found 4" in refused.stderr
    nowhere = run("round", "import", str(pb), "--community", "nowhere", env=env, check=False)
    assert nowhere.returncode == 1 and "no community 'nowhere'" in nowhere.stderr
    assert con.execute("SELECT count(*) FROM funding_round").fetchone()[0] == 2

    # Every ballot type fits the migrated schema (not only the one create_all builds).
    for text in (CUMULATIVE, ORDINAL):
        made = run(
            "round",
            "import",
            str(write(tmp_path, text)),
            "--community",
            "eastside",
            "--json",
            env=env,
        )
        round_id = json.loads(made.stdout)["id"]
        run("round", "export", str(round_id), "--out", str(out), env=env)
        assert_same_election(read_pabulib(text), read_pabulib(out))


def test_receipt_codes_avoid_each_other_and_stored_ones(app, eastside, monkeypatch):
    stored = Response(
        round_id=factories.open_round(eastside[0], eastside[1]["organizer"][0]).id,
        user_id=eastside[1]["residents"][0].id,
        receipt_code="AAAAAAAAAA",
    )
    db.session.add(stored)
    db.session.flush()
    codes = pabulib_io._random_codes(70_000)
    assert len(codes) == 70_000 and all(len(c) == 10 for c in codes)
    assert set("".join(codes)) == set(ALPHABET)
    batches = iter([["AAAAAAAAAA", "BBBBBBBBBB", "BBBBBBBBBB"], ["CCCCCCCCCC"]])
    monkeypatch.setattr(pabulib_io, "_random_codes", lambda count: next(batches))
    assert sorted(pabulib_io.unique_receipt_codes(2)) == ["BBBBBBBBBB", "CCCCCCCCCC"]


def test_long_names_are_cut_in_titles_and_exported_whole(app, runner, eastside, tmp_path):
    name = "A very long project name; " * 12
    text = CUMULATIVE.replace("1;300;One", f'1;300;"{name}"')
    out = import_file(runner, write(tmp_path, text))
    first = db.session.get(FundingRound, out["id"]).projects[0]
    assert len(first.title) == 200 and first.title.endswith("…")
    back = export_file(runner, out["id"], tmp_path / "out.pb")
    assert back.names[str(first.id)] == name.strip()
