"""Integer cents in, text out (and back): the only place money meets decimals."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

SYMBOLS = {"USD": "$", "CAD": "$", "EUR": "€", "GBP": "£", "PLN": "zł "}


def format_cents(cents: int, currency: str = "USD") -> str:
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(int(cents)), 100)
    return f"{sign}{SYMBOLS.get(currency, currency + ' ')}{whole:,}.{part:02d}"


MOST_DIGITS = 15  # a trillion dollars and more: beyond any round, far inside BigInteger


def parse_cents(text: str) -> int:
    """'1,234.5' or '$1234' -> 123450. Raises ValueError with a message a resident understands.

    The size is checked before any arithmetic, so '1e309' is "too large", not a crash.
    """
    cleaned = text.strip().replace(",", "").replace(" ", "").lstrip("$€£")
    if not cleaned:
        raise ValueError("Enter an amount.")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError("Enter an amount like 25 or 25.50.") from None
    if not value.is_finite():
        raise ValueError("Enter an amount like 25 or 25.50.")
    if value and value.adjusted() >= MOST_DIGITS:
        raise ValueError("This amount is too large.")
    if value != value.quantize(Decimal("0.01")):
        raise ValueError("Amounts have at most two decimals (cents).")
    return int(value * 100)
