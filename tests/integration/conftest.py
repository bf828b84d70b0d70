"""The shared world of the route walks (access control, CSRF, fuzzing): two communities,
an open round with a resident's pledge and notice, an allocated round with documents."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from commonpot.extensions import db
from commonpot.models import RoundStatus
from commonpot.rounds.services import transition
from pooling.allocation import run_allocation
from pooling.issuing import generate_documents
from pooling.models import Document, Notice
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
    allocated = factories.open_round(a, organizer)
    ranks = {x.id: i for i, x in enumerate(allocated.priority_areas, 1)}
    submit_response(allocated, resident, rankings=ranks, votes={allocated.projects[0].id})
    transition(allocated, RoundStatus.CLOSED, actor=organizer)
    run_allocation(allocated, "greedy", actor=organizer)
    generate_documents(allocated, actor=organizer)
    db.session.commit()
    document = db.session.scalars(select(Document).filter_by(round_id=allocated.id)).first()
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
            "filename": document.filename,
            "token": "not-a-token",
            "action": "close",
            "role": "board",
        },
    }
