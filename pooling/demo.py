"""`commonpot demo`: a believable neighbourhood cooperative, seeded through the real services.

It lives in pooling because pooling is the outermost package: it sees rounds, surveys and
money. Seeding is idempotent (an existing demo community is left as it is).
"""

from __future__ import annotations

import random
import sys
import unicodedata
from datetime import UTC, datetime, timedelta

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade
from sqlalchemy import select
from werkzeug.security import generate_password_hash
from werkzeug.serving import run_simple

from commonpot.extensions import db
from commonpot.models import Community, FundingRound, Role, RoundStatus, User
from commonpot.rounds import services as rounds
from surveys import eligibility
from surveys.services import submit_response

from . import allocation, approval, constraints, grants, issuing, pledge_tallies, pledges, treasury
from .hours import pledge_hours
from .models import Condition, Instrument, OverflowRule, PaymentMethod, PledgeState, TargetKind
from .terms import set_project_funding, set_terms

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
DESCRIPTIONS = {
    "Eastside Community Garden": "Forty raised beds, a tool shed and drip irrigation on the "
    "vacant lot behind the library; plots for families on the waiting list.",
    "Co-op Grocery Start-up Fund": "Fit-out, first stock and six months of rent for a "
    "member-owned grocery on Euclid Avenue, the neighborhood's first in twelve years.",
    "School Breakfast Club": "A hot breakfast every school day for 120 children at Chollas "
    "Elementary, cooked by parent volunteers.",
    "After-school Tutoring Circle": "Paid tutors from the community college for reading and "
    "math, four afternoons a week, free for every family.",
    "Neighborhood Safety App": "A resident-run app to report broken lights, dumping and "
    "unsafe crossings, with monthly reports to the city.",
    "Street Lights on Ocean View Walk": "Twelve solar street lights along the footpath to the "
    "trolley stop, where residents walk home after late shifts.",
    "Pocket Park on 32nd Street": "Benches, shade trees and a small play area on the "
    "city-owned corner lot, designed with the block association.",
    "Tool Library": "Ladders, drills and garden tools to borrow for free, run from the "
    "community center two evenings a week.",
    "Seniors' Lunch Table": "A weekly shared lunch for isolated seniors, with rides from "
    "volunteer drivers.",
    "Youth Soccer League Kits": "Kits, balls and referee fees for the neighborhood's four "
    "youth teams, so no child is kept out by cost.",
    "Community Fridge and Pantry": "A public fridge and pantry outside the laundromat, "
    "restocked daily by local shops and volunteers.",
    "Grocery Co-op Refrigeration": "Walk-in coolers and freezers so the co-op grocery can "
    "sell fresh produce, dairy and meat.",
    "Teaching Kitchen Classes": "Twelve weeks of cooking-on-a-budget classes in the church "
    "hall kitchen, taught by local cooks.",
    "School Breakfast Club, year two": "Keeps the breakfast club going for a second school "
    "year and adds Lincoln Middle School.",
    "Homework Help Hotline": "Evening phone and chat help with homework in English, Spanish "
    "and Vietnamese.",
    "Adult English Classes": "Two evening classes a week with childcare, for parents who "
    "want to talk with their children's teachers.",
    "Neighborhood Safety App, phase two": "Adds Spanish and Vietnamese, offline reporting and "
    "a public map of fixed problems.",
    "Safe Routes to School Crossing Guards": "Paid crossing guards at the three most "
    "dangerous intersections on the way to school.",
    "Tree Planting on Euclid Avenue": "Sixty street trees with three years of watering, "
    "chosen with residents for shade and low water use.",
    "Rain Garden at the Library": "A rain garden that stops the library corner from flooding "
    "and shows how to capture storm water.",
    "Teen Media Lab": "Cameras, laptops and a mentor for teenagers to report on their own "
    "neighborhood, in the rec center.",
    "Seniors' Digital Help Desk": "Volunteers help seniors with phones, telehealth and online "
    "forms, every Saturday at the library.",
}
FIRST = [
    "Ana",
    "Ben",
    "Carmen",
    "David",
    "Elena",
    "Farah",
    "George",
    "Hana",
    "Isaac",
    "Julia",
    "Kwame",
    "Leila",
    "Mateo",
    "Nora",
    "Omar",
    "Priya",
    "Quinn",
    "Rahul",
    "Sofia",
    "Tariq",
    "Uma",
    "Victor",
    "Wen",
    "Ximena",
    "Yusuf",
    "Zoe",
    "Aaliyah",
    "Bao",
    "Chidi",
    "Dolores",
]
LAST = [
    "Alvarez",
    "Bennett",
    "Castillo",
    "Dang",
    "Evans",
    "Flores",
    "Garcia",
    "Huang",
    "Ibarra",
    "Johnson",
    "Kim",
    "Lopez",
    "Mendoza",
    "Nguyen",
    "Okoro",
    "Patel",
    "Quintero",
    "Ramos",
    "Santos",
    "Thompson",
    "Usman",
    "Valdez",
    "Washington",
    "Xu",
    "Young",
    "Zamora",
]
RESIDENTS = 300


def _user(email: str, name: str, password_hash: str) -> User:
    user = User(email=email, name=name, password_hash=password_hash)
    db.session.add(user)
    return user


def lead_email(name: str) -> str:
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return ".".join(plain.replace("'", "").split()) + "@eastside.example"


def _leads(community, people: list[User], hashed: str) -> dict[str, User]:
    """Every project lead is a member (who signs their term sheet); one account per name."""
    known = {u.name: u for u in people}
    for name in sorted({lead for *_, lead, _ in PAST_PROJECTS + OPEN_PROJECTS}):
        if name not in known:
            known[name] = _user(lead_email(name), name, hashed)
            db.session.flush()
            rounds.grant_role(known[name], community, Role.RESIDENT, actor=None)
    return known


def _round(community, organizer, title, description, projects, opens, closes, rng, leads):
    r = rounds.create_round(
        community,
        title=title,
        description=description,
        priority_areas=AREAS,
        opens_at=opens,
        closes_at=closes,
        max_approvals=5,
        actor=organizer,
    )
    area = {a.name: a.id for a in r.priority_areas}
    for name, area_name, dollars, lead, _ in projects:
        rounds.add_project(
            r,
            title=name,
            description=DESCRIPTIONS[name],
            lead_name="",  # the member's own name is shown
            lead_id=leads[lead].id,
            cost_cents=dollars * 100,
            priority_area_id=area[area_name],
            actor=organizer,
        )
    set_terms(
        r,
        actor=organizer,
        accepts_donations=True,
        accepts_shares=True,
        accepts_loans=True,
        share_price_cents=50_00,
        loan_rate_bps=300,
        loan_term_months=36,
        min_pledge_cents=5_00,
        max_pledge_cents=5_000_00,
        resident_cap_cents=5_000_00,
    )
    grants.add_grant(
        r,
        name="Food Access Seed Grant",
        funder="Eastside Community Foundation",
        amount_cents=20_000_00,
        priority_area_id=area["Food security"],
        cap_per_project_cents=15_000_00,
        actor=organizer,
    )
    grants.add_grant(
        r,
        name="Neighborhood Seed Fund",
        funder="City of San Diego",
        amount_cents=25_000_00,
        priority_area_id=None,
        cap_per_project_cents=10_000_00,
        actor=organizer,
    )
    return r


def _participate(
    r: FundingRound, residents: list[User], popularity: dict[str, float], rng, share: float
) -> None:
    projects = {p.title: p.id for p in r.projects}
    areas = [a.id for a in r.priority_areas]
    for user in residents:
        if rng.random() > share:
            continue
        # Food security (listed first) leads most rankings, as it did at the assembly.
        order = sorted(areas, key=lambda a: rng.random() - (0.4 if a == areas[0] else 0.0))
        approvals = {pid for title, pid in projects.items() if rng.random() < popularity[title]}
        approvals = set(sorted(approvals)[:5]) or {rng.choice(list(projects.values()))}
        submit_response(r, user, rankings={a: i + 1 for i, a in enumerate(order)}, votes=approvals)
        if rng.random() < 0.7:
            _pledge(r, user, sorted(approvals), rng)


def _pledge(r: FundingRound, user: User, approved: list[int], rng) -> None:
    """Mostly small donations to the pot; some member shares, a few loans, some earmarks."""
    roll = rng.random()
    if roll < 0.7:
        kind = {"instrument": Instrument.DONATION}
        kind["amount_cents"] = rng.choice([25, 50, 50, 100, 100, 150, 250, 500]) * 100
    elif roll < 0.9:
        kind = {"instrument": Instrument.SHARES, "shares": rng.choice([1, 1, 2, 4])}
    else:
        kind = {
            "instrument": Instrument.LOAN,
            "amount_cents": rng.choice([500, 1_000, 2_000]) * 100,
        }
    target = rng.random()
    if target < 0.3:
        where = {
            "target": TargetKind.PROJECT,
            "project_ids": [rng.choice(approved)],
            "condition": Condition.ALL_OR_NOTHING if rng.random() < 0.5 else Condition.KEEP_IT_ALL,
        }
    elif target < 0.36 and len(approved) >= 2:
        where = {"target": TargetKind.PROJECTS, "project_ids": approved[:2]}
    else:
        where = {"target": TargetKind.POT}
    pledge = pledges.make_pledge(r, user, **kind, **where)
    if rng.random() < 0.92:  # a few residents have not confirmed yet
        pledges.confirm_pledge(pledge, user)


def _collect(r: FundingRound, organizer: User, rng, share: float) -> None:
    """The treasurer's records: most confirmed keep-it-all pledges (or called-in ones) paid."""
    for pledge in pledge_tallies.all_pledges(r):
        if pledge.state != PledgeState.CONFIRMED or rng.random() > share:
            continue
        if r.status == RoundStatus.OPEN and pledge.condition == Condition.ALL_OR_NOTHING:
            continue
        if r.status == RoundStatus.APPROVED and not pledge.called_cents:
            continue
        method = rng.choice(list(PaymentMethod))
        treasury.collect_pledge(
            pledge,
            method=method,
            reference=f"{method.value[:2].upper()}-{pledge.id:05d}",
            actor=organizer,
        )


BLOCKS = ["Euclid Ave North", "Euclid Ave South", "Chollas View", "Oak Park", "Ocean View Hills"]
UNCLAIMED = 40


def _member_roll(community, organizer, members: list[User], rng) -> None:
    """The cooperative's roll: every demo account has claimed its line; 40 members have not
    yet (an organizer prints their access codes under Member roll)."""
    lines = ["name,address or block,member number,birth year"]
    people = [m.name for m in members] + [
        f"{FIRST[(i * 11) % len(FIRST)]} {LAST[(i * 5 + 3) % len(LAST)]}" for i in range(UNCLAIMED)
    ]
    for number, name in enumerate(people, 1):
        lines.append(f"{name},{rng.choice(BLOCKS)},E-{number:04d},{rng.randint(1938, 2009)}")
    eligibility.import_roll(community, "\n".join(lines).encode(), actor=organizer)
    roll = {m.member_number: m for m in eligibility.roll_of(community)}
    for number, user in enumerate(members, 1):
        member = roll[f"E-{number:04d}"]
        eligibility.claim_by_matching(
            community,
            user,
            member_number=member.member_number,
            name=member.name,
            birth_year=member.birth_year,
        )


def seed() -> bool:
    """Seed the demo community; False when it already exists."""
    if db.session.scalar(select(Community).where(Community.slug == SLUG)):
        return False
    rng = random.Random(2026)
    hashed = generate_password_hash(PASSWORD)  # one hash for every demo account: seeding stays fast
    organizer = _user("organizer@eastside.example", "Rosa Martínez", hashed)
    board = [
        _user(f"board{i}@eastside.example", name, hashed)
        for i, name in enumerate(["Samuel Okafor", "Lin Chen", "Patricia Gómez"], 1)
    ]
    residents = [
        _user(
            f"resident{i:03d}@eastside.example",
            f"{FIRST[i % len(FIRST)]} {LAST[(i * 7) % len(LAST)]}",
            hashed,
        )
        for i in range(1, RESIDENTS + 1)
    ]
    db.session.flush()
    community = rounds.create_community(
        "Eastside Commons Cooperative", SLUG, timezone="America/Los_Angeles", quorum=2
    )
    rounds.grant_role(organizer, community, Role.ORGANIZER, actor=None)
    for user in [organizer, *board, *residents]:
        rounds.grant_role(user, community, Role.RESIDENT, actor=organizer)
    for user in board:
        rounds.grant_role(user, community, Role.BOARD, actor=organizer)
    db.session.flush()
    _member_roll(community, organizer, [organizer, *board, *residents], rng)
    leads = _leads(community, [organizer, *board, *residents], hashed)

    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    past = _round(
        community,
        organizer,
        "Spring 2026: food and safety first",
        "Our first round: the assembly asked for food security and safer streets.",
        PAST_PROJECTS,
        now - timedelta(days=200),
        now - timedelta(days=170),
        rng,
        leads,
    )
    rounds.transition(past, RoundStatus.OPEN, actor=organizer)
    _participate(past, residents, {t: p for t, *_, p in PAST_PROJECTS}, rng, share=0.8)
    _collect(past, organizer, rng, share=0.8)
    rounds.transition(past, RoundStatus.CLOSED, actor=organizer)
    past.opened_at, past.closed_at = past.opens_at, past.closes_at  # it ran last spring
    run = allocation.run_allocation(past, "max-welfare", actor=organizer)
    issuing.generate_documents(past, actor=organizer)
    for member in board[:2]:
        issuing.sign_round(past, member)  # the second signature approves: pledges called in
    for sheet in issuing.documents_of(past):
        if sheet.lead is not None:
            approval.accept_terms(sheet, sheet.lead)  # each lead accepts their term sheet
    _collect(past, organizer, rng, share=0.9)
    funded = [o.project for o in run.outcomes if o.funded]
    for project in sorted(funded, key=lambda p: p.id)[:2]:  # the first two are paid out
        treasury.disburse_project(project, reference="first tranche", actor=organizer)

    autumn = _round(
        community,
        organizer,
        "Autumn 2026: growing together",
        "Twelve projects proposed at the October assembly. Rank the priorities, "
        "approve up to five projects, and pledge what you can.",
        OPEN_PROJECTS,
        now - timedelta(days=7),
        now + timedelta(days=21),
        rng,
        leads,
    )
    grants.add_grant(
        autumn,
        name="Neighbor Match",
        funder="Cal Community Credit Union",
        amount_cents=15_000_00,
        priority_area_id=None,
        cap_per_project_cents=5_000_00,
        match_percent=100,
        expires_on=(now + timedelta(days=90)).date(),
        actor=organizer,
    )
    rounds.transition(autumn, RoundStatus.OPEN, actor=organizer)
    # The first residents have not answered yet, so a visitor can try the survey as them.
    _participate(autumn, residents[10:], {t: p for t, *_, p in OPEN_PROJECTS}, rng, share=0.55)
    _collect(autumn, organizer, rng, share=0.4)
    _constraints(autumn, organizer, residents[10:], rng)
    return True


def _constraints(r: FundingRound, organizer: User, residents: list[User], rng) -> None:
    """What the assembly asked of the open round's allocation, and volunteers' hours."""
    project = {p.title: p for p in r.projects}
    area = {a.name: a.id for a in r.priority_areas}
    shares = {a.id: (None, None) for a in r.priority_areas}
    shares[area["Food security"]] = (2_000, None)  # at least 20% for the top priority
    shares[area["Place security"]] = (None, 3_000)  # at most 30%
    constraints.set_area_shares(r, shares, actor=organizer)
    constraints.set_min_support(r, 15, actor=organizer)
    constraints.add_dependency(
        r,
        project["Teaching Kitchen Classes"].id,
        project["Community Fridge and Pantry"].id,
        actor=organizer,
    )
    constraints.add_incompatible(  # one city planting crew this autumn
        r,
        [project["Tree Planting on Euclid Avenue"].id, project["Rain Garden at the Library"].id],
        actor=organizer,
    )
    for title, needed in (("Seniors' Digital Help Desk", 60), ("Homework Help Hotline", 120)):
        set_project_funding(
            project[title],
            actor=organizer,
            min_cents=None,
            optimum_cents=None,
            max_cents=None,
            overflow=OverflowRule.REFUSE,
            hours_needed=needed,
        )
    for user in residents[:24]:
        title = rng.choice(["Seniors' Digital Help Desk", "Homework Help Hotline"])
        pledge_hours(r, user, project[title], hours=rng.choice([2, 4, 4, 6, 8]))


LOGINS = f"""
Demo logins (password for every account: {PASSWORD})
  organizer      organizer@eastside.example
  board members  board1@eastside.example, board2@eastside.example, board3@eastside.example
  project lead   amara.diallo@eastside.example (and one account per lead named on a project)
  residents      resident001@eastside.example ... resident{RESIDENTS:03d}@eastside.example
                 (resident001-010 have not answered the open round yet)
The member roll has {UNCLAIMED} members who have not claimed their line yet: print their
access codes under "Member roll" and claim one at /c/{SLUG}/join.
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
    click.echo(
        "Seeded the demo cooperative." if created else "The demo cooperative is there.", err=True
    )
    click.echo(LOGINS)
    if not no_serve:
        click.echo(f"Serving on http://{host}:{port}/ (Ctrl-C stops)", err=True)
        sys.stdout.flush()
        # app.run() refuses to run inside a `flask` CLI command; the server it wraps does not.
        run_simple(host, port, current_app._get_current_object(), threaded=True)
