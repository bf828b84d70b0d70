"""`commonpot ledger verify`: the books' invariants, for a treasurer or a cron job."""

from __future__ import annotations

import json
import sys

import click
from flask.cli import with_appcontext

from .ledger_checks import verify


@click.group("ledger")
def ledger_group() -> None:
    """The pooled fund's append-only, double-entry books."""


@ledger_group.command("verify")
@click.option("--round", "round_ids", type=int, multiple=True, help="Only this round (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
@with_appcontext
def verify_command(round_ids: tuple[int, ...], as_json: bool) -> None:
    """Check every invariant; exit 1 naming the first broken one."""
    report = verify(list(round_ids) or None)
    first = report.problems[0] if report.problems else None
    if as_json:
        click.echo(
            json.dumps(
                {
                    "ok": report.ok,
                    "rounds": report.rounds,
                    "entries": report.entries,
                    "lines": report.lines,
                    "problems": len(report.problems),
                    "broken": None
                    if first is None
                    else {
                        "invariant": first.invariant,
                        "round": first.round_id,
                        "detail": first.detail,
                    },
                    "all": [
                        {"invariant": p.invariant, "round": p.round_id, "detail": p.detail}
                        for p in report.problems
                    ],
                }
            )
        )
    elif first is None:
        click.echo(
            f"ledger intact: {report.rounds} rounds, {report.entries} entries, "
            f"{report.lines} lines; every invariant holds"
        )
    else:
        click.echo(
            f"ledger broken: {first.invariant} (round {first.round_id}): {first.detail}"
            + (f" — and {len(report.problems) - 1} more" if len(report.problems) > 1 else ""),
            err=True,
        )
    sys.exit(0 if report.ok else 1)
