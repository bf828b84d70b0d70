"""The figures the pledge pages and the round page show: each project's money as a bar
(pledged, confirmed, collected against its targets), the round's counting money, loan
repayments. No Flask here: `pledge_views` hands them to the templates (the round page is
a kernel template, and the kernel never imports pooling).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from commonpot.models import FundingRound

from . import grants, loans, pledge_tallies
from .hours import hours_by_project
from .models import OverflowRule
from .terms import funding_of


def monthly_payment(principal_cents: int, rate_bps: int | None, months: int | None) -> int | None:
    """The level monthly repayment of a loan, as its term sheet states it (`loans`); None
    without a term."""
    if not months:
        return None
    return loans.monthly_payment(principal_cents, rate_bps or 0, months)


@dataclass(frozen=True)
class Repayment:
    """A loan's repayment as its term sheet's schedule has it (the last payment evens out)."""

    monthly_cents: int
    total_cents: int
    interest_cents: int
    months: int


def repayment(principal_cents: int, rate_bps: int | None, months: int | None) -> Repayment | None:
    if not months:
        return None
    rows = loans.schedule(principal_cents, rate_bps or 0, months)
    total, interest = loans.totals(rows)
    return Repayment(rows[0].payment_cents, total, interest, months)


def percent_rate(rate_bps: int | None) -> str:
    return f"{(rate_bps or 0) / 100:.2f}%"


@dataclass
class Bar:
    """A project's money on one scale: segments and target marks in percent of `scale`."""

    pledged: int
    confirmed: int
    collected: int
    min_cents: int | None
    optimum_cents: int | None
    max_cents: int | None
    goal: int  # what the bar is read against: the optimum, else the project's cost
    scale: int
    overflow: OverflowRule
    hours_needed: int | None
    hours_offered: int
    marks: list[tuple[str, int, float]] = field(default_factory=list)

    def pct(self, cents: int) -> float:
        return round(min(cents, self.scale) * 100 / self.scale, 2) if self.scale else 0.0

    @property
    def segments(self) -> list[tuple[str, float]]:
        collected = self.pct(self.collected)
        confirmed = self.pct(self.confirmed) - collected
        pledged = self.pct(self.pledged) - self.pct(self.confirmed)
        return [("collected", collected), ("confirmed", confirmed), ("pledged", pledged)]

    @property
    def unconfirmed(self) -> int:
        return self.pledged - self.confirmed

    @property
    def reached(self) -> str | None:
        for name, cents in (
            ("max", self.max_cents),
            ("optimum", self.optimum_cents),
            ("min", self.min_cents),
        ):
            if cents and self.confirmed >= cents:
                return name
        return None


@dataclass
class RoundMoney:
    pot_cents: int
    earmarked_cents: int
    pledgers: int
    grants: list[dict]
    bars: dict[int, Bar]

    @property
    def grants_cents(self) -> int:
        return sum(g["amount_cents"] for g in self.grants)


def round_money(funding_round: FundingRound) -> RoundMoney:
    """What the round page shows of the money: counting pledges, grants, project bars."""
    progress = pledge_tallies.progress(funding_round)
    hours = hours_by_project(funding_round)
    pot, earmarked, pledgers = pledge_tallies.pledge_totals(funding_round)
    bars = {}
    for project in funding_round.projects:
        funding = funding_of(project)
        row = progress.get(project.id, {"pledged": 0, "confirmed": 0, "collected": 0})
        goal = funding.optimum_cents or funding.max_cents or project.cost_cents
        scale = max(funding.max_cents or 0, goal, row["pledged"], 1)
        bar = Bar(
            pledged=row["pledged"],
            confirmed=row["confirmed"],
            collected=row["collected"],
            min_cents=funding.min_cents,
            optimum_cents=funding.optimum_cents,
            max_cents=funding.max_cents,
            goal=goal,
            scale=scale,
            overflow=funding.overflow or OverflowRule.REFUSE,
            hours_needed=funding.hours_needed,
            hours_offered=hours.get(project.id, 0),
        )
        for name, cents in (
            ("min", funding.min_cents),
            ("optimum", funding.optimum_cents),
            ("max", funding.max_cents),
        ):
            if cents:
                bar.marks.append((name, cents, bar.pct(cents)))
        bars[project.id] = bar
    currency = funding_round.community.currency
    grant_rows = [
        {
            "name": g.name,
            "funder": g.funder,
            "amount_cents": g.amount_cents,
            "rules": grants.grant_restriction(g, currency),
        }
        for g in grants.grants_of(funding_round)
    ]
    return RoundMoney(
        pot_cents=pot,
        earmarked_cents=sum(earmarked.values()),
        pledgers=pledgers,
        grants=grant_rows,
        bars=bars,
    )
