"""max-welfare on generated rounds (bench/generate_round.py): time to a proven optimum.

    .venv/bin/python bench/bench_max_welfare.py                 # every case; rewrites the
                                                                # table in docs/benchmarks.md
    .venv/bin/python bench/bench_max_welfare.py issue --no-write

Each case runs in a fresh subprocess: generate the round (seed 1), build the model, and
prove the best total support (`welfare_search.best_support`: HiGHS solves of the
selection model, at most --limit seconds each, until the exact funding check accepts the
optimum, each refusal adding a money row). When that is proven, the whole rule runs again from the
start (`max_welfare` with `analyse=0`: no forced re-solves for explanations), whose time
includes the tie-breaks (most cost among the best-support selections, then ids) and
whose status is "optimal" only when every solve was proven. Then the rule once more as
the app runs it (`explained s`: the default `analyse`, each of the 20 most supported
unfunded projects re-solved with it forced in, for its explanation). When the best
support is not proven, the row gives the best support found and the relaxation's bound.
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

from doc_block import write_block

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- bench-max-welfare:begin -->", "<!-- bench-max-welfare:end -->"

CASES = {
    "issue": ("the issue's round: 2,000 projects, 8 unequal areas with shares", {}),
    "issue-without-shares": ("the same without area shares", {"shares": False}),
    "equal-areas": ("2,000 projects, 8 equal areas with shares", {"equal_areas": True}),
    "200-projects": ("the issue's recipe with 200 projects", {"projects": 200}),
}


def measure(case: str, limit: float) -> dict:
    """Run in the child: generate; prove the best support (one solve, bounded by the
    linear relaxation); when proven, time the whole rule too."""
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    import generate_round

    from optimizer import max_welfare, support
    from optimizer.max_welfare import ANALYSE, _Candidates
    from optimizer.welfare_model import WelfareModel
    from optimizer.welfare_search import best_support

    instance, profile = generate_round.generate(1, **CASES[case][1])
    scores = support(instance, profile)
    started = time.perf_counter()
    candidates = _Candidates(instance, scores)
    model = WelfareModel(instance, candidates.projects, scores, limit)
    first = best_support(model)
    status, found = first.status, first.support if first.chosen is not None else 0
    seconds = time.perf_counter() - started
    bound = model.lagrangian(model.scores)
    row = {
        "projects": len(instance.projects),
        "support_s": seconds,
        "solves": len(model.statuses),
        "support_status": status,
        "best_found": found,
        "lp_bound": float(bound.value()) if bound is not None else None,
        "money": instance.total_money,
    }
    if status == "optimal":
        print(json.dumps(row | {"peak_mb": _peak_mb()}), flush=True)  # if the rest is cut off
        started = time.perf_counter()
        result = max_welfare(instance, profile, analyse=0, time_limit=limit)
        row |= {
            "total_s": time.perf_counter() - started,
            "status": result.status,
            "selected": len(result.selected),
            "objective": result.objective,
            "cost": result.cost,
        }
        print(json.dumps(row | {"peak_mb": _peak_mb()}), flush=True)
        started = time.perf_counter()
        explained = max_welfare(instance, profile, analyse=ANALYSE, time_limit=limit)
        row |= {"explained_s": time.perf_counter() - started, "explained": explained.status}
        if explained.selected != result.selected:
            raise SystemExit(f"{case}: the run with explanations selected differently")
    row["peak_mb"] = _peak_mb()
    return row


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_case(case: str, limit: float, cap: float) -> dict:
    command = [sys.executable, __file__, "--child", case, "--limit", str(limit)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=cap, check=True)
    except subprocess.TimeoutExpired as stopped:
        out = stopped.stdout or b""
        text = out.decode() if isinstance(out, bytes) else out
        lines = text.strip().splitlines()
        return (json.loads(lines[-1]) if lines else {}) | {"stopped": cap}
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(rows: dict[str, dict], limit: float, cap: float, load: float) -> str:
    lines = [
        f"Measured {date.today().isoformat()} on {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, load average {load:.1f} at the start; "
        f"HiGHS via highspy; at most {limit:.0f} s per solver call, {cap:.0f} s per case. "
        "Re-run: `.venv/bin/python bench/bench_max_welfare.py`.",
        "",
        "| round | projects | best support proven after s | whole rule s | status | funded "
        "| support | explained s | peak MB |",
        "|---|---:|---|---:|---|---:|---|---:|---:|",
    ]
    for case, row in rows.items():
        label = CASES[case][0]
        if "support_s" not in row:
            lines.append(f"| {label} | | stopped after {row['stopped']:.0f} s | | | | | | |")
            continue
        if row["support_status"] != "optimal":
            lines.append(
                f"| {label} | {row['projects']:,} | not proven after {row['support_s']:.0f} "
                f"(best found {row['best_found']:,}, LP bound {row['lp_bound']:,.1f}) | – | "
                f"{row['support_status']} | | | | {row['peak_mb']:.0f} |"
            )
            continue
        if "total_s" not in row:
            lines.append(
                f"| {label} | {row['projects']:,} | {row['support_s']:.1f} (support "
                f"{row['best_found']:,}) | stopped after {row['stopped']:.0f} in the tie-breaks "
                f"| | | | | {row['peak_mb']:.0f} |"
            )
            continue
        share = 100 * row["cost"] / row["money"] if row["money"] else 0
        if "explained_s" in row:
            explained = f"{row['explained_s']:.1f}"
            if row["explained"] != "optimal":
                explained += f" ({row['explained']})"
        else:
            explained = f"stopped after {row['stopped']:.0f} s in all"
        lines.append(
            f"| {label} | {row['projects']:,} | {row['support_s']:.1f} | {row['total_s']:.1f} | "
            f"{row['status']} | {row['selected']} | {row['objective']:,} ({share:.1f}% of the "
            f"money) | {explained} | {row['peak_mb']:.0f} |"
        )
    return "\n".join(lines)


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
    rows, load = {}, os.getloadavg()[0]
    for case in args.cases or list(CASES):
        rows[case] = run_case(case, args.limit, args.cap)
        print(case, rows[case], flush=True)
    text = table(rows, args.limit, args.cap, load)
    print(text)
    if not args.no_write:
        write_block(BEGIN, END, text, "max-welfare on generated rounds")


if __name__ == "__main__":
    main(sys.argv[1:])
