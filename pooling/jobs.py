"""Background jobs: generating a round's documents, or a new version of one, off the request.

A job is a row (`Job`): the request that starts it commits the row, and only then is the
work handed to a worker: a thread in this process by default, or an RQ queue on Redis
when REDIS_URL is set (run `rq worker` beside the app). Progress is written to the row
as each document is rendered, so any app process shows it. A job is all-or-nothing:
documents are rendered in memory and written in one transaction at the end, so a worker
killed half-way leaves no document behind; its row stops showing signs of life, and
after JOB_STALE_SECONDS the next start marks it failed and runs the work again.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from flask import Flask, current_app, g, has_app_context
from sqlalchemy import event, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from commonpot.errors import DomainError, IllegalTransition
from commonpot.extensions import db
from commonpot.models import FundingRound, User, utcnow

from .allocation import chosen_run
from .document_context import document_context
from .issuing import (
    check_correction,
    check_generation,
    render_round,
    render_slot,
    write_documents,
    write_new_version,
)
from .models import Document, Job, JobKind, JobStatus

__all__ = [
    "is_stale",
    "join_threads",
    "latest_job",
    "perform",
    "run_job",
    "start_generation",
    "start_new_version",
]

log = logging.getLogger(__name__)
_PENDING = "commonpot_pending_jobs"
STALE_SECONDS = 120


class Abandoned(Exception):
    """The job's row says it is no longer running here (declared stale and retried)."""


# -- starting ----------------------------------------------------------------------------


def latest_job(funding_round: FundingRound) -> Job | None:
    return db.session.scalar(
        select(Job).filter_by(round_id=funding_round.id).order_by(Job.id.desc()).limit(1)
    )


def _stale_after() -> timedelta:
    return timedelta(seconds=current_app.config.get("JOB_STALE_SECONDS", STALE_SECONDS))


def is_stale(job: Job) -> bool:
    """A queued or running job with no sign of life for JOB_STALE_SECONDS: its worker died."""
    return job.active and utcnow() - (job.heartbeat_at or job.created_at) >= _stale_after()


def _make_room(funding_round: FundingRound) -> None:
    """Refuse while a live job works on the round; fail a job whose worker went silent."""
    active = db.session.scalar(
        select(Job)
        .where(Job.round_id == funding_round.id, Job.status.in_(("queued", "running")))
        .with_for_update()
    )
    if active is None:
        return
    last_sign = active.heartbeat_at or active.created_at
    if not is_stale(active):
        raise IllegalTransition(
            f"Documents are already being made ({active.done} of {active.total or '?'})."
        )
    active.status = JobStatus.FAILED
    active.finished_at = utcnow()
    active.error = (
        "The worker stopped before finishing (last sign of life "
        f"{last_sign:%Y-%m-%d %H:%M:%S} UTC); nothing it made was kept."
    )
    db.session.flush()


def _queue(funding_round: FundingRound, job: Job) -> Job:
    _make_room(funding_round)
    try:
        with db.session.begin_nested():
            db.session.add(job)
    except IntegrityError:  # another request started one a moment ago
        raise IllegalTransition("Documents are already being made.") from None
    db.session.info.setdefault(_PENDING, []).append(job.id)
    return job


def start_generation(funding_round: FundingRound, *, actor: User | None) -> Job:
    """Queue the generation of the round's documents; refused now if it could not succeed."""
    check_generation(funding_round)
    return _queue(funding_round, Job(kind=JobKind.GENERATE, round_id=funding_round.id, actor=actor))


def start_new_version(document: Document, reason: str, *, actor: User | None) -> Job:
    """Queue a correction of one document: its next version, with the reason given."""
    reason = check_correction(document, reason)
    job = Job(
        kind=JobKind.NEW_VERSION,
        round_id=document.round_id,
        document_id=document.id,
        reason=reason,
        actor=actor,
        total=1,
    )
    return _queue(document.round, job)


@event.listens_for(Session, "after_commit")
def _dispatch_pending(session: Session) -> None:
    """Hand committed jobs to a worker: only now can another process see their rows."""
    pending = session.info.pop(_PENDING, [])
    if pending and has_app_context():
        app = current_app._get_current_object()
        for job_id in pending:
            dispatch(app, job_id)


@event.listens_for(Session, "after_rollback")
def _forget_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


def dispatch(app: Flask, job_id: int) -> None:
    url = app.config.get("REDIS_URL")
    if url:
        from redis import Redis
        from rq import Queue

        queue = Queue(app.config.get("RQ_QUEUE", "commonpot"), connection=Redis.from_url(url))
        queue.enqueue(perform, job_id, job_timeout=3600, description=f"commonpot job {job_id}")
        return
    thread = threading.Thread(
        target=_in_thread, args=(app, job_id), name=f"commonpot-job-{job_id}", daemon=True
    )
    app.extensions.setdefault("job_threads", {})[job_id] = thread
    thread.start()


def _in_thread(app: Flask, job_id: int) -> None:
    with app.app_context():
        try:
            run_job(job_id)
        finally:
            db.session.remove()


def join_threads(app: Flask, timeout: float = 300) -> None:
    """Wait for this process's job threads (tests; a CLI command that must not exit early)."""
    threads = app.extensions.get("job_threads", {})
    for job_id in list(threads):
        threads.pop(job_id).join(timeout)


def perform(job_id: int) -> None:
    """RQ's entry point: an app from the environment (DATABASE_URL, SECRET_KEY), then the job."""
    from commonpot import create_app

    app = create_app()
    with app.app_context():
        try:
            run_job(job_id)
        finally:
            db.session.remove()


# -- running -----------------------------------------------------------------------------


def _beat(job_id: int, done: int, total: int) -> None:
    """Progress, committed at once so every process sees it; also the job's sign of life."""
    moved = db.session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.RUNNING)
        .values(done=done, total=total, heartbeat_at=utcnow())
    ).rowcount
    db.session.commit()
    if not moved:
        raise Abandoned(job_id)


def _finish(job_id: int, write) -> None:
    """The job's one writing transaction: its documents and its done state, or neither."""
    db.session.commit()
    g.sqlite_write_lock = True  # BEGIN IMMEDIATE on SQLite: read, then write, no surprise
    try:
        job = db.session.scalar(
            select(Job)
            .where(Job.id == job_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if job is None or job.status != JobStatus.RUNNING:
            raise Abandoned(job_id)
        write(job)
        job.status, job.done, job.finished_at = JobStatus.DONE, job.total, utcnow()
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    finally:
        g.sqlite_write_lock = False


def _fail(job_id: int, message: str) -> None:
    db.session.rollback()
    db.session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.RUNNING)
        .values(status=JobStatus.FAILED, error=message[:2000], finished_at=utcnow())
    )
    db.session.commit()


def run_job(job_id: int) -> JobStatus | None:
    """Run a queued job to its end; a job already claimed or finished is left alone."""
    claimed = db.session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.QUEUED)
        .values(status=JobStatus.RUNNING, started_at=utcnow(), heartbeat_at=utcnow())
    ).rowcount
    db.session.commit()
    job = db.session.get(Job, job_id)
    if not claimed or job is None:
        return job.status if job else None
    try:
        if job.kind == JobKind.GENERATE:
            _generate(job)
        else:
            _correct(job)
    except Abandoned:
        db.session.rollback()
        log.warning("job %s was taken over while it ran; its work was dropped", job_id)
    except DomainError as error:
        _fail(job_id, str(error))
    except Exception as error:
        log.exception("job %s failed", job_id)
        _fail(job_id, f"Unexpected error: {type(error).__name__}: {error}")
    db.session.expire_all()
    finished = db.session.get(Job, job_id)
    return finished.status if finished else None


def _generate(job: Job) -> None:
    job_id, funding_round, actor_id = job.id, job.round, job.actor_id
    run = check_generation(funding_round)
    rendered = render_round(run, progress=lambda done, total: _beat(job_id, done, total))

    def write(_job: Job) -> None:
        actor = db.session.get(User, actor_id) if actor_id else None
        write_documents(funding_round, run, rendered, actor)

    _finish(job_id, write)


def _correct(job: Job) -> None:
    job_id, reason, actor_id = job.id, job.reason, job.actor_id
    document = db.session.get(Document, job.document_id) if job.document_id else None
    if document is None:
        raise IllegalTransition("The document to correct no longer exists.")
    check_correction(document, reason)
    run = chosen_run(document.round)
    if run is None or run.id != document.run_id:
        raise IllegalTransition("The allocation changed; generate the documents again.")
    context = document_context(run)
    _beat(job_id, 0, 1)
    rendered = render_slot(context, document.kind, document.project_id)
    _beat(job_id, 1, 1)

    def write(_job: Job) -> None:
        actor = db.session.get(User, actor_id) if actor_id else None
        write_new_version(document, rendered, reason, actor)

    _finish(job_id, write)
