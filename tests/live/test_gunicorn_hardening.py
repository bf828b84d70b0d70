"""Hardening checked on the real server: gunicorn, two worker processes, PostgreSQL.

Headers and cookies as a browser receives them; the sign-in limit holding when the failed
attempts reach different worker processes (their pids are in gunicorn's access log); an
upload over the limit refused by the app behind gunicorn.
"""

from __future__ import annotations

import http.cookiejar
import re
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request

import pytest

from commonpot.extensions import db
from commonpot.security import HEADERS
from tests import factories


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Visitor:
    """One client with its own cookies and its own TCP connections (no keep-alive)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), NoRedirect
        )

    def request(self, path: str, data: bytes | None = None, headers: dict | None = None):
        request = urllib.request.Request(self.base + path, data=data, headers=headers or {})
        try:
            response = self.opener.open(request, timeout=30)
        except urllib.error.HTTPError as error:
            response = error
        with response:
            return response.status, response.headers, response.read().decode("utf-8", "replace")

    def token(self) -> str:
        _, _, page = self.request("/login")
        return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)

    def sign_in(self, email: str, password: str) -> tuple[int, object, str]:
        form = {"csrf_token": self.token(), "email": email, "password": password}
        return self.request("/login", urllib.parse.urlencode(form).encode())


@pytest.fixture(scope="module")
def westside(site):
    with site.app.app_context():
        factories.community("westside", residents=2)
        db.session.commit()


def test_headers_and_session_cookie_as_served(site, westside):
    visitor = Visitor(site.url)
    for path in ("/", "/login", "/verify", "/nowhere"):
        status, headers, _ = visitor.request(path)
        assert status == (404 if path == "/nowhere" else 200)
        for name, value in HEADERS.items():
            assert headers[name] == value, (path, name)
    status, headers, _ = visitor.sign_in("organizer@westside.test", factories.PASSWORD)
    assert status == 302
    cookie = next(c for c in headers.get_all("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http on loopback; https PUBLIC_URL: test_security


def test_sign_in_limit_holds_across_worker_processes(site, westside):
    email = "r1@westside.test"
    before = len(site.log_lines())
    results: list[int] = []

    def wrong(n: int) -> None:
        results.append(Visitor(site.url).sign_in(email, f"wrong password {n}")[0])

    # Five at once keep both workers busy (each checks a password hash), so they are
    # spread over both processes.
    threads = [threading.Thread(target=wrong, args=(n,)) for n in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [422] * 5
    refused = []
    for _ in range(4):  # each on a new connection, whichever worker takes it
        status, _, page = Visitor(site.url).sign_in(email, factories.PASSWORD)
        refused.append(status)
        assert "Too many failed sign-ins" in page
    assert refused == [429] * 4
    lines = site.log_lines()[before:]
    pids = {line.split()[0] for line in lines if '"POST /login' in line}
    assert len(pids) == 2, lines
    # Another account is not affected.
    assert Visitor(site.url).sign_in("r2@westside.test", factories.PASSWORD)[0] == 302


def test_an_upload_over_the_limit_is_refused_behind_gunicorn(site):
    """The app answers 413 from the headers alone, before reading (or receiving) the body."""
    host, port = urllib.parse.urlsplit(site.url).netloc.split(":")
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(
            (
                "POST /verify HTTP/1.1\r\n"
                f"Host: {host}:{port}\r\n"
                "Content-Type: multipart/form-data; boundary=commonpot\r\n"
                f"Content-Length: {17 * 1024 * 1024}\r\n\r\n"
            ).encode()
        )
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, page = answer.decode("utf-8", "replace").partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 413") and "too large" in page
