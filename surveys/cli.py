"""`commonpot round import|export`: a round to and from a Pabulib file.

Machine-readable output (--json) goes to stdout alone; progress and errors to stderr.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from commonpot.errors import DomainError
from commonpot.extensions import db
from commonpot.models import Community, FundingRound
from optimizer import PabulibError

from . import pabulib_io


@click.group("round")
def round_group() -> None:
    """Exchange a round's projects and ballots with Pabulib files (pabulib.org)."""


@round_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--community", "slug", required=True, help="The community's short name (slug).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
@with_appcontext
def import_command(file: Path, slug: str, as_json: bool) -> None:
    """Create a closed round in a community from a Pabulib FILE, voters as anonymous ballots."""
    started = time.perf_counter()
    community = db.session.scalar(select(Community).where(Community.slug == slug))
    if community is None:
        raise click.ClickException(f"There is no community '{slug}'.")
    data = file.read_bytes()
    try:
        election = pabulib_io.read_file(data)
    except PabulibError as error:
        raise click.ClickException(f"{file}: {error}") from None
    try:
        imported = pabulib_io.import_election(
            community, election, source_name=file.name, sha256=hashlib.sha256(data).hexdigest()
        )
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(f"{file}: {error}") from None
    except BaseException:
        db.session.rollback()
        raise
    seconds = round(time.perf_counter() - started, 3)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "id": imported.round.id,
                    "projects": imported.projects,
                    "ballots": imported.ballots,
                    "votes": imported.votes,
                    "seconds": seconds,
                }
            )
        )
        return
    click.echo(imported.round.id)
    click.echo(
        f"Imported {file.name} into {community.slug} as round {imported.round.id} "
        f"(closed): {imported.projects} projects, {imported.ballots} ballots, "
        f"{imported.votes} votes in {seconds} s.",
        err=True,
    )


@round_group.command("export")
@click.argument("round_id", type=int)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="The .pb file to write.",
)
@with_appcontext
def export_command(round_id: int, out: Path) -> None:
    """Write round ROUND_ID as a Pabulib file, voters under pseudonymous ids."""
    funding_round = db.session.get(FundingRound, round_id)
    if funding_round is None:
        raise click.ClickException(f"There is no round {round_id}.")
    text = pabulib_io.export_round(funding_round, secret_key=current_app.config["SECRET_KEY"])
    out.write_text(text, encoding="utf-8", newline="")
    click.echo(f"Wrote round {round_id} to {out}.", err=True)
