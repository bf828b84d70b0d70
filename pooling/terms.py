"""What a round accepts from residents, and each project's fundraising targets."""

from __future__ import annotations

from sqlalchemy import func, select

from commonpot.audit import record
from commonpot.errors import IllegalTransition, ValidationFailed
from commonpot.extensions import db
from commonpot.models import FundingRound, Project, RoundStatus, User

from .models import OverflowRule, Pledge, PledgeTerms, ProjectFunding

MAX_TERM_MONTHS = 360
MAX_RATE_BPS = 2_000  # 20 % a year: anything above is not a community loan


def terms_of(funding_round: FundingRound) -> PledgeTerms:
    """The round's pledge terms; a round nobody configured takes donations from $1."""
    terms = db.session.get(PledgeTerms, funding_round.id)
    if terms is None:
        terms = PledgeTerms(
            round_id=funding_round.id,
            accepts_donations=True,
            accepts_shares=False,
            accepts_loans=False,
            min_pledge_cents=100,
            max_pledge_cents=10_000_000,
        )
    return terms


def funding_of(project: Project) -> ProjectFunding:
    found = db.session.get(ProjectFunding, project.id)
    if found is None:
        found = ProjectFunding(project_id=project.id, overflow=OverflowRule.REFUSE)
    return found


def set_terms(
    funding_round: FundingRound,
    *,
    actor: User,
    accepts_donations: bool,
    accepts_shares: bool,
    accepts_loans: bool,
    share_price_cents: int | None,
    loan_rate_bps: int | None,
    loan_term_months: int | None,
    min_pledge_cents: int,
    max_pledge_cents: int,
    resident_cap_cents: int | None,
) -> PledgeTerms:
    """Set the round's terms: while it is a draft, or open before anyone has pledged."""
    if funding_round.status not in (RoundStatus.DRAFT, RoundStatus.OPEN):
        raise IllegalTransition("Pledge terms are set before the round closes.")
    pledged = db.session.scalar(
        select(func.count()).select_from(Pledge).where(Pledge.round_id == funding_round.id)
    )
    if pledged:
        raise IllegalTransition(
            "Residents have pledged under the current terms; they can no longer change."
        )
    errors: list[tuple[str | None, str]] = []
    if not (accepts_donations or accepts_shares or accepts_loans):
        errors.append(("accepts_donations", "Accept at least one kind of pledge."))
    if accepts_shares and not share_price_cents:
        errors.append(("share_price", "Member shares need a share price."))
    if accepts_loans:
        if loan_rate_bps is None or not 0 <= loan_rate_bps <= MAX_RATE_BPS:
            errors.append(("loan_rate", "A loan rate between 0% and 20% a year."))
        if not loan_term_months or not 1 <= loan_term_months <= MAX_TERM_MONTHS:
            errors.append(("loan_term_months", "A term between 1 and 360 months."))
    if max_pledge_cents < min_pledge_cents:
        errors.append(("max_pledge", "The largest pledge cannot be below the smallest."))
    if resident_cap_cents is not None and resident_cap_cents < min_pledge_cents:
        errors.append(("resident_cap", "The cap per resident is below the smallest pledge."))
    if errors:
        raise ValidationFailed(errors)
    terms = db.session.get(PledgeTerms, funding_round.id)
    if terms is None:
        terms = PledgeTerms(round_id=funding_round.id)
        db.session.add(terms)
    terms.accepts_donations = accepts_donations
    terms.accepts_shares = accepts_shares
    terms.accepts_loans = accepts_loans
    terms.share_price_cents = share_price_cents if accepts_shares else None
    terms.loan_rate_bps = loan_rate_bps if accepts_loans else None
    terms.loan_term_months = loan_term_months if accepts_loans else None
    terms.min_pledge_cents = min_pledge_cents
    terms.max_pledge_cents = max_pledge_cents
    terms.resident_cap_cents = resident_cap_cents
    db.session.flush()
    record(
        "pledge_terms.set",
        f"round:{funding_round.id}",
        community_id=funding_round.community_id,
        actor_id=actor.id,
        donations=accepts_donations,
        shares=accepts_shares,
        loans=accepts_loans,
        share_price_cents=terms.share_price_cents,
        loan_rate_bps=terms.loan_rate_bps,
        loan_term_months=terms.loan_term_months,
        min_cents=min_pledge_cents,
        max_cents=max_pledge_cents,
        cap_cents=resident_cap_cents,
    )
    return terms


def set_project_funding(
    project: Project,
    *,
    actor: User,
    min_cents: int | None,
    optimum_cents: int | None,
    max_cents: int | None,
    overflow: OverflowRule,
    hours_needed: int | None,
) -> ProjectFunding:
    """A project's targets, shown to residents; the maximum also limits pledges to it."""
    if project.round.status not in (RoundStatus.DRAFT, RoundStatus.OPEN):
        raise IllegalTransition("Targets are set before the round closes.")
    given = [v for v in (min_cents, optimum_cents, max_cents) if v is not None]
    if given != sorted(given):
        raise ValidationFailed([("max_target", "Targets go minimum ≤ optimum ≤ maximum.")])
    if hours_needed is not None and not 0 < hours_needed <= 100_000:
        raise ValidationFailed([("hours_needed", "Between 1 and 100,000 hours.")])
    funding = db.session.get(ProjectFunding, project.id)
    if funding is None:
        funding = ProjectFunding(project_id=project.id)
        db.session.add(funding)
    funding.min_cents, funding.optimum_cents, funding.max_cents = (
        min_cents,
        optimum_cents,
        max_cents,
    )
    funding.overflow, funding.hours_needed = overflow, hours_needed
    db.session.flush()
    record(
        "project.targets_set",
        f"project:{project.id}",
        community_id=project.round.community_id,
        actor_id=actor.id,
        min_cents=min_cents,
        optimum_cents=optimum_cents,
        max_cents=max_cents,
        overflow=overflow.value,
        hours_needed=hours_needed,
    )
    return funding
