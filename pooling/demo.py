"""`commonpot demo`: a believable neighbourhood cooperative, seeded through the real services.

It lives in pooling because pooling is the outermost package: it sees rounds, surveys and
money. Seeding is idempotent (an existing demo community is left as it is).
"""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime, timedelta

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from commonpot.extensions import db
from commonpot.models import Community, FundingRound, Role, RoundStatus, User
from commonpot.rounds import services as rounds
from surveys.services import submit_response

from . import allocation, issuing, pledges

SLUG = "eastside"
PASSWORD = "commonpot-demo"
AREAS = ["Food security", "Place security", "Education", "Green spaces", "Youth and seniors"]

PAST_PROJECTS = [  # title, area, cost in dollars, lead, popularity
    ("Eastside Community Garden", "Food security", 18_000, "Amara Diallo", 0.62),
    ("Co-op Grocery Start-up Fund", "Food security", 60_000, "Rosa Martínez", 0.55),
    ("School Breakfast Club", "Education", 12_000, "Daniel Park", 0.58),
    ("After-school Tutoring Circle", "Education", 15_000, "Grace Liu", 0.47),
    ("Neighborhood Safety App", "Place security", 22_000, "Marcus Reed", 0.31),
    ("Street Lights on Ocean View Walk", "Place security", 27_000, "Helen Brooks", 0.44),
    ("Pocket Park on 32nd Street", "Green spaces", 35_000, "Tomás Rivera", 0.36),
    ("Tool Library", "Place security", 6_000, "Ibrahim Yusuf", 0.29),
    ("Seniors' Lunch Table", "Youth and seniors", 9_000, "Margaret O'Neill", 0.41),
    ("Youth Soccer League Kits", "Youth and seniors", 7_500, "Carlos Vega", 0.33),
]
OPEN_PROJECTS = [
    ("Community Fridge and Pantry", "Food security", 8_500, "Amara Diallo", 0.57),
    ("Grocery Co-op Refrigeration", "Food security", 42_000, "Rosa Martínez", 0.49),
    ("Teaching Kitchen Classes", "Food security", 11_000, "Nadia Haddad", 0.38),
    ("School Breakfast Club, year two", "Education", 13_000, "Daniel Park", 0.52),
    ("Homework Help Hotline", "Education", 9_500, "Grace Liu", 0.35),
    ("Adult English Classes", "Education", 16_000, "Minh Tran", 0.40),
    ("Neighborhood Safety App, phase two", "Place security", 19_000, "Marcus Reed", 0.27),
    ("Safe Routes to School Crossing Guards", "Place security", 24_000, "Helen Brooks", 0.46),
    ("Tree Planting on Euclid Avenue", "Green spaces", 14_000, "Tomás Rivera", 0.43),
    ("Rain Garden at the Library", "Green spaces", 21_000, "Keiko Sato", 0.25),
    ("Teen Media Lab", "Youth and seniors", 17_500, "Jamal Carter", 0.34),
    ("Seniors' Digital Help Desk", "Youth and seniors", 6_500, "Margaret O'Neill", 0.37),
]
FIRST = ["Ana", "Ben", "Carmen", "David", "Elena", "Farah", "George", "Hana", "Isaac", "Julia",
         "Kwame", "Leila", "Mateo", "Nora", "Omar", "Priya", "Quinn", "Rahul", "Sofia", "Tariq",
         "Uma", "Victor", "Wen", "Ximena", "Yusuf", "Zoe", "Aaliyah", "Bao", "Chidi", "Dolores"]
LAST = ["Alvarez", "Bennett", "Castillo", "Dang", "Evans", "Flores", "Garcia", "Huang", "Ibarra",
        "Johnson", "Kim", "Lopez", "Mendoza", "Nguyen", "Okoro", "Patel", "Quintero", "Ramos",
        "Santos", "Thompson", "Usman", "Valdez", "Washington", "Xu", "Young", "Zamora"]
RESIDENTS = 300


def _user(email: str, name: str, password_hash: str) -> User:
    user = User(email=email, name=name, password_hash=password_hash)
    db.session.add(user)
    return user


def _round(community, organizer, title, description, projects, opens, closes, rng):
    r = rounds.create_round(community, title=title, description=description,
                            priority_areas=AREAS, opens_at=opens, closes_at=closes,
                            max_approvals=5, actor=organizer)
    area = {a.name: a.id for a in r.priority_areas}
    for name, area_name, dollars, lead, _ in projects:
        rounds.add_project(r, title=name, description=_blurb(name, area_name), lead_name=lead,
                           cost_cents=dollars * 100, priority_area_id=area[area_name],
                           actor=organizer)
    pledges.add_grant(r, name="Food Access Seed Grant", funder="Eastside Community Foundation",
                      amount_cents=20_000_00, priority_area_id=area["Food security"],
                      cap_per_project_cents=15_000_00, actor=organizer)
    pledges.add_grant(r, name="Neighborhood Seed Fund", funder="City of San Diego",
                      amount_cents=25_000_00, priority_area_id=None,
                      cap_per_project_cents=10_000_00, actor=organizer)
    return r


def _blurb(title: str, area: str) -> str:
    return (f"{title}: a resident-led project in {area.lower()}, proposed at the neighborhood "
            "assembly and costed with local suppliers.")


def _participate(r: FundingRound, residents: list[User], popularity: dict[str, float], rng,
                 share: float) -> None:
    projects = {p.title: p.id for p in r.projects}
    areas = [a.id for a in r.priority_areas]
    for user in residents:
        if rng.random() > share:
            continue
        order = sorted(areas, key=lambda a: rng.random() + (0.4 if a == areas[0] else 0) * -1)
        approvals = {pid for title, pid in projects.items() if rng.random() < popularity[title]}
        approvals = set(sorted(approvals)[:5]) or {rng.choice(list(projects.values()))}
        submit_response(r, user, rankings={a: i + 1 for i, a in enumerate(order)},
                        approvals=approvals)
        if rng.random() < 0.7:
            cents = rng.choice([25, 50, 50, 100, 100, 150, 250, 500]) * 100
            target = rng.choice(sorted(approvals)) if rng.random() < 0.3 else None
            pledges.make_pledge(r, user, amount_cents=cents, project_id=target)


def seed() -> bool:
    """Seed the demo community; False when it already exists."""
    if db.session.scalar(select(Community).where(Community.slug == SLUG)):
        return False
    rng = random.Random(2026)
    hashed = generate_password_hash(PASSWORD)  # one hash for every demo account: seeding stays fast
    organizer = _user("organizer@eastside.example", "Rosa Martínez", hashed)
    board = [_user(f"board{i}@eastside.example", name, hashed)
             for i, name in enumerate(["Samuel Okafor", "Lin Chen", "Patricia Gómez"], 1)]
    residents = [_user(f"resident{i:03d}@eastside.example",
                       f"{FIRST[i % len(FIRST)]} {LAST[(i * 7) % len(LAST)]}", hashed)
                 for i in range(1, RESIDENTS + 1)]
    db.session.flush()
    community = rounds.create_community("Eastside Commons Cooperative", SLUG,
                                        timezone="America/Los_Angeles", quorum=2)
    rounds.grant_role(organizer, community, Role.ORGANIZER, actor=None)
    for user in [organizer, *board, *residents]:
        rounds.grant_role(user, community, Role.RESIDENT, actor=organizer)
    for user in board:
        rounds.grant_role(user, community, Role.BOARD, actor=organizer)
    db.session.flush()

    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    past = _round(community, organizer, "Spring 2026: food and safety first",
                  "Our first round: the assembly asked for food security and safer streets.",
                  PAST_PROJECTS, now - timedelta(days=200), now - timedelta(days=170), rng)
    rounds.transition(past, RoundStatus.OPEN, actor=organizer)
    _participate(past, residents, {t: p for t, *_, p in PAST_PROJECTS}, rng, share=0.8)
    rounds.transition(past, RoundStatus.CLOSED, actor=organizer)
    allocation.run_allocation(past, "max-welfare", actor=organizer)
    issuing.generate_documents(past, actor=organizer)
    for member in board[:2]:
        issuing.sign_round(past, member)

    autumn = _round(community, organizer, "Autumn 2026: growing together",
                    "Twelve projects proposed at the October assembly. Rank the priorities, "
                    "approve up to five projects, and pledge what you can.",
                    OPEN_PROJECTS, now - timedelta(days=7), now + timedelta(days=21), rng)
    rounds.transition(autumn, RoundStatus.OPEN, actor=organizer)
    # The first residents have not answered yet, so a visitor can try the survey as them.
    _participate(autumn, residents[10:], {t: p for t, *_, p in OPEN_PROJECTS}, rng, share=0.55)
    return True


LOGINS = f"""
Demo logins (password for every account: {PASSWORD})
  organizer      organizer@eastside.example
  board members  board1@eastside.example, board2@eastside.example, board3@eastside.example
  residents      resident001@eastside.example ... resident{RESIDENTS:03d}@eastside.example
                 (resident001-010 have not answered the open round yet)
"""


@click.command("demo")
@click.option("--no-serve", is_flag=True, help="Seed only; do not start the web server.")
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--host", default="127.0.0.1", show_default=True)
@with_appcontext
def demo_command(no_serve: bool, port: int, host: str) -> None:
    """Migrate the database, seed the demo cooperative (once), and serve it."""
    upgrade()
    try:
        created = seed()
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    click.echo("Seeded the demo cooperative." if created else "The demo cooperative is there.",
               err=True)
    click.echo(LOGINS)
    if not no_serve:
        click.echo(f"Serving on http://{host}:{port}/ (Ctrl-C stops)", err=True)
        sys.stdout.flush()
        current_app.run(host=host, port=port, use_reloader=False, debug=False)
