"""Command-line commands: allocate a Pabulib file, list rounds, write and verify documents.

Machine-readable output (--json) goes to stdout alone; everything else to stderr.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

import optimizer
from commonpot.extensions import db
from commonpot.models import Community, FundingRound, RoundStatus
from commonpot.money import format_cents

from . import allocation, issuing, jobs, verdicts
from .models import JobStatus
from .verification import NotAPdf

COMPLETIONS = ("add1", "none", "add1-greedy")


def _units(cents: int) -> str:
    """Cents back to the file's units as a decimal string ('1548961', '12.50')."""
    value = Decimal(cents) / 100
    return format(value.normalize() if value == value.to_integral() else value, "f")


@click.command("allocate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--rule", type=click.Choice(sorted(optimizer.RULES)), required=True)
@click.option(
    "--completion",
    type=click.Choice(COMPLETIONS),
    default=None,
    help="How equal shares completes its outcome (default add1); other rules have no completion.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
def allocate_command(file: Path, rule: str, completion: str | None, as_json: bool) -> None:
    """Run a rule on a Pabulib FILE (no database) and print the selected projects."""
    try:
        election = optimizer.read_pabulib(file)
    except optimizer.PabulibError as error:
        raise click.ClickException(f"{file}: {error}") from None
    options = {}
    if rule == "equal-shares":
        completion = options["completion"] = completion or "add1"
    else:
        completion = None
    result = optimizer.allocate(election.instance(), election.profile, rule, **options)
    cost = sum(election.instance().project(p).cost for p in result.selected)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "rule": rule,
                    "completion": None,
                    "selected": list(result.selected),
                    "cost": _units(cost),
                    "budget": _units(election.budget_cents),
                    "seconds": round(result.seconds, 3),
                    "input_sha256": result.input_sha256,
                    "status": result.status,
                }
            )
        )
        return
    click.echo(
        f"{election.meta.get('description', file.name)}: rule {rule}, "
        f"status {result.status}, {len(result.selected)} projects selected"
    )
    for pid in result.selected:
        click.echo(
            f"  {pid:>8}  {_units(election.instance().project(pid).cost):>14}  "
            f"{election.names.get(pid, '')}"
        )
    click.echo(f"cost {_units(cost)} of budget {_units(election.budget_cents)}")


def _funded(funding_round: FundingRound) -> list[dict]:
    run = allocation.chosen_run(funding_round)
    if run is None:
        return []
    table = allocation.plan_table(run)
    return [
        {"id": row["project"].id, "title": row["project"].title, "funded_cents": row["total"]}
        for row in table["funded"]
    ]


@click.command("rounds")
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
@with_appcontext
def rounds_command(as_json: bool) -> None:
    """List every community's rounds and what they funded."""
    rows = db.session.execute(
        select(FundingRound, Community.slug)
        .join(Community)
        .order_by(Community.slug, FundingRound.id)
    ).all()
    data = [
        {
            "id": r.id,
            "community": slug,
            "title": r.title,
            "status": r.status.value,
            "funded": _funded(r),
        }
        for r, slug in rows
    ]
    if as_json:
        click.echo(json.dumps({"rounds": data}))
        return
    if not data:
        click.echo("No rounds yet.")
    for r in data:
        click.echo(f"#{r['id']:<4} {r['community']:<16} {r['status']:<10} {r['title']}")
        for f in r["funded"]:
            click.echo(f"        funded {format_cents(f['funded_cents']):>14}  {f['title']}")


@click.command("report")
@click.argument("round_id", type=int)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@with_appcontext
def report_command(round_id: int, out_dir: Path) -> None:
    """Write the round's PDFs into OUT (signed documents exactly as issued)."""
    funding_round = db.session.get(FundingRound, round_id)
    if funding_round is None:
        raise click.ClickException(f"There is no round {round_id}.")
    docs = issuing.documents_of(funding_round)
    if not docs:
        if funding_round.status != RoundStatus.ALLOCATED:
            raise click.ClickException(
                f"Round {round_id} is {funding_round.status.value}: "
                "it has no documents until it is allocated."
            )
        try:
            docs = issuing.generate_documents(funding_round, actor=None)
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
    out_dir.mkdir(parents=True, exist_ok=True)
    for document in docs:
        (out_dir / document.filename).write_bytes(document.pdf)
        click.echo(
            f"{out_dir / document.filename}  sha256 {document.sha256}  "
            f"{len(document.signatures)} signature(s)",
            err=True,
        )


@click.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
@with_appcontext
def verify_command(file: Path, as_json: bool) -> None:
    """Check FILE: every signature intact and trusted, the last covering the whole file,
    and the bytes those of a document this installation issued (current or superseded)."""
    try:
        finding = verdicts.check_file(file.read_bytes())
    except NotAPdf:
        if as_json:
            click.echo(
                json.dumps(
                    {"ok": False, "problems": ["not a PDF file"], "signers": [], "document": None}
                )
            )
        click.echo(f"{file}: not a PDF file.", err=True)
        sys.exit(2)
    if as_json:
        click.echo(json.dumps(finding.as_json()))
    elif finding.ok:
        doc = finding.document
        assert doc is not None
        what = "allocation report" if doc.project is None else f"term sheet of {doc.project.title}"
        state = (
            "current version"
            if doc.current
            else f"SUPERSEDED on {doc.superseded_at:%Y-%m-%d} by a newer version"
        )
        click.echo(
            f"{file}: valid. Issued as {doc.filename}: {what}, version {doc.version}, {state}."
        )
        if not finding.complete:
            click.echo(
                f"  The file holds {finding.signatures_then} of the version's "
                f"{finding.signatures_now} signatures (downloaded before the others signed)."
            )
        click.echo("Signed by:")
        for s in finding.signers:
            when = f"{s.signed_at:%Y-%m-%d %H:%M} UTC" if s.signed_at else ""
            click.echo(f"  {s.name} ({s.role_label})  {when}")
    else:
        click.echo(f"{file}: NOT valid.", err=True)
        for problem in finding.problems:
            click.echo(f"  - {problem}", err=True)
    sys.exit(0 if finding.ok else 1)


@click.group("jobs")
def jobs_group() -> None:
    """Background jobs (document generation)."""


@jobs_group.command("run")
@click.argument("job_id", type=int)
@with_appcontext
def run_job_command(job_id: int) -> None:
    """Run a queued job here, in the foreground (an operator's retry, or a worker of one)."""
    status = jobs.run_job(job_id)
    if status is None:
        raise click.ClickException(f"There is no job {job_id}.")
    click.echo(f"job {job_id}: {status.value}", err=True)
    sys.exit(0 if status == JobStatus.DONE else 1)


def register(app) -> None:
    from .demo import demo_command
    from .ledger_cli import ledger_group

    for command in (
        allocate_command,
        rounds_command,
        report_command,
        verify_command,
        jobs_group,
        demo_command,
        ledger_group,
    ):
        app.cli.add_command(command)
