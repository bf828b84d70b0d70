"""Load benchmark: residents submitting ballots and pledges through gunicorn + PostgreSQL,
against the ceiling of the same stack (a bare Flask + SQLAlchemy insert), in one run.

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python bench/load/bench_load.py --users 32 --seconds 30

Phases, the ceiling and commonpot each on gunicorn with the same options, driven by locust
(headless); the measure of each starts once every simulated resident has signed in:
1. ceiling: POST /insert, one row per request, as fast as it goes;
2. ballots: every simulated resident signs in once, then submits its ballot again and
   again with no pause (the real survey page: session, CSRF, validation, the unique
   response, the audit event): the capacity, reported as `ratio` to the ceiling;
   Phases 1 and 2 take turns (`--rounds`, by default twice each) with both servers up,
   and each is reported pooled (requests summed, requests/s averaged, the worst p99),
   the turns apart under "turns": the machine's speed drifts within minutes;
3. paced: the same ballots at a set pace, 3 % above a third of the ceiling's requests/s:
   the target is met when that pace is kept (at least a third of the ceiling's
   requests/s) with p99 under 100 ms and no error. At saturation (phase 2) the latency is
   only the queue, users / requests per second, whatever the server;
4. ballots and pledges together (make, confirm, cancel), same checks on errors.
Afterwards `commonpot audit verify` and `commonpot ledger verify` must pass. A fresh
database is created beside BENCH_POSTGRES (default the local server) and dropped at the end.
`--no-mixed` skips phase 4 (quicker, for tuning); beside this file, `profile_ballot.py`
lists one ballot's statements and its CPU time in-process, and `cpu_split.py` the CPU
milliseconds per request of gunicorn, PostgreSQL and locust in one phase.

Both apps run on the same gunicorn options, by default 4 `sync` workers (two per core:
one runs while another waits on the database). A sync worker closes the connection after
each response, as an app server behind nginx sees it (nginx opens a connection per request
to its upstream unless told otherwise), so the load spreads over the workers. `gthread`
workers keep a kept-alive connection in the worker that accepted it: locust's 32
connections all landed in one worker of four, which did all the work while the others idled
(docs/benchmarks.md, 2026-12-02); `BENCH_CLOSE=1` has locust close its connections instead.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

SERVER = os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
SECRET = "bench-secret-key-not-for-production"
PASSWORD = "bench-password-123"
WARM_UP = 10  # seconds for every simulated resident to sign in before the measure starts
PACE_MARGIN = 1.03  # the paced phase asks for 3 % more than the target, to count as reaching it


def create_database() -> tuple[str, str]:
    name = f"commonpot_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = SERVER.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return name, f"{base}/{name}"


def drop_database(name: str) -> None:
    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def environment(url: str) -> dict:
    env = dict(os.environ, DATABASE_URL=url, SECRET_KEY=SECRET, PYTHONPATH=str(ROOT))
    env.pop("FLASK_APP", None)
    return env


def seed(url: str, residents: int, projects: int, max_approvals: int) -> str:
    """A community with `residents` members and one open approval round, through the
    product's services; returns the round's path."""
    from werkzeug.security import generate_password_hash

    from commonpot import create_app
    from commonpot.extensions import db
    from commonpot.models import Role, RoundStatus, User
    from commonpot.rounds import services

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET})
    with app.app_context():
        community = services.create_community("Bench Cooperative", "bench")
        organizer = User(email="organizer@bench.test", name="Organizer", password_hash="!")
        db.session.add(organizer)
        db.session.flush()
        services.grant_role(organizer, community, Role.ORGANIZER, actor=None)
        hashed = generate_password_hash(PASSWORD)
        for n in range(1, residents + 1):
            user = User(email=f"resident{n:03d}@bench.test", name=f"Resident {n}")
            user.password_hash = hashed
            db.session.add(user)
            db.session.flush()
            services.grant_role(user, community, Role.RESIDENT, actor=None)
        r = services.create_round(
            community,
            title="Bench round",
            description="",
            opens_at=None,
            closes_at=None,
            max_approvals=max_approvals,
            actor=organizer,
            priority_areas=["Food security", "Education", "Place security", "Green spaces"],
        )
        for i in range(projects):
            services.add_project(
                r,
                title=f"Project {i + 1}",
                description="",
                cost_cents=100_000 * (i + 1),
                lead_name="",
                priority_area_id=r.priority_areas[i % 4].id,
                actor=organizer,
            )
        services.transition(r, RoundStatus.OPEN, actor=organizer)
        db.session.commit()
        path = f"/c/bench/rounds/{r.id}"
        db.engine.dispose()
    return path


def gunicorn(target: str, env: dict, args: argparse.Namespace, log: Path, chdir: Path):
    log.unlink(missing_ok=True)
    command = [
        str(BIN / "gunicorn"),
        "--no-control-socket",
        "--chdir",
        str(chdir),
        "--workers",
        str(args.workers),
        "--worker-class",
        args.worker_class,
        "--threads",
        str(args.threads),
        "--bind",
        "127.0.0.1:0",
        "--error-logfile",
        str(log),
        "--log-level",
        "info",
        target,
    ]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = log.read_text() if log.exists() else ""
        if "Listening at: " in text and text.count("Booting worker") >= args.workers:
            time.sleep(1.5)  # the workers import the app after "Booting"
            return process, text.split("Listening at: ", 1)[1].split()[0]
        if process.poll() is not None:
            break
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(log.read_text())


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=30)


def locust(host: str, classes: list[str], users: int, seconds: int, out: Path, env: dict) -> dict:
    prefix = out / "_".join(classes).lower()
    with open(f"{prefix}_summary.txt", "w") as summary:
        subprocess.run(
            [
                str(BIN / "locust"),
                "-f",
                str(HERE / "locustfile.py"),
                *classes,
                "--headless",
                "--users",
                str(users),
                "--spawn-rate",
                str(users),
                "--run-time",
                f"{seconds + WARM_UP}s",
                "--host",
                host,
                "--csv",
                str(prefix),
                "--only-summary",
                "--loglevel",
                "WARNING",
            ],
            env=env,
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=summary,
        )
    with open(f"{prefix}_stats.csv", newline="") as f:
        rows = {row["Name"]: row for row in csv.DictReader(f)}
    return {
        name: {
            "requests": int(row["Request Count"]),
            "failures": int(row["Failure Count"]),
            "rps": round(float(row["Requests/s"]), 1),
            "p50_ms": float(row["50%"]),
            "p99_ms": float(row["99%"]),
        }
        for name, row in rows.items()
        if int(row["Request Count"])  # sign-ins, reset once everyone is in, are left out
    }


def pooled(turns: list[dict]) -> dict:
    """The turns of one phase as one: requests and errors summed, requests/s averaged (the
    turns last alike), the worst turn's p50 and p99."""
    names = {name for turn in turns for name in turn}
    zero = {"requests": 0, "failures": 0, "rps": 0.0, "p50_ms": 0.0, "p99_ms": 0.0}
    rows = {name: [turn.get(name, zero) for turn in turns] for name in names}
    return {
        name: {
            "requests": sum(r["requests"] for r in runs),
            "failures": sum(r["failures"] for r in runs),
            "rps": round(sum(r["rps"] for r in runs) / len(runs), 1),
            "p50_ms": max(r["p50_ms"] for r in runs),
            "p99_ms": max(r["p99_ms"] for r in runs),
        }
        for name, runs in rows.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=32, help="concurrent simulated people")
    parser.add_argument("--seconds", type=int, default=30, help="length of each phase")
    parser.add_argument(
        "--rounds", type=int, default=2, help="turns of ceiling and ballots, taken in turn"
    )
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--worker-class", default="sync")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "instance" / "bench-load")
    parser.add_argument(
        "--no-mixed", action="store_true", help="skip the mixed phase (quicker, for tuning)"
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    load_at_start = os.getloadavg()
    name, url = create_database()
    results: dict = {}
    try:
        env = environment(url)
        migrated = subprocess.run(
            [str(BIN / "commonpot"), "db", "upgrade"], env=env, capture_output=True, text=True
        )
        assert migrated.returncode == 0, migrated.stderr
        round_path = seed(url, residents=2 * args.users, projects=10, max_approvals=5)
        env.update(
            BENCH_ROUND_PATH=round_path, BENCH_MAX_APPROVALS="5", BENCH_USERS=str(args.users)
        )

        with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE bench_hit (id serial PRIMARY KEY, at timestamptz NOT NULL,"
                " payload varchar(200) NOT NULL)"
            )
        # Both servers up at once, their phases taking turns: the machine's speed drifts
        # within minutes, and the ratio should not be the drift's.
        ceiling_server, ceiling_host = gunicorn(
            "ceiling_app:app", env, args, args.out / "ceiling.log", HERE
        )
        try:
            server, host = gunicorn("wsgi:app", env, args, args.out / "app.log", ROOT)
            try:
                turns: dict[str, list] = {"ceiling": [], "ballots": []}
                for _ in range(args.rounds):
                    turns["ceiling"].append(
                        locust(ceiling_host, ["Ceiling"], args.users, args.seconds, args.out, env)
                    )
                    turns["ballots"].append(
                        locust(host, ["Voter"], args.users, args.seconds, args.out, env)
                    )
                results["ceiling"] = pooled(turns["ceiling"])
                results["ballots"] = pooled(turns["ballots"])
                results["turns"] = turns
                # The target's pace, a little above it: the latencies at a third of the ceiling.
                target_rate = results["ceiling"]["POST insert"]["rps"] / 3
                paced = dict(env, BENCH_RATE=f"{PACE_MARGIN * target_rate:.1f}")
                results["paced"] = locust(
                    host, ["PacedVoter"], args.users, args.seconds, args.out, paced
                )
                if not args.no_mixed:
                    results["mixed"] = locust(
                        host, ["Voter", "Pledger"], args.users, args.seconds, args.out, env
                    )
            finally:
                stop(server)
        finally:
            stop(ceiling_server)
        checks = {}
        for command in (["audit", "verify", "--json"], ["ledger", "verify", "--json"]):
            done = subprocess.run(
                [str(BIN / "commonpot"), *command], env=env, capture_output=True, text=True
            )
            checks[command[0]] = done.returncode == 0 and json.loads(done.stdout)["ok"]
        with psycopg.connect(url.replace("+psycopg", "")) as conn:
            responses = conn.execute("SELECT count(*) FROM survey_response").fetchone()[0]
            voters = conn.execute("SELECT count(DISTINCT user_id) FROM survey_response").fetchone()[
                0
            ]
        results["checks"] = {**checks, "responses": responses, "distinct_voters": voters}
    finally:
        drop_database(name)

    ceiling = results["ceiling"]["POST insert"]
    ballots = results["ballots"]["POST ballot"]
    paced = results["paced"]["POST ballot"]
    results["target"] = {
        "ratio": round(ballots["rps"] / ceiling["rps"], 3),  # at saturation
        "paced_ratio": round(paced["rps"] / ceiling["rps"], 3),
        "third_of_ceiling": paced["rps"] >= ceiling["rps"] / 3,
        "p99_under_100ms": paced["p99_ms"] < 100,
        "zero_errors": all(
            row["failures"] == 0
            for phase in ("ballots", "paced", "mixed")
            for row in results.get(phase, {}).values()
        ),
    }
    results["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in load_at_start],
        "gunicorn": f"{args.workers} x {args.worker_class} ({args.threads} threads)",
        "users": args.users,
        "seconds": args.seconds,
        "rounds": args.rounds,
    }
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
