"""Every route of the URL map, called by every kind of caller, answers as the policy says.

A new route without a line in POLICY fails `test_every_route_has_a_policy`, so nobody can
add a page and forget who may see it.
"""

from __future__ import annotations

import re

from flask import url_for
from sqlalchemy import select

from commonpot.extensions import db
from pooling.models import Notice

CALLERS = ("anonymous", "resident", "other_resident", "outsider", "organizer", "board")

# Status by caller, in CALLERS order, for a GET of the route in an open round (documents:
# an allocated round). L = redirected to sign in; 403/404 = refused; 200 = shown.
# "Resident" owns the pledge, notice and statement in the URL; "other_resident" is a
# resident of the same community; "outsider" a resident of another community.
POLICY = {
    "rounds.home": "200 200 200 200 200 200",
    "rounds.community": "200 200 200 200 200 200",
    "rounds.show": "200 200 200 200 200 200",
    "rounds.create": "L 403 403 403 200 403",
    "rounds.edit_project": "L 403 403 403 200 403",
    "auth.login": "200 200 200 200 200 200",
    "auth.reset_request": "200 200 200 200 200 200",
    "auth.change_password": "L 200 200 200 200 200",
    "auth.set_password_view": "200 200 200 200 200 200",  # a bad token: a clear page
    "people.people": "L 403 403 403 200 403",
    "auditlog.events": "L 403 403 403 200 403",
    "surveys.join": "200 200 200 200 200 200",  # anyone may claim their line on the roll
    "surveys.roll": "L 403 403 403 200 403",
    "surveys.ballot": "L 200 200 403 200 200",
    "surveys.ballot_settings": "L 403 403 403 200 403",
    "surveys.paper_ballot": "L 403 403 403 200 403",
    "surveys.results": "L 403 403 403 200 403",  # open round: tallies stay hidden
    "surveys.results_csv": "L 403 403 403 200 403",
    "surveys.export_pabulib": "L 403 403 403 200 403",
    "surveys.import_pabulib": "L 403 403 403 200 403",
    "pooling.verify": "200 200 200 200 200 200",
    "pooling.pledge": "L 200 200 403 200 200",
    "pooling.mine": "L 200 200 403 200 200",
    "pooling.hours": "L 200 200 403 200 200",
    "pooling.pledge_review": "L 200 404 403 404 404",
    "pooling.my_statement": "L 200 200 403 200 200",
    # A resident's statement: the resident (their own) and the organizers, nobody else.
    "pooling.statement_of": "L 200 404 403 200 404",
    "pooling.grants": "L 403 403 403 200 403",
    "pooling.round_terms": "L 403 403 403 200 403",
    "pooling.project_targets": "L 403 403 403 200 403",
    # Pledges name residents: the organizers keep the books (the board reads the report).
    "pooling.treasury_view": "L 403 403 403 200 403",
    "pooling.pledges_csv": "L 403 403 403 200 403",
    "pooling.ledger_view": "L 403 403 403 200 403",
    "pooling.ledger_csv": "L 403 403 403 200 403",
    "pooling.allocation_view": "L 403 403 403 200 200",  # allocated, not yet approved
    # The board signs the report, so it may read what the other rules would have funded.
    "pooling.compare": "L 403 403 403 200 200",
    "pooling.constraints_page": "L 403 403 403 200 403",
    # "resident" leads the allocated round's funded project: they see its term sheet.
    "pooling.documents": "L 200 403 403 200 200",
    "pooling.download": "L 403 403 403 200 200",  # the report: not the lead's to read yet
    "pooling.job_status": "L 403 403 403 200 200",
    "pooling.signing_authority": "L 403 403 403 200 403",
}
# Routes that only take POST: refused without a CSRF token, refused to outsiders.
POST_ONLY = {
    "auth.logout",
    "people.revoke",
    "surveys.access_codes",
    "surveys.reset_responses",
    "rounds.change_status",
    "rounds.add_project",
    "rounds.remove_project",
    "pooling.generate",
    "pooling.sign",
    "pooling.sign_document",
    "pooling.accept_terms",
    "pooling.new_version",
    "pooling.cancel",
    "pooling.confirm",
    "pooling.reconfirm",
    "pooling.dismiss_notice",
    "pooling.treasury_collect",
    "pooling.treasury_refund",
    "pooling.treasury_disburse",
    "pooling.treasury_close",
    "pooling.constraint_shares",
    "pooling.constraint_threshold",
    "pooling.constraint_dependency",
    "pooling.constraint_dependency_delete",
    "pooling.constraint_incompatible",
    "pooling.constraint_incompatible_delete",
    "pooling.use_compared",
}
PUBLIC_POSTS = {
    "auth.login",
    "auth.reset_request",
    "auth.set_password_view",
    "pooling.verify",
    "surveys.join",  # claiming a roll line is how a member joins: open to anyone
}
SKIP = {"static"}


def _rules(app):
    return [r for r in app.url_map.iter_rules() if r.endpoint not in SKIP]


AFTER_ALLOCATION = (
    "pooling.documents",
    "pooling.download",
    "pooling.allocation_view",
    "pooling.compare",
    "pooling.use_compared",
    "pooling.job_status",
    "pooling.sign_document",
    "pooling.accept_terms",
    "pooling.new_version",
)


def _url(app, rule, world) -> str:
    """The rule's address with real ids: the open round, or the allocated one."""
    values = dict(world["values"])
    chosen = world["allocated"] if rule.endpoint in AFTER_ALLOCATION else world["open"]
    values["round_id"] = chosen.id
    with app.test_request_context():
        return url_for(rule.endpoint, **{name: values[name] for name in rule.arguments})


def _status(response) -> str:
    if response.status_code == 302 and "/login" in response.headers.get("Location", ""):
        return "L"
    return str(response.status_code)


def test_every_route_has_a_policy(app):
    unknown = [
        r.endpoint
        for r in _rules(app)
        if r.endpoint not in POLICY and r.endpoint not in POST_ONLY and r.endpoint not in SKIP
    ]
    assert unknown == [], "add these routes to POLICY or POST_ONLY with who may use them"


def test_every_caller_gets_what_the_policy_says(app, make_client, world):
    clients = {"anonymous": make_client()}
    for caller, email in world["users"].items():
        clients[caller] = make_client()
        clients[caller].login(email)
    got, want = {}, {}
    for rule in _rules(app):
        if "GET" not in rule.methods or rule.endpoint not in POLICY:
            continue
        url = _url(app, rule, world)
        want[rule.endpoint] = POLICY[rule.endpoint]
        got[rule.endpoint] = " ".join(_status(clients[c].get(url)) for c in CALLERS)
    mismatched = {e: (want[e], got[e]) for e in want if want[e] != got[e]}
    assert mismatched == {}, "endpoint: (policy, actual) for callers " + " ".join(CALLERS)


def test_every_post_without_a_csrf_token_is_refused(app, make_client, world):
    organizer = make_client()
    organizer.login(world["users"]["organizer"])
    accepted = []
    for rule in _rules(app):
        if "POST" not in rule.methods:
            continue
        response = organizer.post(_url(app, rule, world), {}, csrf=False)
        if response.status_code != 400 or "CSRF" not in response.get_data(as_text=True):
            accepted.append((rule.endpoint, response.status_code))
    assert accepted == []


def test_outsiders_cannot_post_to_a_communitys_routes(app, make_client, world):
    outsider = make_client()
    outsider.login(world["users"]["outsider"])
    let_in = []
    for rule in _rules(app):
        if "POST" not in rule.methods or rule.endpoint in PUBLIC_POSTS:
            continue
        if "slug" not in rule.arguments:
            continue
        response = outsider.post(_url(app, rule, world), {})
        if response.status_code not in (403, 404):
            let_in.append((rule.endpoint, response.status_code))
    assert let_in == []


def test_residents_never_see_each_others_pledges(app, make_client, world):
    other = make_client()
    other.login(world["users"]["other_resident"])
    r = world["open"]
    pages = [
        f"/c/eastside/rounds/{r.id}/mine",
        f"/c/eastside/rounds/{r.id}/statement",
        f"/c/eastside/rounds/{r.id}/pledges/{world['values']['pledge_id']}",
    ]
    receipt = db.session.scalar(select(Notice)).pledge.receipt_code
    for page in pages:
        body = other.get(page).get_data(as_text=True)
        assert receipt not in body and not re.search(r"\$25\.00", body), page


def test_every_state_changing_route_is_in_the_csrf_walk(app):
    """The CSRF walk posts to every POST route; this makes sure nothing slips around it: no
    route takes PUT, PATCH or DELETE (which the walk would not try), no view or blueprint is
    exempted, and the check runs before every view."""
    from commonpot.extensions import csrf

    other = [
        (r.endpoint, sorted(r.methods - {"GET", "HEAD", "OPTIONS", "POST"}))
        for r in _rules(app)
        if r.methods - {"GET", "HEAD", "OPTIONS", "POST"}
    ]
    assert other == []
    assert not csrf._exempt_views and not csrf._exempt_blueprints
    assert app.config.get("WTF_CSRF_ENABLED", True) and app.config.get(
        "WTF_CSRF_CHECK_DEFAULT", True
    )
    assert "POST" in app.config.get("WTF_CSRF_METHODS", ["POST"])
    posts = {r.endpoint for r in _rules(app) if "POST" in r.methods}
    assert posts >= POST_ONLY | PUBLIC_POSTS and len(posts) > len(POST_ONLY)


def test_ids_beyond_the_database_are_no_page(app, make_client, world):
    """Every route with an id, called with one too large for the database: 404, not 500."""
    organizer = make_client()
    organizer.login(world["users"]["organizer"])
    answers = {}
    for rule in _rules(app):
        ints = [a for a in rule.arguments if a.endswith("_id")]
        if not ints:
            continue
        values = dict(world["values"], round_id=world["open"].id)
        huge = {**{a: values[a] for a in rule.arguments}, **{a: 99999999999 for a in ints}}
        path = rule.rule
        for a, v in huge.items():
            path = re.sub(rf"<(?:[a-z]+(?:\([^)]*\))?:)?{a}>", str(v), path)
        method = organizer.get if "GET" in rule.methods else organizer.post
        answers[rule.endpoint] = method(path).status_code
    assert answers and set(answers.values()) == {404}, answers
