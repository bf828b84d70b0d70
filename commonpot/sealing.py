"""Sealing the audit chain a moment after the commit, for many commits at once.

Sealing right after every commit costs a request a second connection checkout, a
pipeline of five statements and a second transaction with its own WAL flush — on a
ballot that was a third of its work. A web request on PostgreSQL therefore only wakes
this process's sealer thread, which waits `AUDIT_SEAL_DELAY` seconds for the commits
that follow, then seals everything waiting (`audit.seal`, which also takes the other
workers' events) in one pass. Events stay committed with their change either way; only
their place in the chain comes those few milliseconds later, as it already could (see
`commonpot.audit`). An event whose process ended before its sealer ran waits for the
next seal, which `commonpot audit verify` and the audit page do first.

CLI commands, jobs and SQLite seal inline: they end soon after their one commit, and on
SQLite the request's own write lock makes the inline seal cheap.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable

from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)


class Sealer:
    """One thread per process (started on first use, again after a fork) that seals the
    engines it was woken for; `seal` is audit.seal, passed in to keep the import one-way."""

    def __init__(self, seal: Callable[[Engine], int]) -> None:
        self._seal = seal
        self._lock = threading.Lock()
        self._woken = threading.Condition(self._lock)
        self._waiting: dict[Engine, float] = {}  # engine -> its delay
        self._thread: threading.Thread | None = None
        self._pid = 0

    def soon(self, engine: Engine, delay: float) -> None:
        with self._lock:
            self._waiting[engine] = delay
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="audit-sealer", daemon=True)
                self._thread.start()
            self._woken.notify()

    def flush(self) -> None:
        """Seal what is waiting now, in the calling thread (at exit; in tests)."""
        with self._lock:
            engines, self._waiting = list(self._waiting), {}
        for engine in engines:
            self._seal_quietly(engine)

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._waiting:
                    self._woken.wait()
                delay = max(self._waiting.values())
            # Gather the commits of the next few milliseconds into this pass; a commit
            # made while the pass runs wakes the next one.
            time.sleep(delay)
            with self._lock:
                engines, self._waiting = list(self._waiting), {}
            for engine in engines:
                self._seal_quietly(engine)

    def _seal_quietly(self, engine: Engine) -> None:
        try:
            self._seal(engine)
        except Exception:  # the events are committed: the next seal chains them
            log.exception("audit: sealing in the background failed; the next seal chains them")


_sealer: Sealer | None = None


def sealer(seal: Callable[[Engine], int]) -> Sealer:
    global _sealer
    if _sealer is None:
        _sealer = Sealer(seal)
        atexit.register(_sealer.flush)
    return _sealer
