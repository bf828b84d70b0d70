"""Residents' pledges: making, confirming, cancelling and reconfirming them, within the
round's terms and limits. What happens to the money afterwards is in `treasury`."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from commonpot.audit import record
from commonpot.codes import receipt_code
from commonpot.errors import IllegalTransition, ValidationFailed
from commonpot.extensions import db
from commonpot.models import FundingRound, Membership, Project, Role, RoundStatus, User, utcnow
from commonpot.money import format_cents

from . import ledger
from .ledger import Account
from .models import (
    OPEN_STATES,
    Condition,
    Instrument,
    OverflowRule,
    Pledge,
    PledgeState,
    PledgeTarget,
    TargetKind,
)
from .notices import notify
from .pledge_tallies import live_total, project_pledged
from .terms import funding_of, terms_of

MAX_PLEDGE_CENTS = 10_000_000  # $100,000: a neighbourhood pledge, not an investment fund
CANCEL_WINDOW = timedelta(hours=48)


def money(funding_round: FundingRound, cents: int) -> str:
    return format_cents(cents, funding_round.community.currency)


def target_key(target: TargetKind, project_ids: list[int], priority_area_id: int | None) -> str:
    if target == TargetKind.POT:
        return "pot"
    if target == TargetKind.AREA:
        return f"area:{priority_area_id}"
    if target == TargetKind.PROJECT:
        return f"project:{project_ids[0]}"
    return "projects:" + ",".join(str(p) for p in sorted(project_ids))


def _check_target(
    funding_round: FundingRound,
    target: TargetKind,
    project_ids: list[int],
    priority_area_id: int | None,
) -> list[int]:
    round_projects = {p.id for p in funding_round.projects}
    project_ids = sorted(set(project_ids))
    if target == TargetKind.AREA:
        if priority_area_id not in {a.id for a in funding_round.priority_areas}:
            raise ValidationFailed(
                [("priority_area", "Choose one of this round's priority areas.")]
            )
        return []
    if target == TargetKind.POT:
        return []
    if not project_ids or not set(project_ids) <= round_projects:
        raise ValidationFailed([("projects", "Choose projects of this round.")])
    if target == TargetKind.PROJECT and len(project_ids) != 1:
        raise ValidationFailed([("projects", "Choose one project.")])
    if target == TargetKind.PROJECTS and len(project_ids) < 2:
        raise ValidationFailed(
            [("projects", "Choose at least two projects, or pledge to one project.")]
        )
    return project_ids


def lock_member(funding_round: FundingRound, user: User) -> None:
    """Serialise one resident's pledges (and hours offers) so the per-resident cap holds
    under concurrency."""
    db.session.execute(
        select(Membership.id)
        .where(
            Membership.user_id == user.id,
            Membership.community_id == funding_round.community_id,
            Membership.role == Role.RESIDENT,
        )
        .with_for_update()
    ).all()


def _find_open(
    funding_round: FundingRound, user: User, instrument: Instrument, key: str
) -> Pledge | None:
    return db.session.scalar(
        select(Pledge)
        .where(
            Pledge.round_id == funding_round.id,
            Pledge.user_id == user.id,
            Pledge.instrument == instrument,
            Pledge.target_key == key,
            Pledge.state.in_(OPEN_STATES),
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def make_pledge(
    funding_round: FundingRound,
    user: User,
    *,
    instrument: Instrument = Instrument.DONATION,
    amount_cents: int | None = None,
    shares: int | None = None,
    target: TargetKind = TargetKind.POT,
    project_ids: list[int] | None = None,
    priority_area_id: int | None = None,
    condition: Condition = Condition.KEEP_IT_ALL,
) -> Pledge:
    """Make a pledge (state pledged: it counts once confirmed), or change an unconfirmed one.

    The same instrument and target again is the same pledge: a double click, a retried
    request or a second tab change nothing or change the amount, never add a pledge.
    """
    if funding_round.status != RoundStatus.OPEN:
        raise IllegalTransition("Pledges can only be made while the round is open.")
    if not user.has_role(funding_round.community_id, Role.RESIDENT):
        raise ValidationFailed([(None, "Only members of this community can pledge.")])
    terms = terms_of(funding_round)
    if not terms.accepts(instrument):
        raise ValidationFailed([("instrument", "This round does not take that kind of pledge.")])
    if instrument == Instrument.SHARES:
        if not shares or shares <= 0:
            raise ValidationFailed([("shares", "Choose how many shares, at least one.")])
        amount_cents = shares * (terms.share_price_cents or 0)
    else:
        shares = None
    if amount_cents is None or amount_cents <= 0:
        raise ValidationFailed([("amount", "Pledge a positive amount.")])
    field = "shares" if instrument == Instrument.SHARES else "amount"
    if amount_cents < terms.min_pledge_cents:
        raise ValidationFailed(
            [(field, f"The smallest pledge is {money(funding_round, terms.min_pledge_cents)}.")]
        )
    if amount_cents > min(terms.max_pledge_cents, MAX_PLEDGE_CENTS):
        most = min(terms.max_pledge_cents, MAX_PLEDGE_CENTS)
        raise ValidationFailed(
            [(field, f"One pledge can hold at most {money(funding_round, most)}.")]
        )
    project_ids = _check_target(funding_round, target, project_ids or [], priority_area_id)
    if target == TargetKind.POT:
        condition = Condition.KEEP_IT_ALL  # the pot is never conditional
    key = target_key(target, project_ids, priority_area_id)

    lock_member(funding_round, user)
    existing = _find_open(funding_round, user, instrument, key)
    redirected = False
    if target == TargetKind.PROJECT:
        target, key, redirected = _apply_project_maximum(
            funding_round, project_ids[0], amount_cents, existing, target, key
        )
        if redirected:  # the resident's open pot pledge, if any, is the one to change
            project_ids, condition = [], Condition.KEEP_IT_ALL
            existing = _find_open(funding_round, user, instrument, key)
            if existing is not None and existing.state != PledgeState.PLEDGED:
                raise ValidationFailed(
                    [
                        (
                            "projects",
                            "That project has reached its maximum, so this pledge would go to "
                            "the common pot — where you already have a confirmed "
                            f"{instrument.value} pledge of "
                            f"{money(funding_round, existing.amount_cents)}. Choose another "
                            "project, or cancel that pledge first.",
                        )
                    ]
                )
    if (
        existing is not None
        and existing.amount_cents == amount_cents
        and (existing.condition == condition)
    ):
        return existing  # a retry or a second tab: the same pledge, unchanged
    if existing is not None and existing.state != PledgeState.PLEDGED:
        raise ValidationFailed(
            [
                (
                    field,
                    f"You already confirmed a {instrument.value} pledge of "
                    f"{money(funding_round, existing.amount_cents)} to this target. Cancel it "
                    "first to pledge a different amount.",
                )
            ]
        )
    if terms.resident_cap_cents is not None:
        already = live_total(funding_round, user, excluding=existing.id if existing else None)
        if already + amount_cents > terms.resident_cap_cents:
            room = max(terms.resident_cap_cents - already, 0)
            raise ValidationFailed(
                [
                    (
                        field,
                        f"Each resident may pledge at most "
                        f"{money(funding_round, terms.resident_cap_cents)} in this round; "
                        f"you can add {money(funding_round, room)}.",
                    )
                ]
            )

    action = "pledge.changed" if existing else "pledge.made"
    pledge = existing
    if pledge is None:
        try:
            with db.session.begin_nested():
                pledge = Pledge(
                    round_id=funding_round.id,
                    user_id=user.id,
                    instrument=instrument,
                    target=target,
                    target_key=key,
                    receipt_code=receipt_code(),
                    amount_cents=amount_cents,
                )
                db.session.add(pledge)
                db.session.flush()
        except IntegrityError:  # the same submission won a race: it is the same pledge
            pledge = _find_open(funding_round, user, instrument, key)
            if pledge is None:
                raise
            if pledge.amount_cents == amount_cents:
                return pledge
            if pledge.state != PledgeState.PLEDGED:
                raise ValidationFailed(
                    [(field, "This pledge was just confirmed in another tab.")]
                ) from None
    pledge.amount_cents = amount_cents
    pledge.shares = shares
    pledge.condition = condition
    pledge.project_id = project_ids[0] if target == TargetKind.PROJECT else None
    pledge.priority_area_id = priority_area_id if target == TargetKind.AREA else None
    pledge.targets = (
        [PledgeTarget(project_id=pid) for pid in project_ids]
        if target == TargetKind.PROJECTS
        else []
    )
    if instrument == Instrument.LOAN:
        pledge.loan_rate_bps = terms.loan_rate_bps
        pledge.loan_term_months = terms.loan_term_months
    pledge.updated_at = utcnow()
    db.session.flush()
    record(
        action,
        f"pledge:{pledge.id}",
        community_id=funding_round.community_id,
        actor_id=user.id,
        round=funding_round.id,
        instrument=instrument.value,
        amount_cents=amount_cents,
        target=key,
        condition=condition.value,
        redirected_to_pot=redirected,
    )
    return pledge


def _apply_project_maximum(
    funding_round: FundingRound,
    project_id: int,
    amount_cents: int,
    existing: Pledge | None,
    target: TargetKind,
    key: str,
) -> tuple[TargetKind, str, bool]:
    """A project at its maximum refuses more, or sends it to the pot, as its rule says."""
    project = db.session.get(Project, project_id)
    assert project is not None
    funding = funding_of(project)
    if funding.max_cents is None:
        return target, key, False
    # Residents pledging to one project at once take turns, so its maximum holds.
    db.session.execute(select(Project.id).where(Project.id == project.id).with_for_update()).all()
    pledged = project_pledged(project, excluding=existing.id if existing else None)
    if pledged + amount_cents <= funding.max_cents:
        return target, key, False
    room = max(funding.max_cents - pledged, 0)
    if funding.overflow == OverflowRule.REFUSE:
        raise ValidationFailed(
            [
                (
                    "projects",
                    f"“{project.title}” is close to its maximum of "
                    f"{money(funding_round, funding.max_cents)}: at most "
                    f"{money(funding_round, room)} more can be pledged to it.",
                )
            ]
        )
    return TargetKind.POT, "pot", True


def _own(pledge: Pledge, user: User) -> None:
    if pledge.user_id != user.id:
        raise ValidationFailed([(None, "That is not your pledge.")])


def _memo_lines(pledge: Pledge, cents: int, *, reverse: bool = False) -> tuple:
    debit, credit = (
        (Account.PROMISORS, Account.PROMISED) if reverse else (Account.PROMISED, Account.PROMISORS)
    )
    return ledger.transfer(debit, credit, cents, pledge_id=pledge.id, project_id=pledge.project_id)


def post_for(pledge: Pledge, kind: str, lines, *, actor: User | None, memo: str = ""):
    return ledger.post(
        community_id=pledge.round.community_id,
        round_id=pledge.round_id,
        kind=kind,
        lines=lines,
        memo=memo,
        actor_id=actor.id if actor else None,
    )


def _locked(pledge: Pledge) -> Pledge:
    """Re-read the pledge under a row lock, as `treasury.lock` does for payments.

    FIX (found by tests/integration/test_pledge_concurrency.py): confirm and cancel read
    the pledge's state without a lock, so on PostgreSQL two confirmations at once (a double
    click, two tabs) both saw "pledged" and promised the money twice, and a cancel racing
    an organizer's collect left a cancelled pledge whose payment was in the pot.
    """
    locked = db.session.scalar(
        select(Pledge)
        .where(Pledge.id == pledge.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert locked is not None
    return locked


def confirm_pledge(pledge: Pledge, user: User) -> Pledge:
    """The resident confirms the terms; from now on the pledge counts."""
    _own(pledge, user)
    pledge = _locked(pledge)  # FIX: see _locked
    if pledge.state == PledgeState.CONFIRMED:
        return pledge  # confirming twice is confirming once
    if pledge.state != PledgeState.PLEDGED:
        raise IllegalTransition(f"A {pledge.state.value} pledge cannot be confirmed.")
    if pledge.round.status != RoundStatus.OPEN:
        raise IllegalTransition("Pledges can only be confirmed while the round is open.")
    pledge.state = PledgeState.CONFIRMED
    pledge.confirmed_at = pledge.updated_at = utcnow()
    db.session.flush()
    post_for(pledge, "confirm", _memo_lines(pledge, pledge.amount_cents), actor=user)
    record(
        "pledge.confirmed",
        f"pledge:{pledge.id}",
        community_id=pledge.round.community_id,
        actor_id=user.id,
        amount_cents=pledge.amount_cents,
    )
    return pledge


def cancel_deadline(funding_round: FundingRound):
    """Residents may cancel until 48 hours before the scheduled close (or the close itself)."""
    return funding_round.closes_at - CANCEL_WINDOW if funding_round.closes_at else None


def can_cancel(pledge: Pledge) -> bool:
    """Unconfirmed pledges may be withdrawn while the round is open; others until 48 hours
    before its scheduled close."""
    if pledge.round.status != RoundStatus.OPEN:
        return False
    if pledge.state == PledgeState.PLEDGED:
        return True
    deadline = cancel_deadline(pledge.round)
    return (deadline is None or utcnow() < deadline) and (
        pledge.state in OPEN_STATES
        or (pledge.state == PledgeState.COLLECTED and not pledge.refund_requested)
    )


def cancel_pledge(pledge: Pledge, user: User) -> Pledge:
    """Withdraw a pledge in time; collected money is marked for an organizer to refund."""
    _own(pledge, user)
    pledge = _locked(pledge)  # FIX: see _locked
    if pledge.state == PledgeState.CANCELLED or pledge.refund_requested:
        return pledge
    if not can_cancel(pledge):
        deadline = cancel_deadline(pledge.round)
        if pledge.state not in (*OPEN_STATES, PledgeState.COLLECTED):
            raise IllegalTransition(f"A {pledge.state.value} pledge cannot be cancelled.")
        local = ""
        if deadline is not None:
            zone = ZoneInfo(pledge.round.community.timezone)
            local = f" ({deadline.astimezone(zone):%Y-%m-%d %H:%M} {zone.key})"
        raise IllegalTransition(
            f"Pledges can be cancelled until 48 hours before the round closes{local}."
        )
    if pledge.state == PledgeState.COLLECTED:
        pledge.refund_requested = True
        action = "pledge.refund_requested"
    else:
        if pledge.state == PledgeState.CONFIRMED:
            post_for(
                pledge, "cancel", _memo_lines(pledge, pledge.amount_cents, reverse=True), actor=user
            )
        pledge.state = PledgeState.CANCELLED
        pledge.closed_at = utcnow()
        action = "pledge.cancelled"
    pledge.updated_at = utcnow()
    db.session.flush()
    record(action, f"pledge:{pledge.id}", community_id=pledge.round.community_id, actor_id=user.id)
    return pledge


def reconfirm_pledge(pledge: Pledge, user: User) -> Pledge:
    """After a material change to its project the resident says: yes, still count it."""
    _own(pledge, user)
    if not pledge.awaiting_reconfirmation:
        return pledge
    if pledge.round.status != RoundStatus.OPEN:
        raise IllegalTransition("The round has closed; this pledge no longer counts.")
    pledge.awaiting_reconfirmation = False
    pledge.updated_at = utcnow()
    db.session.flush()
    record(
        "pledge.reconfirmed",
        f"pledge:{pledge.id}",
        community_id=pledge.round.community_id,
        actor_id=user.id,
    )
    return pledge


def ask_reconfirmation(project: Project, changes: dict[str, tuple], *, actor: User | None) -> int:
    """A project changed materially: its pledgers must say again that they stand behind it."""
    pledges = db.session.scalars(
        select(Pledge)
        .outerjoin(PledgeTarget)
        .where(
            Pledge.round_id == project.round_id,
            (Pledge.project_id == project.id) | (PledgeTarget.project_id == project.id),
            Pledge.state.in_((PledgeState.CONFIRMED, PledgeState.COLLECTED)),
        )
        .distinct()
    ).all()
    what = ", ".join("cost" if name == "cost_cents" else name for name in changes)
    for pledge in pledges:
        pledge.awaiting_reconfirmation = True
        notify(
            pledge.user,
            pledge.round,
            "reconfirm",
            f"“{project.title}” changed ({what}) after you pledged "
            f"{money(pledge.round, pledge.amount_cents)} to it. Your pledge does not count "
            "until you reconfirm it on your pledges page; you may also cancel it.",
            pledge=pledge,
        )
    db.session.flush()
    if pledges:
        record(
            "pledge.reconfirmation_asked",
            f"project:{project.id}",
            community_id=project.round.community_id,
            actor_id=actor.id if actor else None,
            pledges=len(pledges),
            changes=what,
        )
    return len(pledges)
