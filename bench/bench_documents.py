"""Benchmark: render and sign a round's report and term sheets, for a round of 200 projects.

A throwaway SQLite database is seeded through the real services (200 projects in five
priority areas, 600 residents voting and pledging in every instrument, two grants), a
greedy allocation is run (the setup; max-welfare is being reworked), and then the steps a
board waits for are timed, as the app runs them:
- the generation job (`pooling.jobs.run_job`, here in the foreground: WeasyPrint renders
  the report and one term sheet per funded project, progress committed after each, all
  documents written in one transaction at the end);
- `sign_round` by the first board member (pyHanko PAdES, one incremental signature per
  document);
- a correction: the new-version job for the report, which the first member had signed;
- `sign_round` by the second board member (the new version has one signature now);
- `sign_round` by the first board member again: only the new version is left to sign, it
  reaches quorum, so the round is approved and its pledges settled.
Each step's wall-clock and CPU seconds are shown: on a shared machine the CPU time is the
steadier figure.

    .venv/bin/python bench/bench_documents.py            # prints and writes docs/benchmarks.md
    .venv/bin/python bench/bench_documents.py --no-write
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import resource
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench-documents:begin -->", "<!-- bench-documents:end -->"
PROJECTS = 200
RESIDENTS = 600
AREAS = ["Food security", "Place security", "Education", "Green spaces", "Youth and seniors"]


def seed(rng: random.Random):
    from commonpot.extensions import db
    from commonpot.models import Role, RoundStatus, User
    from commonpot.rounds import services as rounds
    from pooling import grants, pledges
    from pooling.models import Condition, Instrument, TargetKind
    from pooling.terms import set_terms
    from surveys.services import submit_response

    community = rounds.create_community("Bench Cooperative", "bench", quorum=2)
    organizer = User(email="org@bench.test", name="Olga Organizer")
    board = [User(email=f"b{i}@bench.test", name=f"Board Member {i}") for i in (1, 2, 3)]
    residents = [User(email=f"r{i}@bench.test", name=f"Resident {i}") for i in range(RESIDENTS)]
    db.session.add_all([organizer, *board, *residents])
    db.session.flush()
    rounds.grant_role(organizer, community, Role.ORGANIZER, actor=None)
    for user in [organizer, *board, *residents]:
        rounds.grant_role(user, community, Role.RESIDENT, actor=None)
    for user in board:
        rounds.grant_role(user, community, Role.BOARD, actor=None)
    r = rounds.create_round(
        community,
        title="Benchmark round",
        description="",
        priority_areas=AREAS,
        opens_at=None,
        closes_at=None,
        max_approvals=None,
        actor=organizer,
    )
    for i in range(PROJECTS):
        rounds.add_project(
            r,
            title=f"Project {i:03d}",
            description="A neighbourhood project. " * rng.randint(2, 12),
            cost_cents=rng.randint(1_000, 30_000) * 100,
            priority_area_id=r.priority_areas[i % len(AREAS)].id,
            lead_name=f"Lead {i}",
            actor=organizer,
        )
    set_terms(
        r,
        actor=organizer,
        accepts_donations=True,
        accepts_shares=True,
        accepts_loans=True,
        share_price_cents=5_000,
        loan_rate_bps=300,
        loan_term_months=36,
        min_pledge_cents=500,
        max_pledge_cents=1_000_000,
        resident_cap_cents=None,
    )
    for name, area in (("City fund", None), ("Food grant", r.priority_areas[0].id)):
        grants.add_grant(
            r,
            name=name,
            funder="Funder",
            amount_cents=400_000_00,
            priority_area_id=area,
            cap_per_project_cents=20_000_00,
            actor=organizer,
        )
    rounds.transition(r, RoundStatus.OPEN, actor=organizer)
    ids = [p.id for p in r.projects]
    ranks = {a.id: i for i, a in enumerate(r.priority_areas, 1)}
    weights = [1 / (k + 1) for k in range(PROJECTS)]  # Zipf-like popularity
    for user in residents:
        votes = set(rng.choices(ids, weights=weights, k=rng.randint(1, 12)))
        submit_response(r, user, rankings=ranks, votes=votes)
        kind = rng.random()
        if kind < 0.6:
            made = {"instrument": Instrument.DONATION, "amount_cents": rng.randint(5, 500) * 100}
        elif kind < 0.85:
            made = {"instrument": Instrument.SHARES, "shares": rng.randint(1, 6)}
        else:
            made = {"instrument": Instrument.LOAN, "amount_cents": rng.randint(5, 50) * 10_000}
        if rng.random() < 0.3:
            made |= {
                "target": TargetKind.PROJECT,
                "project_ids": [rng.choice(sorted(votes))],
                "condition": rng.choice(list(Condition)),
            }
        pledge = pledges.make_pledge(r, user, **made)
        pledges.confirm_pledge(pledge, user)
    rounds.transition(r, RoundStatus.CLOSED, actor=organizer)
    db.session.commit()
    return r, organizer, board


def run() -> dict:
    os.environ.setdefault("SECRET_KEY", "bench-only")
    workdir = tempfile.mkdtemp(prefix="commonpot-bench-")
    from commonpot import create_app
    from commonpot.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir}/bench.db"})
    with app.app_context():
        db.create_all()  # a throwaway benchmark database, not an installation
        from pooling.allocation import run_allocation
        from pooling.approval import sign_round
        from pooling.issuing import documents_of
        from pooling.jobs import run_job
        from pooling.models import Job, JobKind

        started = time.perf_counter()
        r, organizer, board = seed(random.Random(7))
        seeded = time.perf_counter() - started
        started = time.perf_counter()
        run = run_allocation(r, "greedy", actor=organizer)
        db.session.commit()
        allocated = time.perf_counter() - started
        funded = sum(1 for o in run.outcomes if o.funded)

        def timed(step, *args, **kwargs) -> tuple[float, float]:
            wall, cpu = time.perf_counter(), time.process_time()
            step(*args, **kwargs)
            db.session.commit()
            return time.perf_counter() - wall, time.process_time() - cpu

        def job(**fields) -> None:
            row = Job(round_id=r.id, actor_id=organizer.id, **fields)
            db.session.add(row)
            db.session.commit()
            status = run_job(row.id)
            assert status is not None and status.value == "done", (status, row.error)

        rendered = timed(job, kind=JobKind.GENERATE)
        documents = documents_of(r)
        pages_bytes = sum(len(d.pdf) for d in documents)
        sign_first = timed(sign_round, r, board[0])
        report = documents_of(r)[0]
        corrected = timed(
            job, kind=JobKind.NEW_VERSION, document_id=report.id, reason="benchmark", total=1
        )
        sign_second = timed(sign_round, r, board[1])
        sign_again = timed(sign_round, r, board[0])
        return {
            "projects": PROJECTS,
            "funded": funded,
            "documents": len(documents),
            "megabytes": pages_bytes / 1e6,
            "seed_s": seeded,
            "allocate_s": allocated,
            "render": rendered,
            "sign_first": sign_first,
            "correct": corrected,
            "sign_second": sign_second,
            "sign_again": sign_again,
            "load": os.getloadavg(),
            "status": r.status.value,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }


def table(result: dict) -> str:
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    load = ", ".join(f"{v:.1f}" for v in result["load"])
    return "\n".join(
        [
            BEGIN,
            "## Documents: render and sign a 200-project round",
            "",
            f"Measured {date.today().isoformat()} on {machine}; load average {load} "
            "(1, 5, 15 min) when the run ended. "
            "`.venv/bin/python bench/bench_documents.py` re-runs it "
            "(`--no-write` only prints).",
            "",
            "| step | wall s | CPU s |",
            "|---|---:|---:|",
            f"| generation job: the report and {result['documents'] - 1} term sheets "
            f"({result['documents']} PDFs, {result['megabytes']:.1f} MB), written at once | "
            + _secs(result["render"]),
            "| first board member signs every document | " + _secs(result["sign_first"]),
            "| correction: new-version job for the signed report | " + _secs(result["correct"]),
            "| second board member signs every document | " + _secs(result["sign_second"]),
            f"| first board member signs the new version (quorum: approves and settles "
            f"{RESIDENTS} pledges) | " + _secs(result["sign_again"]),
            f"| (setup: greedy allocation of {result['projects']} projects, "
            f"{result['funded']} funded) | {result['allocate_s']:.1f} | |",
            "",
            f"Peak memory of the whole run: {result['peak_mb']:.0f} MB. Round status after the "
            f"last signature: {result['status']}. Wall-clock time above CPU time is time "
            "the run waited for the cores (see the load average).",
            END,
        ]
    )


def _secs(pair: tuple[float, float]) -> str:
    return f"{pair[0]:.1f} | {pair[1]:.1f} |"


def write(section: str) -> None:
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    if BEGIN in text:
        head, rest = text.split(BEGIN, 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    DOC.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    result = run()
    section = table(result)
    print(section)
    if not args.no_write:
        write(section)


if __name__ == "__main__":
    main()
