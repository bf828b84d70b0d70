"""Community loan repayment: an annuity (equal monthly payments at the stated rate).

Exact arithmetic: the payment is computed as a fraction and rounded to the cent (half up);
each month's interest is the balance times the monthly rate, rounded to the cent; the last
payment is adjusted so the principal is repaid exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class Instalment:
    month: int
    payment_cents: int
    interest_cents: int
    principal_cents: int
    balance_cents: int  # still owed after this payment


def _round_half_up(value: Fraction) -> int:
    return int((value * 2 + 1) // 2) if value >= 0 else -_round_half_up(-value)


def monthly_rate(rate_bps: int) -> Fraction:
    """A yearly rate in basis points as an exact monthly rate (350 bps -> 0.035 / 12)."""
    return Fraction(rate_bps, 10_000 * 12)


def monthly_payment(principal_cents: int, rate_bps: int, months: int) -> int:
    """The level payment, rounded to the cent."""
    if months <= 0:
        raise ValueError("a loan needs a term of at least one month")
    r = monthly_rate(rate_bps)
    if r == 0:
        return _round_half_up(Fraction(principal_cents, months))
    growth = (1 + r) ** months
    return _round_half_up(principal_cents * r * growth / (growth - 1))


def schedule(principal_cents: int, rate_bps: int, months: int) -> list[Instalment]:
    """Every payment of the loan; the payments' sum is principal plus total interest."""
    if principal_cents < 0 or rate_bps < 0:
        raise ValueError("principal and rate cannot be negative")
    payment = monthly_payment(principal_cents, rate_bps, months)
    r = monthly_rate(rate_bps)
    balance = principal_cents
    rows = []
    for month in range(1, months + 1):
        interest = _round_half_up(balance * r)
        principal = balance if month == months else min(payment - interest, balance)
        balance -= principal
        rows.append(Instalment(month, interest + principal, interest, principal, balance))
    return rows


def totals(rows: list[Instalment]) -> tuple[int, int]:
    """(total paid, total interest) over a schedule."""
    return sum(r.payment_cents for r in rows), sum(r.interest_cents for r in rows)
