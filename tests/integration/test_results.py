"""The results page and its CSV against tallies worked out by hand; hidden while open."""

from __future__ import annotations

import csv
import html
import io
import re

from sqlalchemy import select

from commonpot.extensions import db
from commonpot.models import RoundStatus, User
from commonpot.rounds.services import transition
from surveys import services
from surveys.models import ResponseSource, RollMember
from tests import factories


def table(page: str, table_id: str) -> list[list[str]]:
    """The body rows of a table on the page, as cell texts."""
    body = page.split(f'id="{table_id}"')[1].split("</table>")[0].split("<tbody>")[1]
    return [
        [
            html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
            for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def csv_figures(text: str) -> dict[tuple[str, str, str], int]:
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["section", "id", "name", "measure", "value"]
    return {(s, n, m): int(v) for s, _, n, m, v in rows[1:]}


def ranked_round():
    """Ranked ballot (top 3 of Garden, Tutoring, Safety App); areas Food security (F),
    Education (E), Place security (P). Roll: block A = r1, r2, X; block B = r3, r4, Y.

    voter  projects (rank order)   areas (rank order)   Borda per project (L-1-position)
    r1     Safety, Garden          F E P                S 1, G 0
    r2     Garden, Tutoring, Safety E F P               G 2, T 1, S 0
    r3     Tutoring                P E F                T 0
    r4     Safety, Tutoring, Garden F P E               S 2, T 1, G 0
    Y      Garden (paper)          E F P                G 0

    Projects: Borda S 3, G 2, T 2; first choices S 2, G 2, T 1; ballots G 4, T 3, S 3.
    Areas (rank r of 3 earns 3 - r): F 2+1+0+2+1 = 6, E 1+2+1+0+2 = 6, P 0+0+2+1+0 = 3;
    shares 40.0%, 40.0%, 20.0%; first choices F 2, E 2, P 1.
    Participation 5 of 6 (83%): block A 2 of 3, block B 3 of 3. Online 4, paper 1.
    """
    c, people = factories.community()
    organizer = people["organizer"][0]
    r = factories.open_round(c, organizer)
    services.update_ballot_settings(r, {"ballot_type": "ranked"}, actor=organizer)
    residents = people["residents"]
    roll = {}
    for number, (name, block, user) in enumerate(
        [
            ("Resident 1", "Block A", residents[0]),
            ("Resident 2", "Block A", residents[1]),
            ("X", "Block A", None),
            ("Resident 3", "Block B", residents[2]),
            ("Resident 4", "Block B", residents[3]),
            ("Y", "Block B", None),
        ]
    ):
        member = RollMember(
            community_id=c.id,
            member_number=f"M-{number}",
            name=name,
            block=block,
            user_id=user.id if user else None,
        )
        db.session.add(member)
        roll[name] = member
    db.session.flush()
    p = {x.title.split()[0]: x.id for x in r.projects}
    a = {x.name[0]: x.id for x in r.priority_areas}

    def order(*keys, of):
        return {of[k]: n for n, k in enumerate(keys, 1)}

    ballots = [
        (residents[0], ("Safety", "Garden"), "FEP"),
        (residents[1], ("Garden", "Tutoring", "Safety"), "EFP"),
        (residents[2], ("Tutoring",), "PEF"),
        (residents[3], ("Safety", "Tutoring", "Garden"), "FPE"),
    ]
    for user, projects, areas in ballots:
        services.submit_response(
            r, user, rankings=order(*areas, of=a), votes=order(*projects, of=p)
        )
    services.submit_response(
        r,
        None,
        rankings=order(*"EFP", of=a),
        votes=order("Garden", of=p),
        source=ResponseSource.PAPER,
        member=roll["Y"],
        entered_by=organizer,
    )
    db.session.commit()
    return c, people, r


def test_ranked_results_on_the_page_and_in_the_csv(app, make_client):
    _, people, r = ranked_round()
    resident, organizer = make_client(), make_client()
    resident.login("r5@eastside.test", factories.PASSWORD)
    organizer.login("organizer@eastside.test", factories.PASSWORD)
    results, csv_url = (
        f"/c/eastside/rounds/{r.id}/results",
        f"/c/eastside/rounds/{r.id}/results.csv",
    )

    # While the round is open the tallies are the organizers' alone.
    assert resident.get(results).status_code == 403
    assert resident.get(csv_url).status_code == 403
    running = organizer.get(results)
    assert running.status_code == 200
    assert "only organizers see these running tallies" in running.get_data(as_text=True)
    assert organizer.get(csv_url).status_code == 200

    transition(r, RoundStatus.CLOSED, actor=people["organizer"][0])
    db.session.commit()
    page = resident.get(results).get_data(as_text=True)
    assert "running tallies" not in page
    # Project, Borda, first choices, ballots, cost.
    assert table(page, "project-table") == [
        ["Safety App", "3", "2", "3", "$5,000.00"],
        ["Garden", "2", "2", "4", "$3,000.00"],
        ["Tutoring", "2", "1", "3", "$4,000.00"],
    ]
    assert table(page, "area-table") == [
        ["Education", "6", "40.0%", "2"],
        ["Food security", "6", "40.0%", "2"],
        ["Place security", "3", "20.0%", "1"],
    ]
    assert table(page, "block-table") == [
        ["Block A", "3", "2", "67%"],
        ["Block B", "3", "3", "100%"],
    ]
    assert '<span class="big" id="responses-total">5</span>' in page
    assert "83%" in page and "of 6 eligible members answered" in page
    # The charts are pictures with words for screen readers, beside the tables.
    assert page.count('role="img"') == 3
    assert 'aria-label="Borda score: Safety App 3; Garden 2; Tutoring 2"' in page
    assert 'aria-label="Share of priority points: Education 40.0%; Food security 40.0%;' in page

    download = resident.get(csv_url)
    assert download.status_code == 200
    assert download.mimetype == "text/csv"
    assert download.headers["Content-Disposition"] == (
        f'attachment; filename="round-{r.id}-results.csv"'
    )
    figures = csv_figures(download.get_data(as_text=True))
    expected = {
        ("responses", "all", "responses"): 5,
        ("responses", "online", "responses"): 4,
        ("responses", "paper", "responses"): 1,
        ("responses", "imported", "responses"): 0,
        ("participation", "all", "eligible"): 6,
        ("participation", "all", "responses"): 5,
        ("participation", "Block A", "eligible"): 3,
        ("participation", "Block A", "responses"): 2,
        ("participation", "Block B", "responses"): 3,
        ("project", "Safety App", "borda"): 3,
        ("project", "Garden", "borda"): 2,
        ("project", "Tutoring", "borda"): 2,
        ("project", "Safety App", "first_choices"): 2,
        ("project", "Garden", "ballots"): 4,
        ("project", "Garden", "cost_cents"): 300_000,
        ("priority_area", "Food security", "borda"): 6,
        ("priority_area", "Education", "borda"): 6,
        ("priority_area", "Place security", "borda"): 3,
        ("priority_area", "Place security", "first_choices"): 1,
    }
    assert {k: figures[k] for k in expected} == expected


def test_cumulative_and_approval_results(app, make_client):
    """Cumulative: r1 gives Garden 6 and Safety 4, r2 Garden 2 and Tutoring 8: points
    Garden 8, Tutoring 8, Safety 4; ballots Garden 2, Tutoring 1, Safety 1. No roll: the
    10 resident accounts (organizer, 3 board, 6 residents) are the eligible members."""
    c, people = factories.community()
    organizer = people["organizer"][0]
    r = factories.open_round(c, organizer)
    services.update_ballot_settings(
        r, {"ballot_type": "cumulative", "points_total": 10}, actor=organizer
    )
    p = {x.title.split()[0]: x.id for x in r.projects}
    rankings = {a.id: n for n, a in enumerate(r.priority_areas, 1)}
    users = {u.email: u for u in db.session.scalars(select(User))}
    for email, votes in [
        ("r1@eastside.test", {p["Garden"]: 6, p["Safety"]: 4}),
        ("r2@eastside.test", {p["Garden"]: 2, p["Tutoring"]: 8, p["Safety"]: 0}),
    ]:
        services.submit_response(r, users[email], rankings=rankings, votes=votes)
    transition(r, RoundStatus.CLOSED, actor=organizer)
    db.session.commit()
    client = make_client()
    client.login("r3@eastside.test", factories.PASSWORD)
    page = client.get(f"/c/eastside/rounds/{r.id}/results").get_data(as_text=True)
    # Project, points, ballots, cost.
    assert table(page, "project-table") == [
        ["Garden", "8", "2", "$3,000.00"],
        ["Tutoring", "8", "1", "$4,000.00"],
        ["Safety App", "4", "1", "$5,000.00"],
    ]
    assert "20%" in page and "of 10 eligible members answered" in page
    assert 'id="block-table"' not in page
    figures = csv_figures(
        client.get(f"/c/eastside/rounds/{r.id}/results.csv").get_data(as_text=True)
    )
    assert figures[("project", "Garden", "points")] == 8
    assert figures[("project", "Safety App", "points")] == 4
    assert figures[("project", "Safety App", "ballots")] == 1
    assert figures[("participation", "all", "eligible")] == 10
    assert ("project", "Garden", "borda") not in figures
