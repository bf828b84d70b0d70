"""Hardening a skeptical reviewer can re-run: headers, cookies, sign-in limits, upload size."""

from __future__ import annotations

import contextvars

from commonpot import create_app
from commonpot.extensions import db
from commonpot.security import HEADERS
from tests import factories


def _dispose(other_app) -> None:
    """A second app (another worker, another configuration) closes its connections."""
    with other_app.app_context():
        db.engine.dispose()


def test_every_page_carries_the_security_headers(app, client):
    for url in ("/", "/login", "/nowhere"):
        response = client.get(url)
        for name, value in HEADERS.items():
            assert response.headers[name] == value, (url, name)
    csp = HEADERS["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]


def test_session_cookie_is_httponly_samesite_and_secure_over_https(app, client):
    factories.community()
    response = client.post(
        "/login", {"email": "organizer@eastside.test", "password": factories.PASSWORD}
    )
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    production = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "SECRET_KEY": "x",
            "PUBLIC_URL": "https://pot.example.org",
        }
    )
    assert production.config["SESSION_COOKIE_SECURE"] is True
    headers = contextvars.Context().run(production.test_client().get, "/login").headers
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    _dispose(production)


def test_sign_in_is_locked_after_five_failures_even_with_the_right_password(app, client):
    factories.community()
    email = "r1@eastside.test"
    for _ in range(5):
        failed = client.post("/login", {"email": email, "password": "wrong password!"})
        assert failed.status_code == 422
    locked = client.post("/login", {"email": email, "password": factories.PASSWORD})
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.get_data(as_text=True)
    # Another worker process sees the same count: it lives in the database.
    other_worker = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "SECRET_KEY": "test-secret-key-not-for-production",
            "WTF_CSRF_ENABLED": False,
        }
    )
    response = contextvars.Context().run(
        other_worker.test_client().post,
        "/login",
        data={"email": email, "password": factories.PASSWORD},
    )
    assert response.status_code == 429
    _dispose(other_worker)
    # Other accounts are not affected, and a good sign-in clears that account's failures.
    other = client.post("/login", {"email": "r2@eastside.test", "password": "nope nope"})
    assert other.status_code == 422
    client.login("r2@eastside.test")


def test_an_upload_over_the_limit_gets_a_clear_page_not_a_500(app, client):
    boundary = "commonpot"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="pdf"; filename="huge.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n%PDF-1.7\n"
    ).encode()
    body = head + b"0" * (17 * 1024 * 1024) + f"\r\n--{boundary}--\r\n".encode()
    response = client._call(
        client.http.post,
        "/verify",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert response.status_code == 413
    assert "too large" in response.get_data(as_text=True)
