"""The `commonpot` command: the Flask CLI bound to the app factory.

Feature packages add their commands inside create_app; `db` comes from Flask-Migrate.
"""

from flask.cli import FlaskGroup

from . import create_app

main = FlaskGroup(
    create_app=create_app,
    add_version_option=True,
    help="commonpot: decide together what to fund, and pool the money to fund it.",
)
