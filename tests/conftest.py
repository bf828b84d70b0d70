"""Shared fixtures: an app per database backend, a CSRF-aware client, and login helpers.

Integration tests run against SQLite and PostgreSQL. PostgreSQL comes from
COMMONPOT_TEST_POSTGRES (a URL to any database on the server; a fresh database is created
beside it). Without it, or when it cannot be reached, PostgreSQL tests skip, except under
CI=true, where they fail: CI must prove both backends.
"""

from __future__ import annotations

import contextvars
import os
import re
import uuid

import pytest
from flask import has_app_context
from sqlalchemy import text
from sqlalchemy.engine import make_url

from commonpot import create_app
from commonpot.extensions import db

PG_URL = os.environ.get("COMMONPOT_TEST_POSTGRES", "")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _postgres_database():
    """Create a throwaway database on the server; yield its URL; drop it afterwards."""
    import psycopg

    if not PG_URL:
        if IN_CI:
            pytest.fail("CI=true but COMMONPOT_TEST_POSTGRES is not set")
        pytest.skip("PostgreSQL not configured (set COMMONPOT_TEST_POSTGRES)")
    base = make_url(PG_URL).set(drivername="postgresql")
    name = f"commonpot_test_{uuid.uuid4().hex[:10]}"
    admin = base.render_as_string(hide_password=False)
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as error:
        if IN_CI:
            pytest.fail(f"PostgreSQL at {PG_URL} is unreachable under CI: {error}")
        pytest.skip(f"PostgreSQL unreachable: {error}")
    yield base.set(drivername="postgresql+psycopg", database=name).render_as_string(
        hide_password=False
    )
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_url():
    yield from _postgres_database()


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """gunicorn with two workers on a PostgreSQL database migrated by Alembic, shared by the
    browser and the live hardening tests; each seeds its own community (tests.gunicorn_site)."""
    from tests import gunicorn_site

    for url in _postgres_database():
        running = gunicorn_site.start(url, tmp_path_factory.mktemp("gunicorn"))
        try:
            yield running
        finally:
            gunicorn_site.stop(running)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request, tmp_path_factory):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(scope="session")
def _app(database_url, tmp_path_factory):
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "test-secret-key-not-for-production",
            "MAIL_SERVER": "",
            "SERVER_NAME": "commonpot.test",
            # Tests read the chain right after a request: seal inline (the background
            # sealer has tests of its own).
            "AUDIT_SEAL_DELAY": 0,
        }
    )
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.drop_all()
        db.engine.dispose()


LEDGER = ("ledger_line", "ledger_entry")


@pytest.fixture
def app(_app):
    """The session's app with empty tables for every test."""
    _app.extensions["outbox"] = []
    with _app.app_context():
        yield _app
        db.session.remove()
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(
                    text(
                        "TRUNCATE "
                        + ", ".join(f'"{t}"' for t in tables)
                        + " RESTART IDENTITY CASCADE"
                    )
                )
            else:
                # The ledger refuses DELETE (append-only triggers): drop and re-create it.
                books = [t for t in reversed(db.metadata.sorted_tables) if t.name in LEDGER]
                for table in books:
                    table.drop(conn)
                for table in tables:
                    if table not in LEDGER:
                        conn.execute(text(f'DELETE FROM "{table}"'))
                for table in reversed(books):
                    table.create(conn)


class Client:
    """The Flask test client plus the CSRF token a real browser would carry.

    Each request runs in an empty contextvars context, so it gets its own app context,
    database session and `g` — as in production — rather than sharing the test's.
    """

    def __init__(self, app):
        self.app = app
        self.http = app.test_client()

    def _call(self, method, *args, **kw):
        if has_app_context():
            db.session.commit()  # the request sees what the test made; no lock is held
        response = contextvars.Context().run(method, *args, **kw)
        if has_app_context():
            db.session.commit()  # end the test's snapshot: it sees what the request committed
        return response

    def csrf(self) -> str:
        page = self.get("/password/reset").get_data(as_text=True)
        return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)

    def get(self, url, **kw):
        return self._call(self.http.get, url, **kw)

    def post(self, url, data=None, *, csrf=True, **kw):
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self.csrf())
        return self._call(self.http.post, url, data=data, **kw)

    def login(self, email, password="correct horse battery"):
        response = self.post("/login", {"email": email, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]
        return response

    def logout(self):
        return self.post("/logout")


@pytest.fixture
def client(app):
    return Client(app)


@pytest.fixture
def make_client(app):
    return lambda: Client(app)


@pytest.fixture
def runner(app):
    return app.test_cli_runner()
