"""`commonpot audit verify`: walk the audit log's hash chain and name the first broken event.

Machine-readable output (--json) goes to stdout alone; a broken chain is reported on stderr.
"""

from __future__ import annotations

import json
import sys

import click
from flask.cli import with_appcontext

from .audit import seal
from .audit_chain import check_chain


@click.group("audit")
def audit_group() -> None:
    """Check the audit log."""


@audit_group.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
@with_appcontext
def verify_command(as_json: bool) -> None:
    """Seal the events waiting to be chained, then walk the whole hash chain in seq order;
    exit 1 naming the first changed, removed or reordered event, 0 when it is intact."""
    seal()
    report = check_chain()
    if as_json:
        click.echo(json.dumps(report.as_dict()))
    elif report.ok:
        click.echo(report.summary())
    else:
        click.echo(report.summary(), err=True)
    sys.exit(0 if report.ok else 1)
