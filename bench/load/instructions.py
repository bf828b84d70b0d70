"""Instructions per request, in-process, counted by valgrind's callgrind: a ballot against
the ceiling's insert, repeatable to a fraction of a percent on a machine whose CPU time
per request swings by half from one minute to the next (docs/benchmarks.md).

    .venv/bin/python bench/load/instructions.py     # about 7 minutes (valgrind is slow)

Each side runs twice under callgrind in a fresh process (the Flask test client, a
throwaway PostgreSQL database as for bench_load.py), with a few and with many requests
after the same warm-up: the difference divided by the extra requests is what one request
costs the app's process, all its threads included (the audit sealer's too), without
start-up and imports. The test client's own work is counted on both sides. PostgreSQL's
work is not: see cpu_split.py.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1]), str(HERE)]

import bench_load  # noqa: E402
import psycopg  # noqa: E402

WARM_UP = 30


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def ballots(url: str, path: str, count: int) -> None:
    from werkzeug.datastructures import MultiDict

    from commonpot import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": bench_load.SECRET})
    client = app.test_client()
    login = client.get("/login").text
    sign_in = {"csrf_token": _token(login), "email": "resident001@bench.test"}
    client.post("/login", data={**sign_in, "password": bench_load.PASSWORD})
    survey = client.get(f"{path}/survey").text
    csrf = _token(survey)
    areas = re.findall(r'name="(area_\d+)"', survey)
    projects = re.findall(r'name="approvals" type="checkbox" value="(\d+)"', survey)
    rng = random.Random(1)
    for _ in range(WARM_UP + count):
        ranks = rng.sample(range(1, len(areas) + 1), len(areas))
        fields = [("csrf_token", csrf), *zip(areas, map(str, ranks), strict=True)]
        fields += [("approvals", p) for p in rng.sample(projects, 3)]
        assert client.post(f"{path}/survey", data=MultiDict(fields)).status_code == 302


def inserts(url: str, count: int) -> None:
    os.environ["DATABASE_URL"] = url
    import ceiling_app

    client = ceiling_app.app.test_client()
    for _ in range(WARM_UP + count):
        assert client.post("/insert", data={"payload": "x" * 40}).status_code == 200


def counted(side: str, count: int, env: dict) -> int:
    out = bench_load.ROOT / "instance" / "bench-load" / f"callgrind.{side}.{count}"
    command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
    command += [sys.executable, __file__, "--run", side, str(count)]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{side} × {count} failed under valgrind:\n{done.stderr[-3000:]}")
    summary = next(line for line in out.read_text().splitlines() if line.startswith("summary:"))
    out.unlink()
    return int(summary.split()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--few", type=int, default=10)
    parser.add_argument("--many", type=int, default=60)
    parser.add_argument("--side", choices=("ballot", "insert"), help="count only this side")
    parser.add_argument("--run", nargs=2, metavar=("SIDE", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:  # the measured process, under valgrind
        side, count = args.run[0], int(args.run[1])
        url, path = os.environ["BENCH_URL"], os.environ["BENCH_ROUND_PATH"]
        ballots(url, path, count) if side == "ballot" else inserts(url, count)
        return 0
    (bench_load.ROOT / "instance" / "bench-load").mkdir(parents=True, exist_ok=True)
    name, url = bench_load.create_database()
    try:
        env = bench_load.environment(url)
        upgrade = [str(bench_load.BIN / "commonpot"), "db", "upgrade"]
        subprocess.run(upgrade, env=env, check=True, capture_output=True)
        path = bench_load.seed(url, residents=4, projects=10, max_approvals=5)
        with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE bench_hit (id serial PRIMARY KEY, at timestamptz NOT NULL,"
                " payload varchar(200) NOT NULL)"
            )
        env.update(BENCH_URL=url, BENCH_ROUND_PATH=path)
        cost = {}
        for side in [args.side] if args.side else ["ballot", "insert"]:
            extra = args.many - args.few
            cost[side] = (counted(side, args.many, env) - counted(side, args.few, env)) / extra
            print(f"{side}: {cost[side] / 1e6:.2f} million instructions per request", flush=True)
        if len(cost) == 2:
            print(f"a ballot costs {cost['ballot'] / cost['insert']:.1f} ceiling inserts")
    finally:
        bench_load.drop_database(name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
