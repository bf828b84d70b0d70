"""commonpot: neighborhood cooperatives decide together what to fund and pool the money."""

from __future__ import annotations

from pathlib import Path

from flask import (
    Flask,
    g,
    has_app_context,
    has_request_context,
    render_template,
    request,
    session,
)
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from . import config
from .extensions import babel, csrf, db, login_manager, migrate

ROOT = Path(__file__).resolve().parent.parent
__version__ = "0.1.0"
MAX_FLASHES = 5  # messages kept in the session until a page shows them


def create_app(overrides: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
    )
    app.config.update(config.load(Path(app.instance_path)))
    if overrides:
        app.config.update(overrides)

    from .security import bound_ids

    bound_ids(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    csrf.init_app(app)
    babel.init_app(app)

    # Models of every package must be known before migrations or create_all look at metadata.
    from pooling import models as _pooling_models  # noqa: F401
    from pooling.views import bp as pooling_bp
    from surveys import models as _survey_models  # noqa: F401
    from surveys.views import bp as surveys_bp

    from . import audit as _audit  # noqa: F401
    from .auth.views import bp as auth_bp
    from .people.views import bp as people_bp
    from .rounds.views import bp as rounds_bp
    from .web import register_template_helpers

    for bp in (auth_bp, people_bp, rounds_bp, surveys_bp, pooling_bp):
        app.register_blueprint(bp)
    from .auditlog.views import bp as auditlog_bp

    app.register_blueprint(auditlog_bp)
    register_template_helpers(app)
    from pooling.cli import register as register_commands

    register_commands(app)
    from .cli import community_group

    app.cli.add_command(community_group)
    from surveys.cli import round_group

    app.cli.add_command(round_group)
    from .audit_cli import audit_group

    app.cli.add_command(audit_group)

    from .security import init_security

    init_security(app)

    @app.errorhandler(403)
    def forbidden(_e):
        return render_template("errors/403.html"), 403

    @app.errorhandler(404)
    def not_found(_e):
        return render_template("errors/404.html"), 404

    @app.errorhandler(DBAPIError)
    def database_lost(error):
        """The database connection dropped mid-request: its transaction never committed, so
        nothing was kept and sending the request again is safe. Other database errors are
        bugs and stay errors."""
        if not error.connection_invalidated:
            raise error
        db.session.rollback()
        return render_template("errors/503.html"), 503, {"Retry-After": "1"}

    @app.after_request
    def keep_few_flashes(response):
        """Messages wait in the session cookie until a page shows them. A client that posts
        again and again without reading the pages it is sent to (a script, a form sent
        twice) would grow the cookie past what browsers keep (4 kB) and be signed out:
        only the newest few wait."""
        waiting = session.get("_flashes")
        if waiting and len(waiting) > MAX_FLASHES:
            session["_flashes"] = waiting[-MAX_FLASHES:]
        return response

    @app.after_request
    def commit_once(response):
        """The request is the unit of work: commit once if it went well, else roll back."""
        if request.method != "GET" and response.status_code < 400 and not g.get("rolled_back"):
            db.session.commit()
        else:
            db.session.rollback()
        return response

    return app


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    """WAL and a busy timeout let the dev server and a CLI command share the SQLite file.

    The driver's own transaction handling is switched off so SAVEPOINTs work (SQLAlchemy's
    documented recipe for pysqlite); BEGIN is emitted by the listener below.
    """
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(connection):
    """A write request takes SQLite's write lock up front (BEGIN IMMEDIATE).

    Otherwise two requests that both read, then write, fail with "database is locked"
    instead of waiting their turn; reads (GET) and CLI commands keep plain BEGIN. Background
    jobs ask for it around their one writing transaction (`g.sqlite_write_lock`).
    """
    if connection.dialect.name == "sqlite":
        writing = has_request_context() and request.method not in ("GET", "HEAD", "OPTIONS")
        writing = writing or (has_app_context() and g.get("sqlite_write_lock", False))
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")
