"""The background sealer (commonpot/sealing.py): after a web request on PostgreSQL the
audit events are chained a few milliseconds later, many commits in one pass; elsewhere
(SQLite, the command line) right after the commit, as before."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

from commonpot import sealing
from commonpot.audit import AuditEvent, record, seal
from commonpot.audit_chain import check_chain
from commonpot.extensions import db
from tests import factories

DELAY = 0.05


@pytest.fixture
def background(app):
    app.config["AUDIT_SEAL_DELAY"] = DELAY
    yield app
    sealing.sealer(seal).flush()  # nothing of this test is left for the next one
    app.config["AUDIT_SEAL_DELAY"] = 0


def unsealed() -> int:
    db.session.commit()  # a fresh snapshot
    return db.session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.seq.is_(None))
    )


def wait_until_sealed(seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while unsealed() and time.monotonic() < deadline:
        time.sleep(0.01)


def sign_ins(app, emails: list[str]) -> None:
    """Organizers and board members signing in: each sign-in is an audit event."""
    from tests.conftest import Client

    for email in emails:
        Client(app).login(email)


def test_a_request_leaves_its_seal_to_the_sealer_on_postgresql(background, database_url):
    _, people = factories.community("eastside")
    db.session.commit()
    seal()
    before = check_chain().events
    sign_ins(background, [people["organizer"][0].email])
    if database_url.startswith("sqlite"):
        assert unsealed() == 0  # SQLite seals inline, delay or not
    else:
        wait_until_sealed()
    report = check_chain()
    assert report.ok and report.unsealed == 0 and report.events == before + 1
    last = db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).one()
    assert last.action == "login" and last.hash == last.digest()


def test_commits_close_together_are_sealed_in_one_pass(background, database_url):
    """Many requests from several threads at once: one pass chains the commits of its
    window, and every event is sealed, once, in one unbroken chain."""
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite seals inline")
    _, people = factories.community("eastside")
    db.session.commit()
    seal()
    before = check_chain().events
    passes: list[int] = []
    original = sealing.sealer(seal)._seal
    sealing.sealer(seal)._seal = lambda engine: passes.append(original(engine)) or passes[-1]
    try:
        emails = [*(u.email for u in people["board"]), people["organizer"][0].email]
        threads = [threading.Thread(target=sign_ins, args=(background, emails)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wait_until_sealed()
    finally:
        sealing.sealer(seal)._seal = original
    report = check_chain()
    signed = 4 * len(emails)
    assert report.ok, report.problems
    assert report.unsealed == 0 and report.events == before + signed
    assert sum(passes) == signed
    assert len([n for n in passes if n]) < signed  # some passes sealed several commits


def test_the_command_line_seals_inline(background):
    """Outside a request (CLI commands, jobs) the process may end soon after its commit:
    the seal comes right after it, whatever the delay."""
    community, _ = factories.community("eastside")
    record("note.added", "from the command line", community_id=community.id)
    db.session.commit()
    assert unsealed() == 0


def test_flush_seals_what_waits(background, database_url):
    """At a worker's exit (atexit) the sealer seals what it was woken for."""
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite seals inline")
    community, _ = factories.community("eastside")
    record("note.added", "waiting", community_id=community.id)
    db.session.info.pop("audit_unsealed")  # committed without the after-commit seal
    db.session.commit()
    assert unsealed() == 1
    slow = sealing.Sealer(seal)
    slow.soon(db.engine, delay=60)  # its thread would wait a minute
    slow.flush()
    assert unsealed() == 0 and check_chain().ok
