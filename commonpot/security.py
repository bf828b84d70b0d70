"""HTTP hardening: security headers on every response, secure cookies over HTTPS, and a
friendly page for uploads over the size limit.

Scripts may only come from our own origin (no inline script anywhere). Inline *style*
attributes are allowed because progress bars and charts set widths with them; injected
styles cannot run code.
"""

from __future__ import annotations

from flask import Flask, abort, render_template, request
from flask_babel import gettext
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}
MAX_UPLOAD_BYTES = 16 * 1024 * 1024  # the largest real Pabulib file we know is ~3 MB


class DatabaseId(IntegerConverter):
    """`<int:...>` in every route: ids are 32-bit database integers, so a larger number is
    no page (404) rather than a query PostgreSQL refuses ("integer out of range")."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def bound_ids(app: Flask) -> None:
    """Before any route is added: routes compile their converters when registered."""
    app.url_map.converters["int"] = DatabaseId


def init_security(app: Flask) -> None:
    if app.config.get("MAX_CONTENT_LENGTH") is None:  # Flask's default is None: no limit
        app.config["MAX_CONTENT_LENGTH"] = MAX_UPLOAD_BYTES
    if proxies := int(app.config.get("TRUSTED_PROXIES") or 0):
        # Behind a reverse proxy the client's address (used by the login limit) and the
        # scheme come from X-Forwarded-* headers, trusted only from that many hops.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    if app.config.get("PUBLIC_URL", "").startswith("https://"):
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True
    app.config.setdefault("REMEMBER_COOKIE_HTTPONLY", True)
    app.config.setdefault("REMEMBER_COOKIE_SAMESITE", "Lax")

    def refuse_large_bodies():
        """Before CSRF checking reads the form: a too-large upload is a 413, not a 400."""
        limit = app.config.get("MAX_CONTENT_LENGTH")
        if limit and request.content_length is not None and request.content_length > limit:
            abort(413)

    def refuse_nul_characters():
        """PostgreSQL cannot store a NUL character in text, and no browser form sends one:
        a request carrying one in a field, a query or a file's name is refused whole."""
        names = [f.filename or "" for f in request.files.values()] if request.files else []
        values = [*request.args.values(), *names]
        if request.method != "GET" and request.form:
            values += [v for _, vs in request.form.lists() for v in vs]
        if any("\x00" in value for value in values):
            message = gettext("It held a NUL character, which text cannot contain.")
            return render_template("errors/400.html", message=message), 400
        return None

    before = app.before_request_funcs.setdefault(None, [])
    before.insert(0, refuse_large_bodies)
    before.insert(1, refuse_nul_characters)

    @app.after_request
    def security_headers(response):
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if app.config.get("SESSION_COOKIE_SECURE"):
            response.headers.setdefault(
                "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
            )
        return response

    @app.errorhandler(413)
    def too_large(_error):
        megabytes = app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
        return render_template("errors/413.html", megabytes=megabytes), 413
