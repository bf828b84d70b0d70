"""The audit log: `commonpot audit verify` finds the first broken event; organizers read the log.

The command runs as a user runs it (the installed script in a subprocess) against the same
database the test fills through the services, SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text

from commonpot import audit
from commonpot.audit import AuditEvent, record
from commonpot.audit_chain import check_chain, verify_chain
from commonpot.extensions import db
from tests import factories
from tests.integration.test_cli import run


def verify(app, *args):
    """`commonpot audit verify ARGS` against the test's database (what it committed)."""
    db.session.commit()
    env = {
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "SECRET_KEY": "test-secret-key-not-for-production",
    }
    return run("audit", "verify", *args, env=env, check=False)


def verify_json(app) -> tuple[int, dict]:
    result = verify(app, "--json")
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, json.loads(result.stdout)  # stdout holds the JSON alone


def event(seq: int) -> AuditEvent:
    db.session.expire_all()
    return db.session.scalars(select(AuditEvent).where(AuditEvent.seq == seq)).one()


def sql(statement: str, **params) -> None:
    db.session.execute(text(statement), params)
    db.session.commit()


@pytest.fixture
def eastside(app):
    community, people = factories.community(board=2, residents=2)
    funding_round = factories.open_round(community, people["organizer"][0])
    return community, people, funding_round


def test_verify_reports_an_intact_chain(app, eastside):
    events = db.session.query(AuditEvent).count()
    assert events >= 15
    last = db.session.scalar(select(AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1))

    result = verify(app)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"audit chain intact: {events} events, last hash {last}\n"

    code, report = verify_json(app)
    assert code == 0
    assert report == {
        "ok": True,
        "events": events,
        "last_hash": last,
        "broken": None,
        "unsealed": 0,
    }


def test_verify_names_an_edited_event(app, eastside):
    target = event(7)
    original = target.data
    sql(
        "UPDATE audit_event SET data = :data WHERE seq = 7",
        data=original.replace("}", ', "note": "x"}') if original != "{}" else '{"note": "x"}',
    )
    code, report = verify_json(app)
    assert code == 1 and report["ok"] is False
    broken = report["broken"]
    assert broken["seq"] == 7 and broken["id"] == target.id
    assert (broken["action"], broken["subject"]) == (target.action, target.subject)
    assert "edited" in broken["problem"]

    text_result = verify(app)
    assert text_result.returncode == 1 and text_result.stdout == ""
    assert "BROKEN at event seq 7" in text_result.stderr and target.action in text_result.stderr

    sql("UPDATE audit_event SET data = :data WHERE seq = 7", data=original)
    code, report = verify_json(app)
    assert code == 0 and report["ok"] and report["broken"] is None
    assert verify_chain() == []


def test_verify_names_the_event_after_a_removed_one(app, eastside):
    removed_id, after = event(6).id, event(7)
    total = db.session.query(AuditEvent).count()
    sql("DELETE FROM audit_event WHERE seq = 6")
    code, report = verify_json(app)
    assert code == 1 and report["events"] == total - 1
    broken = report["broken"]
    assert (broken["seq"], broken["id"], broken["action"]) == (7, after.id, after.action)
    assert "seq 6" in broken["problem"] and "missing" in broken["problem"]
    assert f"id {removed_id}" not in broken["problem"]  # it is gone; only its seq is known

    result = verify(app)
    assert result.returncode == 1
    assert "event seq 7" in result.stderr and "seq 6 before it is missing" in result.stderr


def test_verify_names_two_events_whose_seq_was_swapped(app, eastside):
    first, second = event(4), event(5)
    sql("UPDATE audit_event SET seq = -1 WHERE seq = 4")
    sql("UPDATE audit_event SET seq = 4 WHERE seq = 5")
    sql("UPDATE audit_event SET seq = 5 WHERE seq = -1")
    code, report = verify_json(app)
    assert code == 1
    broken = report["broken"]
    # Walking in seq order, seq 4 now holds the event recorded second: it is the first broken.
    assert (broken["seq"], broken["id"], broken["action"]) == (4, second.id, second.action)
    assert "out of order" in broken["problem"] and f"id {first.id}" in broken["problem"]
    assert verify_chain() and "seq 4" in verify_chain()[0]


def test_an_event_rewritten_with_a_new_hash_breaks_the_next_link(app, eastside):
    """A forger who edits an event and recomputes its hash is caught at the event after it."""
    sql("UPDATE audit_event SET subject = 'round:999' WHERE seq = 8")
    sql("UPDATE audit_event SET hash = :h WHERE seq = 8", h=event(8).digest())
    report = check_chain()
    assert report.broken.seq == 9 and report.broken.id == event(9).id
    assert "link to the event before it (seq 8" in report.broken.problem


def test_ids_that_go_back_in_seq_order_are_reordering(app, eastside):
    """Swapping two rows' ids keeps every hash, but ids are given in recording order."""
    low, high = event(2).id, event(3).id
    sql("UPDATE audit_event SET id = -1 WHERE seq = 2")
    sql("UPDATE audit_event SET id = :low WHERE seq = 3", low=low)
    sql("UPDATE audit_event SET id = :high WHERE seq = 2", high=high)
    code, report = verify_json(app)
    assert code == 1 and report["broken"]["seq"] == 3 and report["broken"]["id"] == low
    assert "lower than the id" in report["broken"]["problem"]


def test_the_walk_goes_in_batches_and_finds_a_break_past_the_first(app, eastside):
    total = db.session.query(AuditEvent).count()
    intact = check_chain(batch_size=4)
    assert intact.ok and intact.events == total
    assert intact.last_hash == event(total).hash
    sql("UPDATE audit_event SET action = 'round.deleted' WHERE seq = :s", s=total - 1)
    broken = check_chain(batch_size=4)
    assert broken.broken.seq == total - 1 and broken.broken.action == "round.deleted"
    assert broken.events == total and not broken.ok


def test_an_empty_log_is_intact(app):
    report = check_chain()
    assert report.ok and report.events == 0 and report.last_hash is None
    assert report.summary() == "audit chain intact: 0 events, last hash none"


# ---- sealing: events are chained right after their commit ----


def test_an_event_is_sealed_right_after_its_commit_and_not_when_rolled_back(app, eastside):
    community, _, _ = eastside
    before = db.session.scalar(select(func.max(AuditEvent.seq)))
    record("note.added", "kept", community_id=community.id)
    waiting = db.session.scalars(select(AuditEvent).where(AuditEvent.subject == "kept")).one()
    assert waiting.seq is None and waiting.hash is None  # inside its transaction: unsealed
    db.session.commit()
    kept = event(before + 1)
    assert kept.subject == "kept" and kept.hash == kept.digest()
    assert kept.prev_hash == event(before).hash

    record("note.added", "undone", community_id=community.id)
    db.session.rollback()
    record("note.added", "after", community_id=community.id)
    db.session.commit()
    assert event(before + 2).subject == "after" and event(before + 2).prev_hash == kept.hash
    assert db.session.scalar(select(func.count()).where(AuditEvent.subject == "undone")) == 0
    assert check_chain().ok and check_chain().unsealed == 0


def test_an_event_left_unsealed_is_counted_and_verify_seals_it(app, eastside):
    """A process killed between a commit and its seal leaves its event waiting: the
    report counts it, and `commonpot audit verify` seals it first."""
    community, _, _ = eastside
    total = db.session.scalar(select(func.count()).select_from(AuditEvent))
    sql(
        "INSERT INTO audit_event (community_id, action, subject, data, created_at)"
        " VALUES (:c, 'note.added', 'orphan', '{}', :at)",
        c=community.id,
        at=datetime(2026, 12, 2, 1, 0),
    )
    waiting = check_chain()
    assert waiting.ok and waiting.events == total and waiting.unsealed == 1
    assert "(1 not yet sealed)" in waiting.summary()

    code, report = verify_json(app)
    assert code == 0 and report["ok"] and report["unsealed"] == 0
    assert report["events"] == total + 1
    orphan = event(total + 1)
    assert orphan.subject == "orphan" and orphan.hash == orphan.digest()
    assert report["last_hash"] == orphan.hash


def test_concurrent_writers_make_one_unbroken_chain(app, eastside):
    """Writers in their own sessions commit at once and nobody waits for the chain: each
    seals what is waiting or leaves it to the sealer at work. Every event ends up sealed,
    once, in one chain whose ids increase with seq (on PostgreSQL the sealer gives fresh
    ids, since transactions commit in another order than they inserted)."""
    community_id = eastside[0].id  # the threads must not touch the test's session
    before = db.session.scalar(select(func.count()).select_from(AuditEvent))
    db.session.commit()
    writers, each = 8, 15
    barrier = threading.Barrier(writers)
    failures: list[BaseException] = []

    def write(n: int) -> None:
        try:
            with app.app_context():
                barrier.wait()
                for i in range(each):
                    record("note.added", f"w{n}:{i}", community_id=community_id)
                    if i % 3 == 0:  # some transactions hold two events
                        record("note.added", f"w{n}:{i}b", community_id=community_id)
                    db.session.commit()
                db.session.remove()
        except BaseException as error:  # noqa: BLE001 - reported by the test below
            failures.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    db.session.expire_all()
    report = check_chain(batch_size=17)
    added = writers * (each + len(range(0, each, 3)))
    assert report.ok, report.problems
    assert report.unsealed == 0 and report.events == before + added
    rows = db.session.execute(select(AuditEvent.seq, AuditEvent.id).order_by(AuditEvent.seq)).all()
    assert [r.seq for r in rows] == list(range(1, before + added + 1))
    assert all(a.id < b.id for a, b in zip(rows, rows[1:], strict=False))
    subjects = db.session.scalars(
        select(AuditEvent.subject).where(AuditEvent.subject.like("w%"))
    ).all()
    assert len(subjects) == len(set(subjects)) == added


# ---- the organizer's page ----


def rows(page: str) -> list[str]:
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in page else ""
    return re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)


def cells(row: str) -> list[str]:
    """seq, when, action, subject, done by, details."""
    return re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)


def seqs(page: str) -> list[int]:
    return [int(re.match(r"\d+", cells(row)[0]).group()) for row in rows(page)]


def test_organizer_reads_the_log_newest_first_with_data_escaped(app, client, eastside):
    community, people, funding_round = eastside
    client.login("organizer@eastside.test")  # a sign-in is itself an event: before counting
    record(
        "note.added",
        "round:1",
        community_id=community.id,
        actor_id=people["board"][0].id,
        note="<script>alert(1)</script>",
        amount=1500,
    )
    db.session.commit()
    mine = [
        e.seq
        for e in db.session.scalars(
            select(AuditEvent).where(AuditEvent.community_id == community.id)
        )
    ]
    response = client.get("/c/eastside/audit")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert seqs(page) == sorted(mine, reverse=True)
    newest = rows(page)[0]
    assert "note.added" in newest and "Board Member 1" in newest
    assert "note=&lt;script&gt;alert(1)&lt;/script&gt;" in newest and "amount=1500" in newest
    assert "<script>alert" not in page
    assert "The audit chain verifies." in page
    assert "round.open" in page and "Olga Organizer" in page
    assert "Times in UTC." in page


def test_pages_hold_fifty_events(app, client, eastside):
    community, _, _ = eastside
    for i in range(60):
        record("test.bulk", f"item:{i}", community_id=community.id)
    db.session.commit()
    client.login("organizer@eastside.test")  # a sign-in is itself an event: before counting
    total = db.session.query(AuditEvent).filter_by(community_id=community.id).count()
    first = client.get("/c/eastside/audit?action=test.").get_data(as_text=True)
    assert len(rows(first)) == 50 and "item:59" in rows(first)[0]
    assert "60 events; page 1 of 2" in first
    second = client.get("/c/eastside/audit?action=test.&page=2").get_data(as_text=True)
    assert len(rows(second)) == 10 and "item:0" in rows(second)[-1]
    assert 'href="/c/eastside/audit?action=test.&amp;page=1"' in second  # filters kept
    everything = client.get("/c/eastside/audit?page=2").get_data(as_text=True)
    assert f"{total} events; page 2 of {-(-total // 50)}" in everything


def test_filters_by_action_actor_and_local_dates(app, client, eastside, monkeypatch):
    community, people, _ = eastside
    community.timezone = "America/Los_Angeles"
    board = people["board"][0]
    times = iter(
        [
            datetime(2024, 3, 10, 7, 30, tzinfo=UTC),  # 9 March, 23:30 in Los Angeles
            datetime(2024, 3, 10, 9, 0, tzinfo=UTC),  # 10 March, 01:00
            datetime(2024, 3, 12, 20, 0, tzinfo=UTC),  # 12 March, 13:00
        ]
    )
    monkeypatch.setattr(audit, "utcnow", lambda: next(times))
    for subject in ("late", "early", "later"):
        record("pledge.made", f"pledge:{subject}", community_id=community.id, actor_id=board.id)
    db.session.commit()
    monkeypatch.undo()
    client.login("organizer@eastside.test")

    def shown(query: str) -> list[str]:
        page = client.get(f"/c/eastside/audit?{query}").get_data(as_text=True)
        return [cells(row)[3] for row in rows(page)]

    assert shown("action=pledge.") == ["pledge:later", "pledge:early", "pledge:late"]
    rounds_only = client.get("/c/eastside/audit?action=round.").get_data(as_text=True)
    assert rows(rounds_only) and all("<code>round." in row for row in rows(rounds_only))
    assert shown("actor=board1%40EASTSIDE") == ["pledge:later", "pledge:early", "pledge:late"]
    assert shown("actor=member+1&action=pledge.") == shown("action=pledge.")
    by_olga = client.get("/c/eastside/audit?actor=olga").get_data(as_text=True)
    assert rows(by_olga) and all("Olga Organizer" in row for row in rows(by_olga))
    assert shown("actor=nobody-like-this") == []
    assert shown("action=%25") == []  # a LIKE wildcard is taken literally
    assert shown("since=2024-03-10&until=2024-03-10") == ["pledge:early"]
    assert shown("since=2024-03-10&action=pledge.") == ["pledge:later", "pledge:early"]
    assert "pledge:later" not in shown("since=2024-03-13")  # the fixture's events are today's
    assert shown("until=2024-03-09") == ["pledge:late"]
    page = client.get("/c/eastside/audit?since=2024-03-10&until=2024-03-10").get_data(as_text=True)
    assert "10 Mar 2024, 01:00 PST" in page and "Times in America/Los_Angeles." in page

    bad = client.get("/c/eastside/audit?since=2024-03-12&until=2024-03-10")
    assert bad.status_code == 400
    assert "The end date is before the start date." in bad.get_data(as_text=True)


def test_banner_names_a_broken_event_only_in_its_own_community(app, client, eastside):
    community, _, _ = eastside
    westside, _ = factories.community("westside", board=1, residents=1)
    west_event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.community_id == westside.id).order_by(AuditEvent.seq)
    ).first()
    east_event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.community_id == community.id).order_by(AuditEvent.seq)
    ).all()[3]
    client.login("organizer@eastside.test")

    sql("UPDATE audit_event SET subject = 'tampered:1' WHERE id = :id", id=west_event.id)
    page = client.get("/c/eastside/audit").get_data(as_text=True)
    assert f"broken at event {west_event.seq}, which is not one of this community" in page
    assert "tampered:1" not in page and "edited" not in page

    sql(
        "UPDATE audit_event SET subject = :s WHERE id = :id", s=west_event.subject, id=west_event.id
    )
    sql("""UPDATE audit_event SET data = '{"x": 1}' WHERE id = :id""", id=east_event.id)
    page = client.get("/c/eastside/audit").get_data(as_text=True)
    assert f"The audit chain is broken at event {east_event.seq}." in page
    assert "it was edited after it was recorded" in page
    assert '<span class="tag">broken</span>' in page


def test_only_this_communitys_organizers_see_its_log(app, make_client, eastside):
    factories.community("westside", board=1, residents=1)
    anonymous = make_client()
    assert anonymous.get("/c/eastside/audit").status_code == 302
    for email in ("r1@eastside.test", "board1@eastside.test", "organizer@westside.test"):
        visitor = make_client()
        visitor.login(email)
        response = visitor.get("/c/eastside/audit")
        assert response.status_code == 403, email
        assert "round.open" not in response.get_data(as_text=True)
        assert "Audit log" not in visitor.get("/c/eastside/").get_data(as_text=True)
    west = make_client()
    west.login("organizer@westside.test")
    own = west.get("/c/westside/audit").get_data(as_text=True)
    assert "community.created" in own and "round.open" not in own  # eastside's round is not here
    organizer = make_client()
    organizer.login("organizer@eastside.test")
    home = organizer.get("/c/eastside/").get_data(as_text=True)
    assert 'href="/c/eastside/audit"' in home
    assert organizer.get("/c/nowhere/audit").status_code == 404


def test_organizer_and_board_sign_ins_are_recorded(app, client):
    community, people = factories.community()
    client.post("/login", {"email": people["board"][0].email, "password": factories.PASSWORD})
    client.post("/login", {"email": people["residents"][0].email, "password": factories.PASSWORD})
    logins = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "login")).all()
    assert [(e.subject, e.community_id) for e in logins] == [
        (f"user:{people['board'][0].id}", community.id)
    ]


def test_the_page_walks_in_full_daily_and_otherwise_checks_what_was_added(app, client, eastside):
    """A view checks the events added since the last walk, from the event that walk ended
    on; an edit further back is found by the next full walk (asked for, or a day later)."""
    from datetime import timedelta

    from commonpot.audit_checkpoint import AuditCheckpoint

    def mark():
        db.session.rollback()  # see what the page's own connection committed
        columns = (AuditCheckpoint.seq, AuditCheckpoint.hash, AuditCheckpoint.full_at)
        return db.session.execute(select(*columns)).one_or_none()

    client.login("organizer@eastside.test")
    page = client.get("/c/eastside/audit").get_data(as_text=True)
    assert "The audit chain verifies." in page and "Walk the whole chain now" in page
    first = mark()
    total = db.session.scalar(select(func.count()).select_from(AuditEvent))
    assert (first.seq, first.hash) == (total, check_chain().last_hash)

    record("test.added", "thing:1", community_id=eastside[0].id, actor_id=None)
    db.session.commit()
    client.get("/c/eastside/audit")
    second = mark()
    assert second.seq == total + 1 and second.full_at == first.full_at  # checked, not walked

    # An edit before the checkpoint: the quick check does not see it, a full walk does.
    original = event(3).data
    sql("""UPDATE audit_event SET data = '{"x": 1}' WHERE seq = 3""")
    assert "The audit chain verifies." in client.get("/c/eastside/audit").get_data(as_text=True)
    walked = client.get("/c/eastside/audit?full=1").get_data(as_text=True)
    assert "The audit chain is broken at event 3." in walked
    assert mark() is None  # every view walks in full until it holds again
    assert "broken at event 3" in client.get("/c/eastside/audit").get_data(as_text=True)
    sql("UPDATE audit_event SET data = :d WHERE seq = 3", d=original)
    assert "verifies" in client.get("/c/eastside/audit").get_data(as_text=True)

    # A day after the last full walk, a plain view walks in full again.
    sql("""UPDATE audit_event SET data = '{"x": 1}' WHERE seq = 3""")
    assert "verifies" in client.get("/c/eastside/audit").get_data(as_text=True)
    day_ago = mark().full_at - timedelta(days=1, minutes=1)
    sql("UPDATE audit_checkpoint SET full_at = :t", t=day_ago.replace(tzinfo=None))
    assert "broken at event 3" in client.get("/c/eastside/audit").get_data(as_text=True)
    sql("UPDATE audit_event SET data = :d WHERE seq = 3", d=original)

    # The event a walk ended on, rewritten: the quick check names it.
    assert "verifies" in client.get("/c/eastside/audit?full=1").get_data(as_text=True)
    anchor = mark()
    sql("UPDATE audit_event SET hash = :h WHERE seq = :s", h="0" * 64, s=anchor.seq)
    page = client.get("/c/eastside/audit").get_data(as_text=True)
    assert f"broken at event {anchor.seq}" in page
    assert "its hash is not the one noted when it was verified" in page
