"""The command line, run as a user runs it: the installed `commonpot` script in a subprocess."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import _postgres_database

COMMONPOT = shutil.which("commonpot", path=str(Path(sys.executable).parent)) or "commonpot"

SMALL_PB = """META
key;value
description;Three projects, budget 10
budget;10
vote_type;approval
PROJECTS
project_id;cost;name
A;6;Bench
B;5;Bins
C;5;Lights
VOTES
voter_id;vote
1;A,B
2;A,C
3;A
4;B,C
5;B
6;C
"""


def run(*args, env=None, check=True):
    result = subprocess.run(
        [COMMONPOT, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{args} exited {result.returncode}:\n{result.stderr[-3000:]}")
    return result


def test_allocate_prints_json_alone_on_stdout(tmp_path):
    """Budget 10: greedy takes A (3 approvals) and nothing else fits; max-welfare takes B and C
    (3 + 3 = 6 approvals) for a cost of 10."""
    pb = tmp_path / "small.pb"
    pb.write_text(SMALL_PB)
    greedy = json.loads(run("allocate", str(pb), "--rule", "greedy", "--json").stdout)
    assert greedy["selected"] == ["A"] and greedy["cost"] == "6" and greedy["budget"] == "10"
    assert greedy["completion"] is None and len(greedy["input_sha256"]) == 64
    best = json.loads(run("allocate", str(pb), "--rule", "max-welfare", "--json").stdout)
    assert best["selected"] == ["B", "C"] and best["cost"] == "10"
    assert best["status"] == "optimal"
    text = run("allocate", str(pb), "--rule", "max-welfare").stdout
    assert "Bins" in text and "Lights" in text and "cost 10 of budget 10" in text


def test_allocate_names_the_line_of_a_bad_file(tmp_path):
    pb = tmp_path / "bad.pb"
    pb.write_text(SMALL_PB.replace("6;C\n", "6;C,Z\n"))
    result = run("allocate", str(pb), "--rule", "greedy", "--json", check=False)
    assert result.returncode == 1 and result.stdout == ""
    assert "line 18" in result.stderr and "'Z'" in result.stderr


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_database(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'demo.db'}"
    else:
        yield from _postgres_database()


def test_demo_rounds_report_verify(fresh_database, tmp_path):
    env = {"DATABASE_URL": fresh_database, "SECRET_KEY": "cli-test-secret"}
    first = run("demo", "--no-serve", env=env)
    assert "organizer@eastside.example" in first.stdout
    assert "board1@eastside.example" in first.stdout and "resident001" in first.stdout
    before = json.loads(run("rounds", "--json", env=env).stdout)
    second = run("demo", "--no-serve", env=env)
    assert "already" in second.stderr or "is there" in second.stderr
    assert json.loads(run("rounds", "--json", env=env).stdout) == before  # nothing duplicated

    rounds = before["rounds"]
    assert [r["status"] for r in rounds] == ["approved", "open"]
    assert {r["community"] for r in rounds} == {"eastside"}
    approved = rounds[0]
    assert approved["funded"] and all(f["funded_cents"] > 0 for f in approved["funded"])
    assert rounds[1]["funded"] == []

    out = tmp_path / "pdf"
    run("report", str(approved["id"]), "--out", str(out), env=env)
    pdfs = sorted(out.glob("*.pdf"))
    assert len(pdfs) == 1 + len(approved["funded"])
    for pdf in pdfs[:2]:  # a report and a term sheet; each call starts the whole app
        verdict = json.loads(run("verify", str(pdf), "--json", env=env).stdout)
        roles = [s["role"] for s in verdict["signers"]]
        assert verdict["ok"] and roles.count("board") == 2, verdict
        # Each term sheet also carries its lead's acceptance (not part of the quorum).
        assert roles.count("lead") == (0 if "allocation-report" in pdf.name else 1), verdict
    if not fresh_database.startswith("sqlite"):
        return  # what follows reads files, not the database: once (on SQLite) is enough
    again = tmp_path / "again"
    run("report", str(approved["id"]), "--out", str(again), env=env)
    assert [p.read_bytes() for p in sorted(again.glob("*.pdf"))] == [p.read_bytes() for p in pdfs]

    data = bytearray(pdfs[0].read_bytes())
    span = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)", data)
    data[int(span.group(2)) // 2] ^= 1
    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(bytes(data))
    result = run("verify", str(tampered), env=env, check=False)
    assert result.returncode == 1 and "NOT valid" in result.stderr
    not_pdf = tmp_path / "notes.pdf"
    not_pdf.write_text("just some text")
    assert run("verify", str(not_pdf), env=env, check=False).returncode == 2

    open_round = run(
        "report", str(rounds[1]["id"]), "--out", str(tmp_path / "x"), env=env, check=False
    )
    assert open_round.returncode == 1 and "no documents until it is allocated" in open_round.stderr
    check_believable(Path(fresh_database.removeprefix("sqlite:///")))


def check_believable(db_file: Path) -> None:
    """What the demo promises a visitor: a real-looking cooperative mid-way through a round."""
    con = sqlite3.connect(db_file)
    one = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
    assert one("PRAGMA journal_mode") == "wal"
    assert one("SELECT count(*) FROM membership WHERE role = 'resident'") >= 300
    assert one("SELECT count(*) FROM membership WHERE role = 'board'") == 3
    assert one("SELECT count(*) FROM membership WHERE role = 'organizer'") == 1
    open_id = one("SELECT id FROM funding_round WHERE status = 'open'")
    assert one(f"SELECT count(*) FROM project WHERE round_id = {open_id}") == 12
    assert one(f"SELECT count(*) FROM survey_response WHERE round_id = {open_id}") > 100
    assert one(f"SELECT count(*) FROM pledge WHERE round_id = {open_id}") > 50
    grants = con.execute(
        "SELECT g.name, a.name FROM seed_grant g LEFT JOIN priority_area a "
        f"ON a.id = g.priority_area_id WHERE g.round_id = {open_id}"
    ).fetchall()
    assert sorted(area or "" for _, area in grants) == ["", "", "Food security"]
    areas = {r[0] for r in con.execute("SELECT name FROM priority_area")}
    assert {"Food security", "Place security", "Education"} <= areas
    assert one("SELECT count(*) FROM signature") >= 2 * one("SELECT count(*) FROM document")


def test_community_create_sets_up_authority_and_organizer(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'new.db'}", "PUBLIC_URL": "https://pot.example"}
    run("db", "upgrade", env=env)
    made = run(
        "community",
        "create",
        "--name",
        "Northside Food Co-op",
        "--slug",
        "northside",
        "--organizer-email",
        "ada@northside.example",
        "--organizer-name",
        "Ada Obi",
        "--quorum",
        "3",
        "--timezone",
        "America/Toronto",
        env=env,
    )
    assert "Created Northside Food Co-op" in made.stdout
    assert "https://pot.example/password/set/" in made.stderr  # the invitation, on the console
    con = sqlite3.connect(tmp_path / "new.db")
    quorum, cert = con.execute("SELECT quorum, authority_cert_pem FROM community").fetchone()
    assert quorum == 3 and cert.startswith(b"-----BEGIN CERTIFICATE-----")
    roles = {r for (r,) in con.execute("SELECT role FROM membership")}
    assert roles == {"organizer", "resident"}
    again = run(
        "community",
        "create",
        "--name",
        "X",
        "--slug",
        "northside",
        "--organizer-email",
        "b@x.example",
        "--organizer-name",
        "B",
        env=env,
        check=False,
    )
    assert again.returncode == 1 and "already exists" in again.stderr
