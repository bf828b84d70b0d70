"""Paper ballots: entered by an organizer for a listed member, marked, audited, exclusive."""

from __future__ import annotations

from sqlalchemy import select

from commonpot.audit import AuditEvent
from commonpot.extensions import db
from surveys import eligibility
from surveys.models import Response, ResponseSource
from tests import factories
from tests.integration.test_survey_and_pledge import ballot

ROLL = b"name,block,member number\nAmara Diallo,Block A,M-001\nJose Nunez,Block B,M-002\n"


def setup():
    community, people = factories.community()
    organizer = people["organizer"][0]
    r = factories.open_round(community, organizer)
    eligibility.import_roll(community, ROLL, actor=organizer)
    eligibility.claim_by_matching(
        community, people["residents"][0], member_number="M-002", name="Jose Nunez", birth_year=None
    )
    db.session.commit()
    return community, people, r


def test_organizer_enters_a_paper_ballot_for_a_listed_member(app, make_client):
    _, people, r = setup()
    organizer = make_client()
    organizer.login("organizer@eastside.test", factories.PASSWORD)
    url = f"/c/eastside/rounds/{r.id}/paper"
    missing = organizer.get(url, query_string={"member": "M-404"})
    assert missing.status_code == 404 and "No member M-404 on the roll." in missing.get_data(
        as_text=True
    )
    page = organizer.get(url, query_string={"member": "m-001"}).get_data(as_text=True)
    assert "Paper ballot for Amara Diallo" in page
    saved = organizer.post(f"{url}?member=M-001", ballot(r, approve=(1,)))
    assert saved.status_code == 302, saved.get_data(as_text=True)
    response = db.session.scalars(select(Response)).one()
    assert response.source == ResponseSource.PAPER
    assert response.entered_by_id == people["organizer"][0].id
    assert response.member.member_number == "M-001" and response.user_id is None
    assert [v.project.title for v in response.votes] == ["Tutoring"]
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action.like("response.%"))).one()
    assert event.actor_id == people["organizer"][0].id and '"paper"' in event.data
    # Entering it again corrects the one paper ballot, it never adds a second.
    assert organizer.post(f"{url}?member=M-001", ballot(r, approve=(0,))).status_code == 302
    assert len(db.session.scalars(select(Response)).all()) == 1


def test_paper_and_online_exclude_each_other(app, make_client):
    _, people, r = setup()
    resident, organizer = make_client(), make_client()
    resident.login("r1@eastside.test", factories.PASSWORD)  # holds member M-002
    organizer.login("organizer@eastside.test", factories.PASSWORD)
    url = f"/c/eastside/rounds/{r.id}/paper?member=M-002"
    assert organizer.post(url, ballot(r)).status_code == 302
    online = resident.post(f"/c/eastside/rounds/{r.id}/survey", ballot(r))
    assert online.status_code == 422
    assert "paper ballot is already recorded" in online.get_data(as_text=True)

    # The reverse: a member who answered online cannot be entered on paper.
    db.session.execute(Response.__table__.delete())
    db.session.commit()
    assert resident.post(f"/c/eastside/rounds/{r.id}/survey", ballot(r)).status_code == 302
    refused = organizer.post(url, ballot(r))
    assert refused.status_code == 422
    assert "already answered online" in refused.get_data(as_text=True)
    sources = [x.source for x in db.session.scalars(select(Response))]
    assert sources == [ResponseSource.ONLINE]


def test_residents_cannot_enter_paper_ballots(app, client):
    _, _, r = setup()
    client.login("r2@eastside.test", factories.PASSWORD)
    assert (
        client.post(f"/c/eastside/rounds/{r.id}/paper?member=M-001", ballot(r)).status_code == 403
    )
