"""Accounts: sign-in, password change and reset by mail, invitations, roles, CSRF."""

from __future__ import annotations

import re

from sqlalchemy import select

from commonpot.audit_chain import verify_chain
from commonpot.extensions import db
from commonpot.models import Role, User
from tests import factories


def link_in_last_mail(app) -> str:
    body = app.extensions["outbox"][-1].get_content()
    return re.search(r"https?://\S+", body).group(0).split("commonpot.test", 1)[1]


def test_wrong_password_is_told_next_to_the_form(app, client):
    factories.community()
    r = client.post("/login", {"email": "r1@eastside.test", "password": "not it at all"})
    assert r.status_code == 422
    assert "That email and password do not match an account." in r.get_data(as_text=True)


def test_post_without_csrf_token_is_refused(app, client):
    factories.community()
    r = client.post(
        "/login", {"email": "r1@eastside.test", "password": factories.PASSWORD}, csrf=False
    )
    assert r.status_code == 400
    assert b"CSRF" in r.data


def test_change_password(app, client):
    factories.community()
    client.login("r1@eastside.test", factories.PASSWORD)
    r = client.post(
        "/password",
        {
            "current_password": "wrong password",
            "password": "a new long one",
            "confirm": "a new long one",
        },
    )
    assert "This is not your current password." in r.get_data(as_text=True)
    r = client.post(
        "/password",
        {
            "current_password": factories.PASSWORD,
            "password": "a new long one",
            "confirm": "a new long one",
        },
    )
    assert r.status_code == 302
    client.logout()
    client.login("r1@eastside.test", "a new long one")


def test_reset_link_by_mail_works_once(app, client):
    factories.community()
    r = client.post("/password/reset", {"email": "R1@eastside.test"})
    assert r.status_code == 302
    link = link_in_last_mail(app)
    r = client.post(link, {"password": "brand new secret", "confirm": "brand new secret"})
    assert r.status_code == 302
    client.logout()
    client.login("r1@eastside.test", "brand new secret")
    client.logout()
    used = client.get(link).get_data(as_text=True)
    assert "already used" in used


def test_reset_for_unknown_email_looks_the_same_and_sends_nothing(app, client):
    factories.community()
    r = client.post("/password/reset", {"email": "nobody@else.test"})
    assert r.status_code == 302 and app.extensions["outbox"] == []


def test_organizer_invites_a_resident_and_appoints_board(app, client):
    community, people = factories.community()
    client.login("organizer@eastside.test", factories.PASSWORD)
    r = client.post(
        "/c/eastside/people",
        {"name": "New Neighbor", "email": "new@eastside.test", "role": "resident"},
    )
    assert r.status_code == 302
    invited = db.session.scalar(select(User).where(User.email == "new@eastside.test"))
    assert invited.roles_in(community.id) == {Role.RESIDENT}
    link = link_in_last_mail(app)
    newcomer = type(client)(app)
    r = newcomer.post(link, {"password": "my own password", "confirm": "my own password"})
    assert r.status_code == 302

    r = client.post(
        "/c/eastside/people", {"name": "", "email": "r2@eastside.test", "role": "board"}
    )
    assert r.status_code == 302
    db.session.expire_all()
    assert Role.BOARD in people["residents"][1].roles_in(community.id)
    assert verify_chain() == []


def test_residents_cannot_reach_organizer_pages_or_other_communities(app, client):
    factories.community()
    other, _ = factories.community("westside")
    client.login("r1@eastside.test", factories.PASSWORD)
    assert client.get("/c/eastside/people").status_code == 403
    assert (
        client.post(
            "/c/eastside/people", {"name": "x", "email": "x@x.test", "role": "organizer"}
        ).status_code
        == 403
    )
    assert client.get("/c/eastside/rounds/new").status_code == 403
    assert client.get("/c/westside/rounds/new").status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in(app, client):
    factories.community()
    r = client.get("/c/eastside/rounds/new")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
