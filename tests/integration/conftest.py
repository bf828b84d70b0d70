"""The shared world of the route walks (access control, CSRF, fuzzing): two communities,
an open round with a resident's pledge, notice and allocation constraints, an allocated
round with documents (its funded project led by the resident) and a finished job."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from commonpot.extensions import db
from commonpot.models import RoundStatus
from commonpot.rounds.services import transition
from pooling.allocation import run_allocation
from pooling.constraints import add_dependency, add_incompatible
from pooling.issuing import generate_documents
from pooling.models import Document, Job, JobKind, JobStatus, Notice
from pooling.notices import notify
from pooling.pledges import confirm_pledge, make_pledge
from surveys.services import submit_response
from tests import factories


@pytest.fixture
def world(app):
    """Community A with an open round (a pledge and a notice of `resident`) and an
    allocated round with documents; community B with its own resident."""
    a, people = factories.community("eastside")
    factories.community("westside")
    organizer = people["organizer"][0]
    resident, other = people["residents"][:2]
    open_round = factories.open_round(a, organizer)
    pledge = make_pledge(open_round, resident, amount_cents=2_500)
    confirm_pledge(pledge, resident)
    notify(resident, open_round, "test", "hello", pledge=pledge)
    first, second = open_round.projects[:2]
    dependency = add_dependency(open_round, second.id, first.id, actor=organizer)
    group = add_incompatible(open_round, [first.id, open_round.projects[2].id], actor=organizer)
    allocated = factories.open_round(a, organizer)
    ranks = {x.id: i for i, x in enumerate(allocated.priority_areas, 1)}
    submit_response(allocated, resident, rankings=ranks, votes={allocated.projects[0].id})
    confirm_pledge(make_pledge(allocated, other, amount_cents=300_000), other)
    allocated.projects[0].lead_id = resident.id  # funded: its term sheet is the lead's
    transition(allocated, RoundStatus.CLOSED, actor=organizer)
    run = run_allocation(allocated, "greedy", actor=organizer)
    generate_documents(allocated, actor=organizer)
    job = Job(kind=JobKind.GENERATE, round_id=allocated.id, status=JobStatus.DONE)
    db.session.add(job)
    db.session.commit()
    document = db.session.scalars(
        select(Document).filter_by(round_id=allocated.id).order_by(Document.id)
    ).first()
    notice = db.session.scalars(select(Notice)).first()
    return {
        "users": {
            "resident": resident.email,
            "other_resident": other.email,
            "outsider": "r1@westside.test",
            "organizer": organizer.email,
            "board": people["board"][0].email,
        },
        "open": open_round,
        "allocated": allocated,
        "values": {
            "slug": "eastside",
            "project_id": open_round.projects[0].id,
            "pledge_id": pledge.id,
            "notice_id": notice.id,
            "user_id": resident.id,
            "document_id": document.id,
            "job_id": job.id,
            "filename": document.filename,
            "token": "not-a-token",
            "action": "close",
            "role": "board",
            "dependency_id": dependency.id,
            "group_id": group.id,
            "run_id": run.id,
        },
    }
