"""Integer cents in, text out (and back): the only place money meets decimals."""

from __future__ import annotations

import re

SYMBOLS = {"USD": "$", "CAD": "$", "EUR": "€", "GBP": "£", "PLN": "zł "}


def format_cents(cents: int, currency: str = "USD") -> str:
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(int(cents)), 100)
    return f"{sign}{SYMBOLS.get(currency, currency + ' ')}{whole:,}.{part:02d}"


AMOUNT = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?")
MOST_DIGITS = 15  # a trillion dollars and more: beyond any round, far inside BigInteger


def parse_cents(text: str) -> int:
    """'1,234.5' or '$1234' -> 123450. Raises ValueError with a message a resident understands.

    Plain digits only: no exponents ('1e309'), no other scripts' digits, no NaN.
    """
    cleaned = text.strip().replace(",", "").replace(" ", "").lstrip("$€£")
    if not cleaned:
        raise ValueError("Enter an amount.")
    found = AMOUNT.fullmatch(cleaned)
    if not found or not (found.group(2) or found.group(3)):
        raise ValueError("Enter an amount like 25 or 25.50.")
    sign, whole, part = found.group(1), found.group(2) or "0", found.group(3) or ""
    if len(part.rstrip("0")) > 2:
        raise ValueError("Amounts have at most two decimals (cents).")
    if len(whole.lstrip("0")) > MOST_DIGITS:
        raise ValueError("This amount is too large.")
    cents = int(whole.lstrip("0") or "0") * 100 + int((part + "00")[:2])
    return -cents if sign == "-" else cents
