"""Where one phase of bench_load.py spends its CPU: the gunicorn workers, the PostgreSQL
backends of the bench's database and locust, in CPU seconds per request (from /proc, Linux).

    .venv/bin/python bench/load/cpu_split.py --phase ballots   # or --phase ceiling

On a machine shared with other work the requests/s follow the CPU share the run gets; the
milliseconds per request say what a request costs, whatever that share.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1]), str(HERE)]

import bench_load  # noqa: E402
import psycopg  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
COUNT = {"ceiling": "SELECT count(*) FROM bench_hit", "ballots": "SELECT count(*) FROM audit_event"}


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in found.split()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phase", choices=sorted(COUNT), default="ballots")
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--worker-class", default="sync")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    out = bench_load.ROOT / "instance" / "bench-load" / "split"
    out.mkdir(parents=True, exist_ok=True)
    name, url = bench_load.create_database()
    raw = url.replace("+psycopg", "")
    try:
        env = bench_load.environment(url)
        upgrade = [str(bench_load.BIN / "commonpot"), "db", "upgrade"]
        subprocess.run(upgrade, env=env, check=True, capture_output=True)
        path = bench_load.seed(url, residents=2 * args.users, projects=10, max_approvals=5)
        env.update(BENCH_ROUND_PATH=path, BENCH_MAX_APPROVALS="5", BENCH_USERS=str(args.users))
        with psycopg.connect(raw, autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE bench_hit (id serial PRIMARY KEY, at timestamptz NOT NULL,"
                " payload varchar(200) NOT NULL)"
            )
        if args.phase == "ceiling":
            target, chdir, user = "ceiling_app:app", HERE, "Ceiling"
        else:
            target, chdir, user = "wsgi:app", bench_load.ROOT, "Voter"
        server, host = bench_load.gunicorn(target, env, args, out / "gunicorn.log", chdir)
        run = [str(bench_load.BIN / "locust"), "-f", str(HERE / "locustfile.py"), user]
        run += ["--headless", "--users", str(args.users), "--spawn-rate", str(args.users)]
        run += ["--run-time", f"{args.seconds + bench_load.WARM_UP}s", "--host", host]
        run += ["--csv", str(out / "stats"), "--only-summary", "--loglevel", "WARNING"]
        locust = subprocess.Popen(
            run, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(bench_load.WARM_UP)
        with psycopg.connect(raw, autocommit=True) as admin:

            def sample() -> tuple[float, dict[str, float], int]:
                backends = admin.execute(
                    "SELECT pid FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                ).fetchall()
                seconds = {
                    "gunicorn": sum(map(cpu_seconds, children(server.pid))),
                    "postgres": sum(cpu_seconds(pid) for (pid,) in backends),
                    "locust": cpu_seconds(locust.pid) + sum(map(cpu_seconds, children(locust.pid))),
                }
                return time.monotonic(), seconds, admin.execute(COUNT[args.phase]).fetchone()[0]

            t0, cpu0, n0 = sample()
            time.sleep(args.seconds - 1)
            t1, cpu1, n1 = sample()
        locust.wait()
        bench_load.stop(server)
    finally:
        bench_load.drop_database(name)
    done, elapsed = n1 - n0, t1 - t0
    print(
        f"{args.phase}, {args.workers} x {args.worker_class} ({args.threads} threads): "
        f"{done / elapsed:.0f} requests/s, load average {os.getloadavg()[0]:.1f} at the end"
    )
    for part in cpu0:
        used = cpu1[part] - cpu0[part]
        print(f"  {part}: {used / elapsed:.2f} cores, {1000 * used / max(done, 1):.2f} ms/request")
    with open(out / "stats_stats.csv", newline="") as f:
        for row in csv.DictReader(f):
            if int(row["Request Count"]) and row["Name"] != "Aggregated":
                print(f"  locust {row['Name']}: p50 {row['50%']} ms, p99 {row['99%']} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
