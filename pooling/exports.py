"""The treasurer's CSV exports (pledges, ledger lines) and the cell formats they share.

Amounts in the currency's units as decimal strings, times in UTC ISO 8601, and every
text cell made formula-safe: a spreadsheet opening the file never runs what a resident
typed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from .books import EntryRow, PledgeRow


def units(cents: int) -> str:
    """Cents as a decimal string in the currency's units: 1250 -> '12.50', -5 -> '-0.05'."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(int(cents)), 100)
    return f"{sign}{whole}.{part:02d}"


def utc_iso(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else ""


def safe_cell(value: object) -> object:
    """Text a spreadsheet could take for a formula (= + - @, tab, CR) starts with an apostrophe."""
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")):
        return "'" + value
    return value


PLEDGES_CSV_COLUMNS = tuple(
    """
    pledge receipt_code created_utc resident email instrument shares
    loan_rate_percent loan_term_months target towards condition state
    awaiting_reconfirmation refund_requested amount called_in promised paid
    in_common_pot allocated_not_paid_out paid_out refunded payment_method
    payment_reference paid_utc
    """.split()
)
MONEY_COLUMNS = set(
    """
    amount called_in promised paid
    in_common_pot allocated_not_paid_out paid_out refunded
    """.split()
)


def _header(columns: Sequence[str], money_columns: set[str], currency: str) -> list[str]:
    return [f"{c} ({currency})" if c in money_columns else c for c in columns]


def _write(header: list[str], rows: Iterable[list]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def pledges_csv(rows: Sequence[PledgeRow], currency: str) -> str:
    """One line per pledge; amounts in the currency's units; text cells formula-safe."""

    def line(r: PledgeRow) -> list:
        text = [
            r.receipt_code,
            r.resident,
            r.email,
            r.towards,
            r.payment_reference,
        ]
        code, resident, email, towards, reference = (safe_cell(t) for t in text)
        return [
            r.id,
            code,
            utc_iso(r.created_at),
            resident,
            email,
            r.instrument.value,
            r.shares if r.shares is not None else "",
            units(r.loan_rate_bps) if r.loan_rate_bps is not None else "",
            r.loan_term_months if r.loan_term_months is not None else "",
            r.target.value,
            towards,
            r.condition.value,
            r.state.value,
            "yes" if r.awaiting_reconfirmation else "no",
            "yes" if r.refund_requested else "no",
            units(r.amount),
            units(r.called) if r.called is not None else "",
            units(r.promised),
            units(r.paid),
            units(r.in_pot),
            units(r.allocated),
            units(r.disbursed),
            units(r.refunded),
            r.payment_method,
            reference,
            utc_iso(r.collected_at),
        ]

    return _write(_header(PLEDGES_CSV_COLUMNS, MONEY_COLUMNS, currency), (line(r) for r in rows))


LEDGER_CSV_COLUMNS = tuple(
    """
    entry time_utc kind memo by account debit credit pledge receipt_code resident
    project grant money_held_after_entry
    """.split()
)


def ledger_csv(rows: Sequence[EntryRow], currency: str) -> str:
    """One line per ledger line; the entry's running money held repeated on each of its lines."""
    header = _header(LEDGER_CSV_COLUMNS, {"debit", "credit", "money_held_after_entry"}, currency)

    def lines():
        for e in rows:
            for line in e.lines:
                yield [
                    e.id,
                    utc_iso(e.created_at),
                    e.kind,
                    safe_cell(e.memo),
                    safe_cell(e.actor),
                    line.account.value,
                    units(line.debit) if line.debit else "",
                    units(line.credit) if line.credit else "",
                    line.pledge_id or "",
                    safe_cell(line.receipt_code),
                    safe_cell(line.resident),
                    safe_cell(line.project),
                    safe_cell(line.grant),
                    units(e.held_after),
                ]

    return _write(header, lines())
