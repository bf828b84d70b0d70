"""Test data made through the real services, so tests exercise what users do."""

from __future__ import annotations

from werkzeug.security import generate_password_hash

from commonpot.extensions import db
from commonpot.models import Community, Role, User
from commonpot.rounds import services as rounds

PASSWORD = "correct horse battery"
_HASH = generate_password_hash(PASSWORD)  # computed once: hashing is slow on purpose


def user(email: str, name: str | None = None) -> User:
    account = User(
        email=email, name=name or email.split("@")[0].replace(".", " ").title(), password_hash=_HASH
    )
    db.session.add(account)
    db.session.flush()
    return account


def community(
    slug: str = "eastside", *, board: int = 3, residents: int = 6, quorum: int = 2
) -> tuple[Community, dict[str, list[User]]]:
    """A cooperative with an organizer, board members and residents (all members)."""
    c = rounds.create_community(f"{slug.title()} Cooperative", slug, quorum=quorum)
    people = {
        "organizer": [user(f"organizer@{slug}.test", "Olga Organizer")],
        "board": [user(f"board{i}@{slug}.test", f"Board Member {i}") for i in range(1, board + 1)],
        "residents": [user(f"r{i}@{slug}.test", f"Resident {i}") for i in range(1, residents + 1)],
    }
    rounds.grant_role(people["organizer"][0], c, Role.ORGANIZER, actor=None)
    for group in people.values():
        for member in group:
            rounds.grant_role(member, c, Role.RESIDENT, actor=None)
    for member in people["board"]:
        rounds.grant_role(member, c, Role.BOARD, actor=None)
    db.session.commit()
    return c, people


def open_round(
    c: Community,
    organizer: User,
    projects=(("Garden", 0, 300_000), ("Tutoring", 1, 400_000), ("Safety App", 2, 500_000)),
    max_approvals: int | None = None,
    title: str = "Test round",
):
    """A round with three priority areas and the given projects, opened."""
    from commonpot.models import RoundStatus

    r = rounds.create_round(
        c,
        title=title,
        description="",
        opens_at=None,
        closes_at=None,
        max_approvals=max_approvals,
        actor=organizer,
        priority_areas=["Food security", "Education", "Place security"],
    )
    for name, area, cost in projects:
        rounds.add_project(
            r,
            title=name,
            description="",
            cost_cents=cost,
            lead_name="",
            priority_area_id=r.priority_areas[area].id,
            actor=organizer,
        )
    rounds.transition(r, RoundStatus.OPEN, actor=organizer)
    db.session.commit()
    return r


def voted_round(
    c: Community,
    people: dict[str, list[User]],
    projects,
    ballots: list[set[int]],
    *,
    pot_cents: int,
    close: bool = True,
):
    """An open round (projects as for `open_round`) where residents 1, 2, ... approve the
    projects at the given positions, resident 1 gives `pot_cents` to the common pot, and
    (by default) the round is closed."""
    from commonpot.models import RoundStatus
    from pooling.pledges import confirm_pledge, make_pledge
    from surveys.services import submit_response

    organizer = people["organizer"][0]
    r = open_round(c, organizer, projects=projects)
    ranks = {a.id: i for i, a in enumerate(r.priority_areas, 1)}
    for voter, picks in zip(people["residents"], ballots, strict=False):
        submit_response(r, voter, rankings=ranks, votes={r.projects[i].id for i in picks})
    donor = people["residents"][0]
    confirm_pledge(make_pledge(r, donor, amount_cents=pot_cents), donor)
    if close:
        rounds.transition(r, RoundStatus.CLOSED, actor=organizer)
    db.session.commit()
    return r
