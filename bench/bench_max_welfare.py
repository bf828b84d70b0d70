"""max-welfare on generated rounds (bench/generate_round.py): time to a proven optimum.

    .venv/bin/python bench/bench_max_welfare.py                 # every case; rewrites the
                                                                # table in docs/benchmarks.md
    .venv/bin/python bench/bench_max_welfare.py issue --no-write

Each case runs in a fresh subprocess: generate the round (seed 1), then `max_welfare`
with `analyse=0` (no forced re-solves for explanations) and a limit per solver call. Two
times are reported: until the best total support is proven (one HiGHS solve), and the
whole rule (the tie-breaks: most cost among the best-support selections, then ids), with
the status the rule reports ("optimal" only when every solve was proven).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench-max-welfare:begin -->", "<!-- bench-max-welfare:end -->"

CASES = {
    "issue": ("the issue's round: 2,000 projects, 8 unequal areas with shares", {}),
    "issue-without-shares": ("the same without area shares", {"shares": False}),
    "equal-areas": ("2,000 projects, 8 equal areas with shares", {"equal_areas": True}),
    "200-projects": ("the issue's recipe with 200 projects", {"projects": 200}),
}


def measure(case: str, limit: float) -> dict:
    """Run in the child: generate, solve, time."""
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    import generate_round

    import optimizer.welfare_search as search
    from optimizer import max_welfare, support

    proven: dict[str, float] = {}
    first = search.best_support

    def timed(*args, **kwargs):
        found = first(*args, **kwargs)
        proven.setdefault("seconds", time.perf_counter() - started)
        proven.setdefault("status", found.status)
        return found

    search.best_support = timed
    instance, profile = generate_round.generate(1, **CASES[case][1])
    started = time.perf_counter()
    result = max_welfare(instance, profile, analyse=0, time_limit=limit)
    total = time.perf_counter() - started
    scores = support(instance, profile)
    return {
        "projects": len(instance.projects),
        "support_s": proven.get("seconds"),
        "support_status": proven.get("status"),
        "total_s": total,
        "status": result.status,
        "selected": len(result.selected),
        "objective": result.objective,
        "cost": result.cost,
        "money": instance.total_money,
        "best_possible": sum(s for s in scores.values() if s > 0),
        "peak_mb": _peak_mb(),
    }


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_case(case: str, limit: float, cap: float) -> dict:
    command = [sys.executable, __file__, "--child", case, "--limit", str(limit)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=cap, check=True)
    except subprocess.TimeoutExpired:
        return {"stopped": cap}
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(rows: dict[str, dict], limit: float, cap: float) -> str:
    load = os.getloadavg()[0]
    lines = [
        f"Measured {date.today().isoformat()} on {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, load average {load:.1f} at the start; "
        f"HiGHS via highspy; at most {limit:.0f} s per solver call, {cap:.0f} s per case. "
        "Re-run: `.venv/bin/python bench/bench_max_welfare.py`.",
        "",
        "| round | projects | best support proven after s | whole rule s | status | funded "
        "| support | money spent | peak MB |",
        "|---|---:|---:|---:|---|---:|---:|---|---:|",
    ]
    for case, row in rows.items():
        label = CASES[case][0]
        if "stopped" in row:
            lines.append(f"| {label} | | | stopped after {row['stopped']:.0f} | | | | | |")
            continue
        support = (
            f"{row['support_s']:.1f}"
            + ("" if row["support_status"] == "optimal" else " (not proven)")
            if row["support_s"] is not None
            else "–"
        )
        share = 100 * row["cost"] / row["money"] if row["money"] else 0
        lines.append(
            f"| {label} | {row['projects']:,} | {support} | {row['total_s']:.1f} | "
            f"{row['status']} | {row['selected']} | {row['objective']:,} | {share:.1f}% "
            f"| {row['peak_mb']:.0f} |"
        )
    return "\n".join(lines)


def write(text: str) -> None:
    doc = DOC.read_text()
    block = f"{BEGIN}\n{text}\n{END}"
    if BEGIN in doc:
        before, rest = doc.split(BEGIN, 1)
        doc = before + block + rest.split(END, 1)[1]
    else:
        doc = doc.rstrip() + "\n\n## max-welfare on generated rounds\n\n" + block + "\n"
    DOC.write_text(doc)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", help=f"any of {', '.join(CASES)} (default: all)")
    parser.add_argument("--limit", type=float, default=120.0, help="seconds per solver call")
    parser.add_argument("--cap", type=float, default=900.0, help="seconds per case")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.child, args.limit)))
        return
    unknown = set(args.cases) - CASES.keys()
    if unknown:
        parser.error(f"unknown case {sorted(unknown)}; choose from {', '.join(CASES)}")
    rows = {}
    for case in args.cases or list(CASES):
        rows[case] = run_case(case, args.limit, args.cap)
        print(case, rows[case], flush=True)
    text = table(rows, args.limit, args.cap)
    print(text)
    if not args.no_write:
        write(text)


if __name__ == "__main__":
    main(sys.argv[1:])
