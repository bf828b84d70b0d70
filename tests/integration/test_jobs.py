"""Document generation as a background job: a worker killed half-way leaves nothing behind
and a retry succeeds; an RQ worker on the real Redis runs the job; the page shows progress
from the database, with or without JavaScript."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from commonpot.extensions import db
from commonpot.models import RoundStatus
from commonpot.rounds.services import transition
from pooling.allocation import run_allocation
from pooling.jobs import join_threads, latest_job, run_job, start_generation
from pooling.models import Document, Job, JobKind, JobStatus
from pooling.pledges import confirm_pledge, make_pledge
from surveys.services import submit_response
from tests import factories
from tests.conftest import IN_CI

BIN = Path(sys.executable).parent
PROJECTS = [(f"Project {n}", n % 3, 100_000 + 10_000 * n) for n in range(6)]
SECRET = "test-secret-key-not-for-production"  # the test app's, so keys stay readable


def allocated_round():
    """Six projects, all funded from one pot pledge: seven documents to render."""
    community, people = factories.community()
    organizer = people["organizer"][0]
    r = factories.open_round(community, organizer, projects=PROJECTS)
    ranks = {a.id: i for i, a in enumerate(r.priority_areas, 1)}
    resident = people["residents"][0]
    submit_response(r, resident, rankings=ranks, votes={p.id for p in r.projects})
    total = sum(cost for _, _, cost in PROJECTS)
    confirm_pledge(make_pledge(r, resident, amount_cents=total), resident)
    transition(r, RoundStatus.CLOSED, actor=organizer)
    run_allocation(r, "greedy", actor=organizer)
    db.session.commit()
    return r, people


def child_env() -> dict[str, str]:
    """What a worker process on another machine would have: the database and the key."""
    url = db.engine.url.render_as_string(hide_password=False)
    return {**os.environ, "DATABASE_URL": url, "SECRET_KEY": SECRET}


def job_row(job_id: int) -> Job:
    db.session.commit()  # a fresh snapshot: what other processes committed
    job = db.session.get(Job, job_id, populate_existing=True)
    assert job is not None
    return job


def documents_count(round_id: int) -> int:
    db.session.commit()
    return db.session.scalar(select(func.count(Document.id)).filter_by(round_id=round_id))


def test_a_killed_worker_leaves_nothing_and_a_retry_succeeds(app, runner, make_client, monkeypatch):
    r, people = allocated_round()
    organizer = people["organizer"][0]
    job = Job(kind=JobKind.GENERATE, round_id=r.id, actor_id=organizer.id)
    db.session.add(job)
    db.session.commit()
    worker = subprocess.Popen(
        [str(BIN / "commonpot"), "jobs", "run", str(job.id)],
        env=child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and worker.poll() is None:
            seen = job_row(job.id)
            if seen.status == JobStatus.RUNNING and seen.done >= 2:
                break
            time.sleep(0.02)  # polling another process's progress
        alive = worker.poll() is None
        worker.send_signal(signal.SIGKILL)  # mid-way: some documents rendered, none stored
    finally:
        _, errors = worker.communicate(timeout=30)
    assert alive, errors.decode()[-2000:]
    assert worker.returncode == -signal.SIGKILL
    dead = job_row(job.id)
    assert dead.status == JobStatus.RUNNING and 2 <= dead.done < dead.total == 7
    assert documents_count(r.id) == 0  # all-or-nothing: nothing partial is visible

    # While the dead worker's row still looks alive, a new start is refused...
    from commonpot.errors import IllegalTransition

    with pytest.raises(IllegalTransition, match="already being made"):
        start_generation(r, actor=organizer)
    db.session.rollback()
    # ...once it has been silent past JOB_STALE_SECONDS, the page says so and offers the
    # button again; the retry takes over.
    monkeypatch.setitem(app.config, "JOB_STALE_SECONDS", 0)
    page_client = make_client()
    page_client.login("organizer@eastside.test")
    documents_page = f"/c/eastside/rounds/{r.id}/documents"
    page = page_client.get(documents_page).get_data(as_text=True)
    assert "stopped giving signs of life" in page and "Generate documents" in page
    assert page_client.post(f"{documents_page}/generate").status_code == 302
    join_threads(app)  # the request's commit handed the new job to a worker thread
    retry = latest_job(r)
    assert retry is not None and retry.id != job.id
    assert job_row(retry.id).status == JobStatus.DONE
    assert job_row(job.id).status == JobStatus.FAILED
    assert "worker stopped before finishing" in job_row(job.id).error
    assert documents_count(r.id) == 7
    ids = set(db.session.scalars(select(Document.id).filter_by(round_id=r.id)))
    # Running either job again changes nothing: each runs once.
    assert run_job(job.id) == JobStatus.FAILED and run_job(retry.id) == JobStatus.DONE
    assert set(db.session.scalars(select(Document.id).filter_by(round_id=r.id))) == ids

    ledger = runner.invoke(args=["ledger", "verify", "--json"])
    assert ledger.exit_code == 0 and json.loads(ledger.output)["ok"], ledger.output
    audit = runner.invoke(args=["audit", "verify", "--json"])
    assert audit.exit_code == 0 and json.loads(audit.output)["ok"], audit.output


def _redis():
    from redis import Redis
    from redis.exceptions import ConnectionError as RedisDown

    url = os.environ.get("COMMONPOT_TEST_REDIS", "redis://127.0.0.1:6379/0")
    connection = Redis.from_url(url, socket_connect_timeout=2)
    try:
        connection.ping()
    except RedisDown as error:
        if IN_CI:
            pytest.fail(f"CI=true but Redis at {url} is unreachable: {error}")
        pytest.skip(f"Redis unreachable: {error}")
    return url, connection


def test_an_rq_worker_runs_the_job_and_the_page_follows_it(app, make_client, monkeypatch):
    url, connection = _redis()
    queue_name = f"commonpot-test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setitem(app.config, "REDIS_URL", url)
    monkeypatch.setitem(app.config, "RQ_QUEUE", queue_name)
    r, _people = allocated_round()
    base = f"/c/eastside/rounds/{r.id}"
    organizer = make_client()
    organizer.login("organizer@eastside.test")
    from rq import Queue

    queue = Queue(queue_name, connection=connection)
    try:
        assert organizer.post(f"{base}/documents/generate").status_code == 302
        job = db.session.scalar(select(Job).filter_by(round_id=r.id))
        assert job is not None and job.status == JobStatus.QUEUED and queue.count == 1
        assert not app.extensions.get("job_threads")  # handed to Redis, not to a thread

        # The page shows the job from its row: a bar, a script, and a no-script refresh.
        page = organizer.get(f"{base}/documents").get_data(as_text=True)
        assert "<progress" in page and "Waiting for a worker" in page
        assert 'src="/static/jobs.js"' in page
        assert '<noscript><meta http-equiv="refresh" content="3"></noscript>' in page
        assert "<script>" not in page  # no inline script: the CSP forbids it
        status = organizer.get(f"{base}/jobs/{job.id}").get_json()
        assert status["status"] == "queued" and status["done"] == 0

        # A real RQ worker process (as `rq worker` runs beside the app) does the work;
        # its class only polls for commands every second, so it exits when done.
        quick = "tests.integration.rq_quick_exit.QuickExitWorker"
        worker = subprocess.run(
            [
                str(BIN / "rq"),
                "worker",
                "--burst",
                "--worker-class",
                quick,
                "--url",
                url,
                queue_name,
            ],
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert worker.returncode == 0, worker.stderr[-3000:]
        assert job_row(job.id).status == JobStatus.DONE, job_row(job.id).error
        assert documents_count(r.id) == 7
        status = organizer.get(f"{base}/jobs/{job.id}").get_json()
        assert status == {
            "id": job.id,
            "kind": "generate",
            "status": "done",
            "done": 7,
            "total": 7,
            "percent": 100,
            "error": None,
        }
        page = organizer.get(f"{base}/documents").get_data(as_text=True)
        assert "<progress" not in page and "http-equiv" not in page
        assert page.count("version 1") == 7
    finally:
        queue.delete(delete_jobs=True)
