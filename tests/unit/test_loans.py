"""Community loan schedules: an annuity rounded to the cent, the last payment adjusted."""

from hypothesis import given
from hypothesis import strategies as st

from pooling.loans import monthly_payment, schedule, totals


def test_worked_example_ten_thousand_at_five_percent_for_a_year():
    """$10,000 at 5.00 % a year over 12 months. Monthly rate 0.05/12; the level payment is
    10000 x r / (1 - (1 + r)^-12) = 856.0748... -> $856.07. Month 1 interest: 10000 x
    0.05/12 = 41.666... -> $41.67, principal 856.07 - 41.67 = $814.40, balance $9,185.60.
    Rounding each month's interest leaves $852.57 owed before the last month, whose interest
    is $3.55, so the last payment is $856.12 and the loan is repaid exactly."""
    rows = schedule(1_000_000, 500, 12)
    assert monthly_payment(1_000_000, 500, 12) == 85_607
    first, last = rows[0], rows[-1]
    assert (first.payment_cents, first.interest_cents, first.principal_cents) == (
        85_607,
        4_167,
        81_440,
    )
    assert first.balance_cents == 918_560
    assert (last.payment_cents, last.interest_cents, last.balance_cents) == (85_612, 355, 0)
    assert all(r.payment_cents == 85_607 for r in rows[:-1])
    paid, interest = totals(rows)
    assert (paid, interest) == (1_027_289, 27_289)
    assert paid == 1_000_000 + interest


def test_an_interest_free_loan_splits_the_principal():
    rows = schedule(10_000, 0, 3)
    assert [r.payment_cents for r in rows] == [3_333, 3_333, 3_334]
    assert totals(rows) == (10_000, 0)


@given(
    dollars_a_month=st.integers(min_value=1, max_value=100_000),
    rate=st.integers(min_value=0, max_value=2_000),
    months=st.integers(min_value=1, max_value=360),
    extra=st.integers(min_value=0, max_value=99),
)
def test_every_schedule_repays_the_principal_exactly(dollars_a_month, rate, months, extra):
    """Any loan of at least a dollar a month of term (smaller ones are not community loans)."""
    principal = dollars_a_month * 100 * months + extra
    rows = schedule(principal, rate, months)
    paid, interest = totals(rows)
    assert len(rows) == months
    assert sum(r.principal_cents for r in rows) == principal
    assert paid == principal + interest
    assert rows[-1].balance_cents == 0
    assert all(r.interest_cents >= 0 and r.principal_cents >= 0 for r in rows)
    level = monthly_payment(principal, rate, months)
    # Level payments, unless rounding up repaid the loan early (long terms at high rates).
    assert all(r.payment_cents == level or r.balance_cents == 0 for r in rows[:-1])
    # Rounding drift: at most a cent a month, grown by the interest since.
    growth = (1 + rate / 120_000) ** months
    assert abs(rows[-1].payment_cents - level) <= months * growth + 1
