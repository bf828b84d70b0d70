"""Every state change the audit log promises is an event: a round's whole life, through the
services, then the chain is read back and each promised action is named.

Ballot events say that a response was made or changed, never what it says.
"""

from __future__ import annotations

import json

from sqlalchemy import select

from commonpot.audit import AuditEvent
from commonpot.audit_chain import verify_chain
from commonpot.extensions import db
from commonpot.models import RoundStatus
from commonpot.rounds.services import edit_project, transition
from pooling import ledger
from pooling.allocation import run_allocation
from pooling.closing import close_books
from pooling.grants import add_grant
from pooling.issuing import generate_documents, sign_round
from pooling.ledger import Account
from pooling.models import Condition, PaymentMethod, TargetKind
from pooling.pledges import cancel_pledge, confirm_pledge, make_pledge, reconfirm_pledge
from pooling.treasury import collect_pledge, disburse_project, refund_pledge
from surveys.services import submit_response
from tests import factories

PROMISED = {
    # round transitions
    "round.created",
    "round.open",
    "round.closed",
    "round.allocated",
    "round.approved",
    "round.settled",
    # ballots, without their content
    "response.created",
    "response.updated",
    # pledge transitions
    "pledge.made",
    "pledge.changed",
    "pledge.confirmed",
    "pledge.cancelled",
    "pledge.reconfirmation_asked",
    "pledge.reconfirmed",
    "pledge.collected",
    "pledge.refund_requested",
    "pledge.refunded",
    "pledge.allocated",
    "pledge.released",
    "pledges.settled",
    "project.disbursed",
    # grants, allocation runs, documents, signatures
    "grant.added",
    "allocation.run",
    "documents.generated",
    "documents.signed",
    # projects
    "project.added",
    "project.edited",
    # sign-ins of the people who act for the community
    "login",
}


def _actions() -> list[AuditEvent]:
    return db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()


def test_every_promised_state_change_is_an_audit_event(app, client):
    community, people = factories.community()
    organizer, board = people["organizer"][0], people["board"]
    ana, ben, cy = people["residents"][:3]
    r = factories.open_round(community, organizer)
    garden, tutoring, safety = r.projects
    add_grant(
        r,
        name="Seed",
        funder="City",
        amount_cents=100_000,
        priority_area_id=None,
        cap_per_project_cents=None,
        actor=organizer,
    )
    ranks = {a.id: i for i, a in enumerate(r.priority_areas, 1)}
    submit_response(r, ana, rankings=ranks, votes={garden.id})
    submit_response(r, ana, rankings=ranks, votes={garden.id, tutoring.id})  # changed
    submit_response(r, ben, rankings=ranks, votes={garden.id})

    # pledges: made, changed, confirmed, cancelled; a collected one refunded on request
    first = make_pledge(r, ana, amount_cents=1_000)
    make_pledge(r, ana, amount_cents=2_000)  # the same pledge, a new amount
    confirm_pledge(first, ana)
    cancel_pledge(first, ana)
    paid = confirm_pledge(make_pledge(r, cy, amount_cents=5_000), cy)
    collect_pledge(paid, method=PaymentMethod.CASH, reference="", actor=organizer)
    cancel_pledge(paid, cy)
    refund_pledge(paid, method=PaymentMethod.CASH, reference="", actor=organizer)
    # a material change asks pledgers to reconfirm
    earmarked = confirm_pledge(
        make_pledge(
            r,
            ben,
            amount_cents=200_000,
            target=TargetKind.PROJECT,
            project_ids=[garden.id],
        ),
        ben,
    )
    edit_project(
        garden,
        title=garden.title,
        description="Raised beds",
        cost_cents=garden.cost_cents,
        priority_area_id=garden.priority_area_id,
        lead_name="",
        actor=organizer,
    )
    reconfirm_pledge(earmarked, ben)
    unused = confirm_pledge(
        make_pledge(
            r,
            cy,
            amount_cents=3_000,
            target=TargetKind.PROJECT,
            project_ids=[safety.id],
            condition=Condition.ALL_OR_NOTHING,
        ),
        cy,
    )
    collect_pledge(earmarked, method=PaymentMethod.CASH, reference="", actor=organizer)

    transition(r, RoundStatus.CLOSED, actor=organizer)
    run_allocation(r, "greedy", actor=organizer)
    generate_documents(r, actor=organizer)
    for member in board[:2]:
        sign_round(r, member)
    assert r.status == RoundStatus.APPROVED
    disburse_project(garden, reference="cheque 12", actor=organizer)
    for project in r.projects:  # pay out the rest, then close the books
        if ledger.balance(r.id, Account.PROJECT, project_id=project.id):
            disburse_project(project, reference="cheque 13", actor=organizer)
    close_books(r, write_off=True, actor=organizer)
    assert r.status == RoundStatus.SETTLED
    db.session.commit()

    # sign-ins: the organizer and a board member are on the record; a resident is not
    for email in (organizer.email, board[0].email, ana.email):
        client.login(email)
        client.logout()

    events = _actions()
    actions = {e.action for e in events}
    assert PROMISED - actions == set()
    logins = {e.actor_id for e in events if e.action == "login"}
    assert logins == {organizer.id, board[0].id}
    assert unused.state.value == "released"

    for event in events:
        if event.action.startswith("response."):
            data = json.loads(event.data)
            assert set(data) == {"round", "source"}, data  # who answered, never what
    assert verify_chain() == []
