"""Benchmark commonpot's rules against pabutools on real Pabulib files.

Every measurement runs in its own subprocess, so peak memory (ru_maxrss) is that of one
run, parse included. Both sides read the file themselves; winners must be identical.
Projects below the file's min_project_score_threshold are left out of pabutools'
instance (pabutools' rules do not apply thresholds; ours do). pabutools' add1 loop runs
one full equal shares per unit added to every share: when that would take longer than
--cap seconds (estimated from its plain run times our number of steps), it is skipped
and the table says so.

    .venv/bin/python bench/bench_rules.py                  # all files, writes the doc
    .venv/bin/python bench/bench_rules.py Poland_Lodz_2023 --cap 60 --no-write

pabutools is a test dependency (`pip install pabutools`), never imported by optimizer/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PABULIB = ROOT.parent / "shared" / "pabulib"
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
COMPLETIONS = ("none", "add1", "add1-greedy")


def _peak_mb() -> float:
    """Peak resident memory of this process: VmHWM, which (unlike ru_maxrss) does not
    carry over the parent's peak through fork and exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_ours(path: str, completion: str) -> dict:
    """Parse and run equal-shares (or greedy) in this process; seconds and winners."""
    from optimizer import allocate, fingerprint, read_pabulib

    start = time.perf_counter()
    election = read_pabulib(path)
    parsed = time.perf_counter()
    rule = "greedy" if completion == "greedy" else "equal-shares"
    result = allocate(election.instance(), election.profile, rule, completion=completion)
    done = time.perf_counter()
    options = {} if rule == "greedy" else {"completion": completion, "increment": 100}
    fingerprint(election.instance(), election.profile, rule, options)  # timed on its own:
    hashed = time.perf_counter()  # every Result carries this hash of its whole input
    steps = None
    share = [e.numbers["voter_share"] for e in result.explanations if "voter_share" in e.numbers]
    if share and election.profile.ballots:
        start_share = election.budget_cents / len(election.profile.ballots)
        steps = round((share[0] - start_share) / 100)
    return {
        "parse": parsed - start,
        "rule": done - parsed,
        "fingerprint": hashed - done,
        "peak_mb": _peak_mb(),
        "selected": list(result.selected),
        "steps": steps,
    }


def _small_greedy(instance, profile, chosen: set[str], scores: dict[str, int]) -> set[str]:
    """Greedy by support (ties: id) from `chosen`, on pabutools objects: the city rule."""
    left = instance.budget_limit - sum(p.cost for p in instance if p.name in chosen)
    for project in sorted(instance, key=lambda p: (-scores[p.name], p.name)):
        if project.name not in chosen and project.cost <= left:
            chosen = chosen | {project.name}
            left -= project.cost
    return chosen


def measure_pabutools(path: str, completion: str, drop: list[str]) -> dict:
    """Parse and run pabutools' counterpart in this process."""
    from pabutools.election import (
        Additive_Borda_Sat,
        Additive_Cardinal_Sat,
        Cost_Sat,
        Instance,
        parse_pabulib,
    )
    from pabutools.rules import (
        completion_by_rule_combination,
        greedy_utilitarian_welfare,
        method_of_equal_shares,
    )

    start = time.perf_counter()
    instance, profile = parse_pabulib(path)
    parsed = time.perf_counter()
    kept = Instance((p for p in instance if p.name not in drop), budget_limit=instance.budget_limit)
    vote = instance.meta["vote_type"]
    sat = {"ordinal": Additive_Borda_Sat, "cumulative": Additive_Cardinal_Sat}.get(vote, Cost_Sat)
    sat = Additive_Cardinal_Sat if vote == "scoring" else sat
    if completion == "greedy":
        outcome = greedy_utilitarian_welfare(kept, profile, sat_class=Cost_Sat)
    elif completion == "none":
        outcome = method_of_equal_shares(kept, profile, sat_class=sat)
    elif sat is Cost_Sat and completion == "add1-greedy":
        rules = [method_of_equal_shares, greedy_utilitarian_welfare]
        params = [{"sat_class": sat, "voter_budget_increment": 1}, {"sat_class": sat}]
        outcome = completion_by_rule_combination(kept, profile, rules, params)
    else:
        outcome = method_of_equal_shares(kept, profile, sat_class=sat, voter_budget_increment=1)
        if completion == "add1-greedy":  # pabutools' Add1U ranks by support per cost here
            names = {p.name for p in outcome}
            scores = _scores(kept, profile, vote)
            outcome = [p for p in kept if p.name in _small_greedy(kept, profile, names, scores)]
    done = time.perf_counter()
    return {
        "parse": parsed - start,
        "rule": done - parsed,
        "peak_mb": _peak_mb(),
        "selected": sorted(p.name for p in outcome),
    }


def _scores(instance, profile, vote: str) -> dict[str, int]:
    """Support as commonpot counts it (Borda: length - 1 - position)."""
    scores = {p.name: 0 for p in instance}
    for ballot in profile:
        if vote == "ordinal":
            for i, p in enumerate(ballot):
                if p.name in scores:
                    scores[p.name] += len(ballot) - 1 - i
        else:
            for p in ballot:
                if p.name in scores:
                    scores[p.name] += ballot[p] if vote in ("cumulative", "scoring") else 1
    return scores


def _limit_memory(gigabytes: float) -> None:
    limit = int(gigabytes * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def run_child(args: list[str], timeout: float, memory_gb: float | None = None) -> dict | str:
    """One measurement in a fresh interpreter; a reason (str) when it did not finish."""
    command = [sys.executable, __file__, "--child", *args]
    limit = None if memory_gb is None else (lambda: _limit_memory(memory_gb))
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, preexec_fn=limit
        )
    except subprocess.TimeoutExpired:
        return f"stopped after {timeout:,.0f} s"
    if done.returncode != 0:
        # Python's MemoryError, or GMP's (pabutools' fractions) when RLIMIT_AS is reached.
        if "MemoryError" in done.stderr or "Cannot allocate memory" in done.stderr:
            return f"stopped: over {memory_gb:g} GB"
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def below_threshold(path: Path) -> list[str]:
    from optimizer import read_pabulib, support

    election = read_pabulib(path)
    minimum = election.min_support
    if minimum is None:
        return []
    scores = support(election.instance(), election.profile)
    return sorted(p for p, s in scores.items() if s < minimum)


def bench_file(path: Path, cap: float, memory_gb: float, repeat: int) -> list[dict]:
    """Rows for one file: each rule/completion on both sides."""
    from optimizer import read_pabulib

    election = read_pabulib(path)
    drop = below_threshold(path)
    info = {
        "file": path.stem,
        "kind": election.meta.get("vote_type", ""),
        "voters": len(election.profile.ballots),
        "projects": len(election.projects),
    }
    rows = []
    plain_seconds = None
    for completion in (*COMPLETIONS, "greedy"):
        if completion == "greedy" and info["kind"] not in ("approval", "choose-1"):
            continue  # pabutools' greedy is not the city rule on points and rankings
        ours = run_child(["ours", str(path), completion], timeout=3600)
        assert isinstance(ours, dict), ours
        for _ in range(repeat - 1 if ours["rule"] < 10 else 0):  # the machine is shared:
            again = run_child(["ours", str(path), completion], timeout=3600)  # keep the best
            assert isinstance(again, dict), again
            ours = min(ours, again, key=lambda m: m["parse"] + m["rule"])
        row = {**info, "completion": completion, "ours": ours, "theirs": None, "note": ""}
        estimate = None
        if completion in ("add1", "add1-greedy") and plain_seconds is not None:
            estimate = plain_seconds * ((ours["steps"] or 0) + 1)
        if estimate is not None and estimate > cap:
            row["note"] = f"pabutools skipped: ~{estimate:,.0f} s ({ours['steps']} steps)"
        else:
            args = ["pabutools", str(path), completion, ",".join(drop)]
            theirs = run_child(args, cap * 1.5, memory_gb)
            if isinstance(theirs, str):
                row["note"] = f"pabutools {theirs}"
            else:
                row["theirs"] = theirs
                if completion == "none":
                    plain_seconds = theirs["rule"]
        rows.append(row)
        print(_line(row), flush=True)
    return rows


def _line(row: dict) -> str:
    ours, theirs = row["ours"], row["theirs"]
    same = "" if theirs is None else ("yes" if ours["selected"] == theirs["selected"] else "NO")
    cells = [
        row["file"].removeprefix("Poland_").removeprefix("US_Stanford_Dataset_"),
        row["kind"],
        f"{row['voters']:,}",
        str(row["projects"]),
        row["completion"] if row["completion"] == "greedy" else f"equal-shares {row['completion']}",
        f"{ours['rule']:.3f}",
        f"{ours['fingerprint']:.3f}",
        f"{ours['parse'] + ours['rule']:.2f}",
        f"{ours['peak_mb']:.0f}",
    ]
    if theirs is None:
        cells += ["–", "–", "–", same or row["note"]]
    else:
        speedup = theirs["rule"] / max(ours["rule"], 1e-9)
        cells += [f"{theirs['rule']:.2f}", f"{theirs['peak_mb']:.0f}", f"{speedup:,.0f}×", same]
    return "| " + " | ".join(cells) + " |"


def _machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import importlib.metadata

    try:
        pabu = importlib.metadata.version("pabutools")
    except importlib.metadata.PackageNotFoundError:
        pabu = "not installed"
    load = os.getloadavg()[0]
    return (
        f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, "
        f"pabutools {pabu}, {date.today().isoformat()}, load average {load:.1f} at the start"
    )


def table(rows: list[dict], cap: float, repeat: int, machine: str) -> str:
    header = (
        "| file | votes | voters | projects | rule | commonpot rule s | of which fingerprint s "
        "| commonpot parse+rule s | commonpot peak MB | pabutools rule s | pabutools peak MB "
        "| speed-up | same winners |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [
        BEGIN,
        f"Machine: {machine}. pabutools cap: {cap:,.0f} s per run; commonpot: best of "
        f"{repeat} runs (one when a run takes over 10 s).",
        "",
        header,
        *(_line(row) for row in rows),
        END,
    ]
    return "\n".join(lines)


def write_doc(text: str) -> None:
    current = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    if BEGIN in current and END in current:
        before, rest = current.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
        DOC.write_text(before + text + after, encoding="utf-8")
    else:
        DOC.write_text(current + "\n" + text + "\n", encoding="utf-8")


def main(argv: list[str]) -> None:
    if argv[:1] == ["--child"]:
        side, path, completion = argv[1:4]
        if side == "ours":
            print(json.dumps(measure_ours(path, completion)))
        else:
            drop = [p for p in (argv[4] if len(argv) > 4 else "").split(",") if p]
            print(json.dumps(measure_pabutools(path, completion, drop)))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", help="file names without .pb (default: all)")
    parser.add_argument("--cap", type=float, default=600, help="seconds per pabutools run")
    parser.add_argument("--memory", type=float, default=6, help="GB per pabutools run")
    parser.add_argument("--repeat", type=int, default=3, help="best of N commonpot runs")
    parser.add_argument("--no-write", action="store_true", help="do not update the doc")
    options = parser.parse_args(argv)
    if not PABULIB.is_dir():
        sys.exit(f"no Pabulib files: {PABULIB} is absent")
    names = options.files or sorted(p.stem for p in PABULIB.glob("*.pb"))
    machine = _machine()
    rows = []
    for name in names:
        path = PABULIB / f"{name}.pb"
        if not path.is_file():
            print(f"skipping {name}: {path} is absent", flush=True)
            continue
        rows += bench_file(path, options.cap, options.memory, options.repeat)
    text = table(rows, options.cap, options.repeat, machine)
    print(text)
    if not options.no_write:
        write_doc(text)


if __name__ == "__main__":
    main(sys.argv[1:])
