"""greedy and equal shares on generated rounds with matching grants: time per rule.

    .venv/bin/python bench/bench_matching_rules.py            # rewrites the table in
                                                              # docs/benchmarks.md
    .venv/bin/python bench/bench_matching_rules.py --no-write

The rounds are bench/generate_round.py's recipe (seed 1) at several sizes: 8 of its 20
sources are grants that only match resident money, so every "does this project still
fit, and how much could it raise" is the exact integer funding model
(`optimizer/matching.py`), not the max-flow alone. Each (round, rule) runs in a fresh
subprocess, stopped after --cap seconds.
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
BEGIN, END = "<!-- bench-matching:begin -->", "<!-- bench-matching:end -->"
SIZES = (100, 200, 500)
RULES = (("greedy", None), ("equal-shares", "none"), ("equal-shares", "add1"))


def label(rule: str, completion: str | None) -> str:
    return rule if completion is None else f"{rule} ({completion})"


def measure(projects: int, rule: str, completion: str | None) -> dict:
    sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
    import generate_round

    from optimizer import allocate

    instance, profile = generate_round.generate(1, projects=projects)
    started = time.perf_counter()
    options = {} if completion is None else {"completion": completion}
    result = allocate(instance, profile, rule, **options)
    return {"seconds": time.perf_counter() - started, "funded": len(result.selected)}


def run(projects: int, rule: str, completion: str | None, cap: float) -> dict:
    child = [sys.executable, __file__, "--child", str(projects), rule, completion or "-"]
    try:
        done = subprocess.run(child, capture_output=True, text=True, timeout=cap, check=True)
    except subprocess.TimeoutExpired:
        return {"stopped": cap}
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(rows: dict[tuple[int, str], dict], cap: float, load: float) -> str:
    labels = [label(rule, completion) for rule, completion in RULES]
    lines = [
        f"Measured {date.today().isoformat()} on {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, load average {load:.1f} at the start; at most "
        f"{cap:.0f} s per run. Re-run: `.venv/bin/python bench/bench_matching_rules.py`.",
        "",
        "| projects | " + " | ".join(f"{name} s (funded)" for name in labels) + " |",
        "|---:|" + "---:|" * len(labels),
    ]
    for projects in SIZES:
        cells = []
        for name in labels:
            row = rows[(projects, name)]
            if "stopped" in row:
                cells.append(f"stopped after {row['stopped']:.0f}")
            else:
                cells.append(f"{row['seconds']:.1f} ({row['funded']})")
        lines.append(f"| {projects:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cap", type=float, default=300.0, help="seconds per run")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        projects, rule, completion = args.child
        print(json.dumps(measure(int(projects), rule, None if completion == "-" else completion)))
        return
    rows, load = {}, os.getloadavg()[0]
    for projects in SIZES:
        for rule, completion in RULES:
            name = label(rule, completion)
            rows[(projects, name)] = run(projects, rule, completion, args.cap)
            print(projects, name, rows[(projects, name)], flush=True)
    text = table(rows, args.cap, load)
    print(text)
    if not args.no_write:
        write_block(BEGIN, END, text, "greedy and equal shares with matching grants")


if __name__ == "__main__":
    main(sys.argv[1:])
