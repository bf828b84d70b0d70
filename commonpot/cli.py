"""The `commonpot` command: the Flask CLI bound to the app factory.

Feature packages add their commands inside create_app; `db` comes from Flask-Migrate.
"""

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from . import create_app

main = FlaskGroup(
    create_app=create_app,
    add_version_option=True,
    help="commonpot: decide together what to fund, and pool the money to fund it.",
)


@click.group("community")
def community_group() -> None:
    """Set up a cooperative."""


@community_group.command("create")
@click.option("--name", required=True, help="e.g. 'Eastside Commons Cooperative'")
@click.option("--slug", required=True, help="Short name used in addresses, e.g. 'eastside'")
@click.option("--organizer-email", required=True)
@click.option("--organizer-name", required=True)
@click.option(
    "--quorum",
    default=2,
    show_default=True,
    type=click.IntRange(min=1),
    help="Board signatures each document needs before a round is approved.",
)
@click.option("--currency", default="USD", show_default=True)
@click.option(
    "--timezone", "tz", default="UTC", show_default=True, help="IANA name, e.g. America/Los_Angeles"
)
@click.option(
    "--authority-p12",
    type=click.File("rb"),
    help="The board's own certificate authority (PKCS#12) instead of a generated one.",
)
@click.option(
    "--authority-p12-password",
    envvar="COMMONPOT_AUTHORITY_P12_PASSWORD",
    help="Its password (or set COMMONPOT_AUTHORITY_P12_PASSWORD; asked for if missing).",
)
@with_appcontext
def create_community_command(
    name,
    slug,
    organizer_email,
    organizer_name,
    quorum,
    currency,
    tz,
    authority_p12,
    authority_p12_password,
) -> None:
    """Create a community with its signing authority and first organizer (mailed a link)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from .errors import DomainError
    from .extensions import db
    from .models import Role
    from .people.services import invite
    from .rounds.services import create_community
    from .signals import authority_brought

    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(f"unknown time zone {tz!r}", param_hint="--timezone") from None
    p12 = authority_p12.read() if authority_p12 else None
    if p12 is not None and authority_p12_password is None:
        authority_p12_password = click.prompt(
            "Password of the authority's PKCS#12 file", hide_input=True, default=""
        )
    try:
        community = create_community(
            name, slug, currency=currency.upper(), timezone=tz, quorum=quorum
        )
        if p12 is not None:
            authority_brought.send(
                community, p12=p12, password=authority_p12_password or "", actor=None
            )
        # Links in mail need the site's address; a CLI command has no request to take it from.
        with current_app.test_request_context(base_url=current_app.config["PUBLIC_URL"]):
            organizer = invite(
                community,
                name=organizer_name,
                email=organizer_email,
                role=Role.ORGANIZER,
                actor=None,
            )
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    click.echo(
        f"Created {community.name} ({community.slug}); {organizer.email} is its "
        "organizer. Without MAIL_SERVER the invitation above holds their link."
    )
