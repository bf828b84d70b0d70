"""One ballot in-process, against a throwaway PostgreSQL database: its SQL statements and
its CPU time beside the ceiling's (bench_load.py's two apps, without gunicorn or locust).

    .venv/bin/python bench/load/profile_ballot.py              # statements, CPU ms each
    .venv/bin/python bench/load/profile_ballot.py --profile    # and a cProfile (CPU time)

The sealing of the audit chain runs on the driver directly and is not among the listed
statements. BENCH_POSTGRES names the server, as for bench_load.py.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(ROOT), str(HERE)]

import bench_load  # noqa: E402
import psycopg  # noqa: E402
from sqlalchemy import event  # noqa: E402
from werkzeug.datastructures import MultiDict  # noqa: E402


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ballots", type=int, default=300)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--dump", metavar="FILE", help="with --profile: write the stats here")
    args = parser.parse_args()
    name, url = bench_load.create_database()
    try:
        env = bench_load.environment(url)
        commonpot = Path(sys.executable).parent / "commonpot"
        subprocess.run([str(commonpot), "db", "upgrade"], env=env, check=True, capture_output=True)
        path = bench_load.seed(url, residents=4, projects=10, max_approvals=5)
        with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE bench_hit (id serial PRIMARY KEY, at timestamptz NOT NULL,"
                " payload varchar(200) NOT NULL)"
            )
        from commonpot import create_app
        from commonpot.extensions import db

        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": bench_load.SECRET})
        client = app.test_client()
        login = client.get("/login").text
        client.post(
            "/login",
            data={
                "csrf_token": _token(login),
                "email": "resident001@bench.test",
                "password": bench_load.PASSWORD,
            },
        )
        survey = client.get(f"{path}/survey").text
        csrf = _token(survey)
        areas = re.findall(r'name="(area_\d+)"', survey)
        projects = re.findall(r'name="approvals" type="checkbox" value="(\d+)"', survey)

        def ballot() -> None:
            ranks = random.sample(range(1, len(areas) + 1), len(areas))
            fields = [("csrf_token", csrf), *zip(areas, map(str, ranks), strict=True)]
            fields += [("approvals", p) for p in random.sample(projects, 3)]
            response = client.post(f"{path}/survey", data=MultiDict(fields))
            assert response.status_code == 302, response.status_code

        for _ in range(20):
            ballot()
        statements: list[str] = []
        with app.app_context():
            event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        ballot()
        print(f"{len(statements)} statements in a ballot's request (besides the seal):")
        for statement in statements:
            print("  ", " ".join(statement.split())[:160])

        os.environ["DATABASE_URL"] = url
        import ceiling_app

        ceiling = ceiling_app.app.test_client()

        def insert() -> None:
            assert ceiling.post("/insert", data={"payload": "x" * 40}).status_code == 200

        for label, request in (("ballot", ballot), ("ceiling insert", insert)):
            for _ in range(20):
                request()
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(args.ballots):
                request()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            print(
                f"{label}: {1000 * cpu / args.ballots:.2f} ms CPU, "
                f"{1000 * wall / args.ballots:.2f} ms wall each"
            )
        if args.profile:
            profile = cProfile.Profile(time.process_time)
            profile.enable()
            for _ in range(args.ballots):
                ballot()
            profile.disable()
            if args.dump:
                profile.dump_stats(args.dump)
            pstats.Stats(profile).sort_stats("cumulative").print_stats(60)
        ceiling_app.engine.dispose()
        with app.app_context():
            db.engine.dispose()
    finally:
        bench_load.drop_database(name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
