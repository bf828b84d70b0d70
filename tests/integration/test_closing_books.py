"""Closing a round's books (approved -> settled) through the treasury page: what is left to
do is listed, a refusal changes nothing, unpaid called pledges are written off only when
asked, and once settled no money moves in the round."""

from __future__ import annotations

from sqlalchemy import func, select

from commonpot.audit import AuditEvent
from commonpot.extensions import db
from commonpot.models import RoundStatus
from pooling import ledger
from pooling.books import balances
from pooling.ledger import Account, LedgerEntry
from pooling.ledger_checks import verify
from pooling.models import Notice, PaymentMethod, PledgeState, TargetKind
from pooling.treasury import collect_pledge

from .test_treasury_pages import ORGANIZER, approve, city_grant, field_error, pledged, setup


def _entries(r) -> int:
    return db.session.scalar(select(func.count()).select_from(LedgerEntry).filter_by(round_id=r.id))


def test_closing_the_books(app, make_client):
    _, people, r = setup()
    organizer = people["organizer"][0]
    r1, r2 = people["residents"][:2]
    garden, tutoring, _ = r.projects
    paid = pledged(r, r1, 100_000)
    collect_pledge(paid, method=PaymentMethod.CASH, reference="R-1", actor=organizer)
    never = pledged(r, r2, 200_000, target=TargetKind.PROJECT, project_ids=[tutoring.id])
    city_grant(r, organizer)
    db.session.commit()
    approve(r, people)
    db.session.refresh(never)
    assert never.state == PledgeState.CONFIRMED and never.called_cents == 200_000

    client = make_client()
    client.login(ORGANIZER)
    base = f"/c/eastside/rounds/{r.id}/treasury"
    page = client.get(base).get_data(as_text=True)
    assert "Close the books" in page
    assert "Pay out the money waiting in projects" in page
    assert "1 called pledge is not paid ($2,000.00)" in page

    # Refused while money waits in projects: nothing changes.
    before = _entries(r)
    refused = client.post(f"{base}/close", {"write_off": "y"})
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert "The books were not closed." in text and "Pay out the money waiting" in text
    db.session.expire_all()
    assert r.status == RoundStatus.APPROVED and _entries(r) == before
    assert never.state == PledgeState.CONFIRMED

    for pm in balances(r).projects:
        if pm.can_disburse:
            ok = client.post(f"{base}/projects/{pm.project.id}/disburse", {"reference": "T-1"})
            assert ok.status_code == 302
    # Now only the unpaid pledge stands in the way, and the box must be ticked.
    unticked = client.post(f"{base}/close", {})
    assert unticked.status_code == 422
    assert "not paid: record the payments, or write them off" in field_error(
        unticked.get_data(as_text=True), "write_off"
    )
    db.session.expire_all()
    assert r.status == RoundStatus.APPROVED
    page = client.get(base).get_data(as_text=True)
    assert "No money waits in a project." in page
    assert "Tutoring: $2,000.00 short" in page  # what writing the pledge off costs

    closed = client.post(f"{base}/close", {"write_off": "y"})
    assert closed.status_code == 302
    db.session.expire_all()
    assert r.status == RoundStatus.SETTLED and r.settled_at is not None
    assert never.state == PledgeState.RELEASED and never.called_cents == 200_000
    assert ledger.balance(r.id, Account.PROMISED) == 0
    assert ledger.balance(r.id, Account.PROJECT) == 0
    assert verify([r.id]).ok
    actions = [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert "pledge.written_off" in actions and actions[-1] == "round.settled"
    notice = db.session.scalars(select(Notice).filter_by(user_id=r2.id, kind="written_off")).one()
    assert "never paid and is written off" in notice.text
    page = client.get(base).get_data(as_text=True)
    assert "The books were closed on" in page and "Close the books</button>" not in page
    assert "$2,000.00 short" in page and "written off" in page

    assert "Books closed" in client.get(f"/c/eastside/rounds/{r.id}").get_data(as_text=True)

    # The resident's statement says what happened to the pledge.
    resident = make_client()
    resident.login(r2.email)
    statement = resident.get(f"/c/eastside/rounds/{r.id}/statement").get_data(as_text=True)
    assert "Written off when the books closed" in statement

    # Settled: no money moves any more, and closing twice is refused.
    after = _entries(r)
    late = client.post(
        f"{base}/pledges/{never.id}/collect", {"method": "cash", "reference": "late"}
    )
    assert late.status_code == 422
    again = client.post(f"{base}/close", {"write_off": "y"})
    assert again.status_code == 422
    assert "Only an approved round" in again.get_data(as_text=True)
    assert _entries(r) == after


def test_a_round_with_nothing_left_closes_without_writing_off(app, make_client):
    _, people, r = setup()
    organizer = people["organizer"][0]
    city_grant(r, organizer)
    db.session.commit()
    approve(r, people)
    client = make_client()
    client.login(ORGANIZER)
    base = f"/c/eastside/rounds/{r.id}/treasury"
    for pm in balances(r).projects:
        if pm.can_disburse:
            client.post(f"{base}/projects/{pm.project.id}/disburse", {"reference": "T-2"})
    page = client.get(base).get_data(as_text=True)
    assert "Every called pledge is paid." in page and "write_off" not in page
    assert client.post(f"{base}/close", {}).status_code == 302
    db.session.expire_all()
    assert r.status == RoundStatus.SETTLED
    late = client.post(f"{base}/projects/{r.projects[0].id}/disburse", {"reference": "x"})
    assert "books are closed" in late.get_data(as_text=True)


def test_only_organizers_close_the_books(app, make_client):
    _, people, r = setup()
    city_grant(r, people["organizer"][0])
    db.session.commit()
    approve(r, people)
    board = make_client()
    board.login(people["board"][0].email)
    assert board.post(f"/c/eastside/rounds/{r.id}/treasury/close", {}).status_code == 403
    db.session.expire_all()
    assert r.status == RoundStatus.APPROVED
