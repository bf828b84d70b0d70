"""attempt() runs a service again when PostgreSQL ends its transaction to break a deadlock."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy.exc import OperationalError

from commonpot import web


class _Deadlock(Exception):
    sqlstate = "40P01"


class _Other(Exception):
    sqlstate = "23505"


class _Form:
    def __init__(self):
        self.form_errors = []


class _Session:
    rollbacks = 0

    def rollback(self):
        self.rollbacks += 1


@pytest.fixture
def session(monkeypatch):
    fake = _Session()
    monkeypatch.setattr(web.db, "session", fake, raising=False)
    with Flask(__name__).test_request_context():
        yield fake


def _flaky(failures: int, orig: Exception):
    calls = []

    def service():
        calls.append(1)
        if len(calls) <= failures:
            raise OperationalError("UPDATE pledge ...", {}, orig)
        return "done"

    return service, calls


def test_a_deadlocked_service_is_rolled_back_and_run_again(session):
    service, calls = _flaky(2, _Deadlock())
    assert web.attempt(_Form(), service) == "done"
    assert len(calls) == 3 and session.rollbacks == 2


def test_a_service_that_keeps_deadlocking_gives_up_after_three_turns(session):
    service, calls = _flaky(5, _Deadlock())
    with pytest.raises(OperationalError):
        web.attempt(_Form(), service)
    assert len(calls) == 3


def test_other_database_errors_are_not_retried(session):
    service, calls = _flaky(1, _Other())
    with pytest.raises(OperationalError):
        web.attempt(_Form(), service)
    assert len(calls) == 1 and session.rollbacks == 0
