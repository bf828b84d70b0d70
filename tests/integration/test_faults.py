"""The database connection drops in the middle of a request (PostgreSQL terminates the
backend from another connection, at a chosen statement): the person gets a page saying
nothing was kept, nothing partial is visible, sending it again is safe and counts once,
and the ledger and audit checks pass."""

from __future__ import annotations

import contextlib
import json
import re

import psycopg
import pytest
from sqlalchemy import event, func, select
from sqlalchemy.engine import make_url

from commonpot.audit import AuditEvent
from commonpot.extensions import db
from commonpot.models import FundingRound, RoundStatus
from commonpot.rounds.services import transition
from pooling.grants import add_grant
from pooling.models import AllocationRun, FundingLine, Pledge, PledgeState, ProjectOutcome
from pooling.pledges import make_pledge
from surveys.services import submit_response
from tests import factories
from tests.hostile import snapshot

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("terminating a backend is PostgreSQL's (the SQLite file has none)")
    return make_url(app.config["SQLALCHEMY_DATABASE_URI"]).set(drivername="postgresql")


@contextlib.contextmanager
def connection_dropped_at(pg_url, statement: str):
    """Terminate the request's backend just before it sends the first statement matching
    `statement` (a regular expression); yields the statements it cut."""
    cut: list[str] = []

    def before(connection, _cursor, sql, *_args):
        if cut or not re.match(statement, sql):
            return
        cut.append(sql)
        pid = connection.connection.dbapi_connection.info.backend_pid
        with psycopg.connect(pg_url.render_as_string(hide_password=False), autocommit=True) as k:
            assert k.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,)).fetchone()[0]

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield cut
    finally:
        event.remove(db.engine, "before_cursor_execute", before)


def _checks_pass(runner) -> None:
    for command in (["audit", "verify", "--json"], ["ledger", "verify", "--json"]):
        result = runner.invoke(args=command)
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["ok"] is True


def _events(action: str) -> int:
    return db.session.scalar(select(func.count()).where(AuditEvent.action == action))


def test_a_pledge_cut_off_mid_request_keeps_nothing_and_a_retry_counts_once(
    app, pg, make_client, runner
):
    community, people = factories.community()
    r = factories.open_round(community, people["organizer"][0])
    resident = make_client()
    resident.login("r1@eastside.test")
    form = {"instrument": "donation", "amount": "40", "target": "pot", "condition": "keep_it_all"}
    url = f"/c/eastside/rounds/{r.id}/pledge"

    # Making the pledge: cut as its audit event is written, after the pledge row went in.
    before = snapshot()
    with connection_dropped_at(pg, r"INSERT INTO audit_event") as cut:
        lost = resident.post(url, form)
    assert cut and lost.status_code == 503 and "nothing of it was kept" in lost.get_data(True)
    assert snapshot() == before
    made = resident.post(url, form)
    again = resident.post(url, form)  # a double click after the retry
    assert made.status_code == again.status_code == 302
    pledge = db.session.scalars(select(Pledge).where(Pledge.round_id == r.id)).one()
    assert pledge.state == PledgeState.PLEDGED and _events("pledge.made") == 1

    # Confirming it: cut after the state changed and the ledger entry was written.
    confirm = f"/c/eastside/rounds/{r.id}/pledges/{pledge.id}/confirm"
    before = snapshot()
    with connection_dropped_at(pg, r"INSERT INTO audit_event") as cut:
        lost = resident.post(confirm)
    assert cut and lost.status_code == 503
    assert snapshot() == before
    db.session.refresh(pledge)
    assert pledge.state == PledgeState.PLEDGED
    assert resident.post(confirm).status_code == 302
    assert resident.post(confirm).status_code in (302, 422)  # confirming twice changes nothing
    db.session.refresh(pledge)
    assert pledge.state == PledgeState.CONFIRMED
    assert _events("pledge.confirmed") == 1
    assert db.session.scalar(select(func.count()).select_from(Pledge)) == 1
    _checks_pass(runner)


def test_an_allocation_cut_off_mid_run_stores_no_half_run_and_a_retry_stores_one(
    app, pg, make_client, runner
):
    community, people = factories.community()
    organizer = people["organizer"][0]
    r = factories.open_round(community, organizer)
    add_grant(
        r,
        name="Seed",
        funder="",
        amount_cents=800_000,
        priority_area_id=None,
        cap_per_project_cents=None,
        actor=organizer,
    )
    ranks = {a.id: i for i, a in enumerate(r.priority_areas, 1)}
    for resident in people["residents"][:3]:
        submit_response(r, resident, rankings=ranks, votes={r.projects[0].id, r.projects[1].id})
    make_pledge(r, people["residents"][0], amount_cents=5_000)
    transition(r, RoundStatus.CLOSED, actor=organizer)
    db.session.commit()
    client = make_client()
    client.login(organizer.email)
    url = f"/c/eastside/rounds/{r.id}/allocation"

    before = snapshot()
    # The run and its outcomes are in; cut as the funding lines follow.
    with connection_dropped_at(pg, r"INSERT INTO funding_line") as cut:
        lost = client.post(url, {"rule": "greedy"})
    assert cut and lost.status_code == 503
    assert snapshot() == before
    for table in (AllocationRun, ProjectOutcome, FundingLine):
        assert db.session.scalar(select(func.count()).select_from(table)) == 0
    assert db.session.get(FundingRound, r.id).status == RoundStatus.CLOSED

    assert client.post(url, {"rule": "greedy"}).status_code == 302
    run = db.session.scalars(select(AllocationRun)).one()
    assert {line.project_id for line in run.lines} == {r.projects[0].id, r.projects[1].id}
    assert db.session.get(FundingRound, r.id).status == RoundStatus.ALLOCATED
    assert _events("allocation.run") == 1 and _events("round.allocated") == 1
    _checks_pass(runner)
