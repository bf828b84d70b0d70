"""The app as production runs it: gunicorn with two worker processes, on a loopback port,
against a fresh PostgreSQL database built by the Alembic migrations (`commonpot db upgrade`).

Tests seed it through the app's own services, from an app of their own bound to the same
database and SECRET_KEY (the community's signing keys are encrypted with it).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask

from commonpot import ROOT, create_app
from commonpot.extensions import db

SECRET_KEY = "gunicorn-test-secret-not-for-production"
BIN = Path(sys.executable).parent
WORKERS = 2


@dataclass
class Site:
    """A running gunicorn: its address, its worker log, and an app for seeding and reading."""

    url: str
    app: Flask
    process: subprocess.Popen
    access_log: Path
    error_log: Path
    env: dict = field(repr=False, default_factory=dict)

    def log_lines(self) -> list[str]:
        """gunicorn's access log so far: `<pid> "METHOD /path HTTP/1.1" status` a line."""
        return self.access_log.read_text().splitlines()

    def commonpot(self, *args: str) -> subprocess.CompletedProcess:
        """Run the `commonpot` command against the site's database."""
        return subprocess.run(
            [str(BIN / "commonpot"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def _environment(database_url: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "MAIL_"))}
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY=SECRET_KEY,
        PYTHONPATH=str(ROOT),
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def start(database_url: str, logs: Path) -> Site:
    env = _environment(database_url)
    migrated = subprocess.run(
        [str(BIN / "commonpot"), "db", "upgrade"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    access_log, error_log = logs / "access.log", logs / "error.log"
    process = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "--no-control-socket",  # one per machine by default: others' servers share it
            "--workers",
            str(WORKERS),
            "--bind",
            "127.0.0.1:0",
            "--access-logfile",
            str(access_log),
            # The worker's pid first: tests prove requests reached different processes.
            "--access-logformat",
            '%(p)s "%(r)s" %(s)s',
            "--error-logfile",
            str(error_log),
            "--graceful-timeout",
            "5",
            "wsgi:app",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = _wait_until_serving(process, error_log)
    env["PUBLIC_URL"] = url
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": SECRET_KEY})
    return Site(url, app, process, access_log, error_log, env)


def _wait_until_serving(process: subprocess.Popen, error_log: Path, timeout: float = 60) -> str:
    """gunicorn picks a free port and logs it; every worker answers before tests begin."""
    deadline = time.monotonic() + timeout
    url = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("gunicorn exited:\n" + error_log.read_text()[-3000:])
        log = error_log.read_text() if error_log.exists() else ""
        if url is None and (found := re.search(r"Listening at: (http://[\d.:]+)", log)):
            url = found.group(1)
        if url and log.count("Booting worker") >= WORKERS:
            try:
                with urllib.request.urlopen(f"{url}/login", timeout=5) as response:
                    if response.status == 200:
                        return url
            except OSError:
                pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("gunicorn did not start:\n" + error_log.read_text()[-3000:])


def stop(site: Site) -> None:
    site.process.terminate()
    try:
        site.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        site.process.kill()
        site.process.wait()
    with site.app.app_context():
        db.engine.dispose()
