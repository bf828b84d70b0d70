"""Who may answer: the member roll, single-use access codes, claiming membership.

A community without a roll lets every resident account answer (accounts are invited by
organizers). Once a roll exists, a resident must have claimed a line of it — with an
access code from the door-knocking sheet, or by matching their member number, name and
(when the roll has it) birth year — and a round's minimum age is checked against it.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import unicodedata
from dataclasses import dataclass

from sqlalchemy import and_, bindparam, func, literal, select
from werkzeug.security import generate_password_hash

from commonpot.audit import record
from commonpot.codes import receipt_code
from commonpot.errors import ValidationFailed
from commonpot.extensions import db
from commonpot.models import Community, FundingRound, Role, User, utcnow
from commonpot.rounds.services import grant_role

from .models import RollMember

COLUMNS = {  # accepted header spellings -> field
    "name": "name",
    "full name": "name",
    "address": "block",
    "block": "block",
    "address or block": "block",
    "member number": "member_number",
    "member_number": "member_number",
    "member no": "member_number",
    "member #": "member_number",
    "number": "member_number",
    "birth year": "birth_year",
    "birth_year": "birth_year",
    "year of birth": "birth_year",
}
REQUIRED = ("name", "member_number")
MAX_ROWS = 50_000


@dataclass(frozen=True)
class RollRow:
    line: int
    member_number: str
    name: str
    block: str
    birth_year: int | None


@dataclass(frozen=True)
class RollImport:
    added: int
    updated: int


def _key(value: str) -> str:
    """Compare names and numbers as people type them: case, accents and spaces aside."""
    folded = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return " ".join(folded.lower().split())


def parse_roll(data: bytes) -> list[RollRow]:
    """Rows of a roll CSV; ValidationFailed lists every bad line (nothing is saved then)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed(
            [("file", "Save the roll as UTF-8 CSV and upload it again.")]
        ) from None
    if "\x00" in text:  # no database text holds one, and no spreadsheet writes one
        line = text[: text.index("\x00")].count("\n") + 1
        raise ValidationFailed(
            [("file", f"Line {line}: a NUL character. Save the roll as UTF-8 CSV text.")]
        )
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header = next(reader, None)
    if not header:
        raise ValidationFailed([("file", "The file is empty.")])
    fields = [COLUMNS.get(_key(h)) for h in header]
    missing = [f for f in REQUIRED if f not in fields]
    if missing:
        names = " and ".join(f.replace("_", " ") for f in missing)
        raise ValidationFailed(
            [
                (
                    "file",
                    f"Line 1: the header has no {names} column "
                    "(expected name, address or block, member number, "
                    "birth year).",
                )
            ]
        )
    rows: list[RollRow] = []
    errors: list[tuple[str | None, str]] = []
    seen: dict[str, int] = {}
    this_year = utcnow().year
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        cells = {f: v.strip() for f, v in zip(fields, values, strict=False) if f}
        problems = []
        if not cells.get("name"):
            problems.append("the name is empty")
        number = cells.get("member_number", "")
        if not number:
            problems.append("the member number is empty")
        elif _key(number) in seen:
            problems.append(f"member number {number} is already on line {seen[_key(number)]}")
        birth = cells.get("birth_year", "")
        year = None
        if birth:
            if not birth.isdigit() or not 1880 <= int(birth) <= this_year:
                problems.append(f"the birth year '{birth}' is not a year")
            else:
                year = int(birth)
        if problems:
            errors.append(("file", f"Line {line}: " + "; ".join(problems) + "."))
            continue
        seen[_key(number)] = line
        rows.append(RollRow(line, number, cells["name"], cells.get("block", ""), year))
        if len(rows) > MAX_ROWS:
            raise ValidationFailed([("file", f"The roll has more than {MAX_ROWS:,} rows.")])
    if errors:
        raise ValidationFailed(errors)
    if not rows:
        raise ValidationFailed([("file", "The file has a header but no members.")])
    return rows


def import_roll(community: Community, data: bytes, *, actor: User) -> RollImport:
    """Add new members and update known ones (by member number); claims are kept."""
    rows = parse_roll(data)
    known = {
        _key(m.member_number): m
        for m in db.session.scalars(
            select(RollMember).where(RollMember.community_id == community.id)
        )
    }
    added = updated = 0
    for row in rows:
        member = known.get(_key(row.member_number))
        if member is None:
            db.session.add(
                RollMember(
                    community_id=community.id,
                    member_number=row.member_number,
                    name=row.name,
                    block=row.block,
                    birth_year=row.birth_year,
                )
            )
            added += 1
        elif (member.name, member.block, member.birth_year) != (
            row.name,
            row.block,
            row.birth_year,
        ):
            member.name, member.block, member.birth_year = row.name, row.block, row.birth_year
            updated += 1
    db.session.flush()
    record(
        "roll.imported",
        f"community:{community.id}",
        community_id=community.id,
        actor_id=actor.id,
        added=added,
        updated=updated,
        rows=len(rows),
    )
    return RollImport(added, updated)


def has_roll(community_id: int) -> bool:
    return (
        db.session.scalar(
            select(RollMember.id).where(RollMember.community_id == community_id).limit(1)
        )
        is not None
    )


def roll_of(community: Community) -> list[RollMember]:
    return list(
        db.session.scalars(
            select(RollMember)
            .where(RollMember.community_id == community.id)
            .order_by(RollMember.block, RollMember.name)
        )
    )


def _hash(code: str) -> str:
    return hashlib.sha256(_key(code).replace(" ", "").replace("-", "").encode()).hexdigest()


def issue_access_codes(
    community: Community, *, actor: User, member_ids: list[int] | None = None
) -> list[tuple[RollMember, str]]:
    """New single-use codes for unclaimed members; only their hashes are kept."""
    query = select(RollMember).where(
        RollMember.community_id == community.id, RollMember.user_id.is_(None)
    )
    if member_ids is not None:
        query = query.where(RollMember.id.in_(member_ids))
    issued = []
    for member in db.session.scalars(query.order_by(RollMember.block, RollMember.name)):
        code = receipt_code(10)
        member.access_code_hash = _hash(code)
        issued.append((member, f"{code[:5]}-{code[5:]}"))
    db.session.flush()
    record(
        "roll.codes_issued",
        f"community:{community.id}",
        community_id=community.id,
        actor_id=actor.id,
        count=len(issued),
    )
    return issued


def _claim(member: RollMember, user: User, how: str) -> RollMember:
    existing = db.session.scalar(
        select(RollMember).where(
            RollMember.community_id == member.community_id, RollMember.user_id == user.id
        )
    )
    if existing is not None and existing.id != member.id:
        raise ValidationFailed(
            [
                (
                    None,
                    "Your account already holds a membership here "
                    f"(member {existing.member_number}).",
                )
            ]
        )
    member.user_id = user.id
    member.claimed_at = utcnow()
    member.access_code_hash = None  # single use
    grant_role(user, member.community, Role.RESIDENT, actor=user)
    db.session.flush()
    record(
        "roll.claimed",
        f"roll_member:{member.id}",
        community_id=member.community_id,
        actor_id=user.id,
        how=how,
    )
    return member


def claim_with_code(community: Community, user: User, code: str) -> RollMember:
    member = db.session.scalar(
        select(RollMember)
        .where(RollMember.community_id == community.id, RollMember.access_code_hash == _hash(code))
        .with_for_update()
    )
    if member is None or member.user_id is not None:
        raise ValidationFailed([("code", "This code is not valid, or it was already used.")])
    return _claim(member, user, "access code")


def claim_by_matching(
    community: Community, user: User, *, member_number: str, name: str, birth_year: int | None
) -> RollMember:
    member = db.session.scalar(
        select(RollMember)
        .where(
            RollMember.community_id == community.id,
            func.lower(RollMember.member_number) == member_number.strip().lower(),
        )
        .with_for_update()
    )
    mismatch = ValidationFailed(
        [
            (
                None,
                "No unclaimed member matches these details. Check "
                "them against your membership card, or ask an "
                "organizer for an access code.",
            )
        ]
    )
    if member is None or member.user_id is not None or _key(member.name) != _key(name):
        raise mismatch
    if member.birth_year is not None and member.birth_year != birth_year:
        raise mismatch
    return _claim(member, user, "roll match")


def new_account(*, name: str, email: str, password: str) -> User:
    from commonpot.auth.services import MIN_PASSWORD, find_user

    if find_user(email):
        raise ValidationFailed(
            [
                (
                    "email",
                    "An account with this email exists: sign in first, then claim your membership.",
                )
            ]
        )
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed([("password", f"Use at least {MIN_PASSWORD} characters.")])
    user = User(
        email=email.strip().lower(),
        name=name.strip(),
        password_hash=generate_password_hash(password),
    )
    db.session.add(user)
    db.session.flush()
    record("user.registered", f"user:{user.id}", actor_id=user.id)
    return user


@functools.cache
def _voter_line():
    """The voter's roll line (or None) and whether the community has a roll at all, in one
    query; built once (parameters community_id, user_id)."""
    community_id = bindparam("community_id")
    roll_exists = select(RollMember.id).where(RollMember.community_id == community_id).exists()
    one = select(literal(1).label("one")).subquery()
    return (
        select(RollMember, roll_exists.label("has_roll"))
        .select_from(one)
        .outerjoin(
            RollMember,
            and_(
                RollMember.community_id == community_id,
                RollMember.user_id == bindparam("user_id"),
            ),
        )
    )


def voter_member(funding_round: FundingRound, user: User) -> RollMember | None:
    """The roll line an online voter answers as; ValidationFailed when they may not answer.

    No roll: any resident may answer (None). With a roll: only a resident who claimed a
    line, old enough for the round's minimum age — counted by birth year, so whoever
    reaches the age this calendar year may answer (the roll holds years, not dates).
    """
    community_id = funding_round.community_id
    if not user.has_role(community_id, Role.RESIDENT):
        raise ValidationFailed([(None, "Only members of this community can answer.")])
    member, rolled = db.session.execute(
        _voter_line(), {"community_id": community_id, "user_id": user.id}
    ).one()
    if member is None and (rolled or funding_round.min_age):
        raise ValidationFailed(
            [
                (
                    None,
                    "Claim your membership first (with your access code "
                    "or your member number) to answer this survey.",
                )
            ]
        )
    if funding_round.min_age and member is not None:
        if member.birth_year is None:
            raise ValidationFailed(
                [
                    (
                        None,
                        "This survey has a minimum age, and your membership "
                        "record has no birth year: ask an organizer.",
                    )
                ]
            )
        if utcnow().year - member.birth_year < funding_round.min_age:
            raise ValidationFailed(
                [(None, f"This survey is for members aged {funding_round.min_age} and over.")]
            )
    return member


def find_member(community: Community, member_number: str) -> RollMember | None:
    return db.session.scalar(
        select(RollMember).where(
            RollMember.community_id == community.id,
            func.lower(RollMember.member_number) == member_number.strip().lower(),
        )
    )
