"""Money by instrument under an allocation run: what each donation, member share, community
loan and grant gives each funded project, the loans' repayment schedules, the tranches,
each project's targets, and the round's money in by instrument and state.

Pledges pay through `settlement.pledge_allocations`, the arithmetic that settles the round
at approval, so these figures are what settlement will take. Plain values out; residents
are counted and summed, never named.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass

from commonpot.extensions import db
from commonpot.models import FundingRound, Project

from . import loans
from .allocation import pledge_sources
from .grants import grant_restriction
from .models import AllocationRun, Grant, Instrument, Pledge, PledgeState
from .pledge_tallies import all_pledges
from .settlement import grant_allocations, pledge_allocations
from .terms import funding_of, terms_of

INSTRUMENT_LABELS = {
    Instrument.DONATION: "Donations",
    Instrument.SHARES: "Member shares",
    Instrument.LOAN: "Community loans",
}
MONTHLY_UP_TO = 60  # longer loan terms are shown year by year


# -- the money behind a run -------------------------------------------------------------


@dataclass
class RunMoney:
    """Who pays what under a run: computed once, read by every section."""

    pledges: dict[int, Pledge]  # counting pledges by id
    shares: dict[int, dict[int, int]]  # pledge id -> project id -> cents (settlement)
    grant_shares: dict[int, dict[int, int]]  # grant id -> project id -> cents
    grants: dict[int, Grant]
    available: dict[str, int]  # optimizer source id -> cents the run could use

    def project_pledges(self, project_id: int) -> list[tuple[Pledge, int]]:
        """(pledge, cents it gives this project), in pledge order."""
        return [
            (self.pledges[pid], cents[project_id])
            for pid, cents in sorted(self.shares.items())
            if cents.get(project_id)
        ]

    def by_instrument(self, instrument: Instrument) -> int:
        return sum(
            sum(cents.values())
            for pid, cents in self.shares.items()
            if self.pledges[pid].instrument == instrument
        )


def run_money(run: AllocationRun) -> RunMoney:
    groups = pledge_sources(run.round)
    pledges = {p.id: p for members in groups.values() for p in members}
    grants = {line.grant.id: line.grant for line in run.lines if line.grant is not None}
    snapshot = json.loads(run.snapshot)
    available = {s["id"]: s["amount"] for s in snapshot["instance"]["sources"]}
    for source_id in available:
        if source_id.startswith("grant:") and int(source_id[6:]) not in grants:
            grant = db.session.get(Grant, int(source_id[6:]))
            if grant is not None:
                grants[grant.id] = grant
    return RunMoney(
        pledges, pledge_allocations(run, groups), grant_allocations(run), grants, available
    )


def rate_label(rate_bps: int) -> str:
    return f"{rate_bps / 100:.2f}%"


def _donations(rows: list[tuple[Pledge, int]]) -> dict:
    gifts = [cents for p, cents in rows if p.instrument == Instrument.DONATION]
    return {"count": len(gifts), "cents": sum(gifts)}


def _shares(rows: list[tuple[Pledge, int]], price_cents: int | None) -> dict:
    bought = [(p, cents) for p, cents in rows if p.instrument == Instrument.SHARES]
    shares = sum(p.shares or 0 for p, _ in bought)
    price = price_cents or 0
    return {
        "count": len(bought),
        "shares": shares,
        "price_cents": price,
        "subscribed_cents": shares * price,
        "cents": sum(cents for _, cents in bought),
    }


def _schedule_rows(principal: int, rate_bps: int, months: int) -> tuple[list[dict], bool]:
    """The annuity's rows for the page: monthly, or summed by year for long terms."""
    rows = loans.schedule(principal, rate_bps, months)
    if months <= MONTHLY_UP_TO:
        return [_row(str(r.month), [r]) for r in rows], False
    years = [rows[i : i + 12] for i in range(0, months, 12)]
    return [_row(str(n), chunk) for n, chunk in enumerate(years, 1)], True


def _row(label: str, chunk: list[loans.Instalment]) -> dict:
    return {
        "label": label,
        "payment_cents": sum(r.payment_cents for r in chunk),
        "interest_cents": sum(r.interest_cents for r in chunk),
        "principal_cents": sum(r.principal_cents for r in chunk),
        "balance_cents": chunk[-1].balance_cents,
    }


def loan_group(rate_bps: int, months: int, principals: list[int]) -> dict:
    """Loans on one (rate, term): each principal, and ONE schedule for their total."""
    principal = sum(principals)
    rows, yearly = _schedule_rows(principal, rate_bps, months)
    repaid, interest = loans.totals(loans.schedule(principal, rate_bps, months))
    return {
        "rate_bps": rate_bps,
        "rate": rate_label(rate_bps),
        "months": months,
        "loans": [{"no": n, "principal_cents": c} for n, c in enumerate(principals, 1)],
        "principal_cents": principal,
        "monthly_cents": loans.monthly_payment(principal, rate_bps, months),
        "interest_cents": interest,
        "repaid_cents": repaid,
        "rows": rows,
        "yearly": yearly,
    }


def _loans(rows: list[tuple[Pledge, int]], offer: tuple[int | None, int | None]) -> dict:
    by_terms: dict[tuple[int, int], list[int]] = defaultdict(list)
    for pledge, cents in rows:
        if pledge.instrument == Instrument.LOAN:
            rate = pledge.loan_rate_bps if pledge.loan_rate_bps is not None else offer[0] or 0
            months = pledge.loan_term_months or offer[1] or 1
            by_terms[(rate, months)].append(cents)
    groups = [loan_group(rate, months, cents) for (rate, months), cents in sorted(by_terms.items())]
    return {
        "count": sum(len(g["loans"]) for g in groups),
        "cents": sum(g["principal_cents"] for g in groups),
        "groups": groups,
    }


def _grants(money_: RunMoney, project_id: int, currency: str) -> list[dict]:
    out = []
    for gid, per_project in sorted(money_.grant_shares.items()):
        if per_project.get(project_id):
            grant = money_.grants[gid]
            out.append(
                {
                    "id": gid,
                    "name": grant.name,
                    "funder": grant.funder,
                    "cents": per_project[project_id],
                    "conditions": grant_restriction(grant, currency),
                }
            )
    return out


def project_finance(money_: RunMoney, project: Project, currency: str) -> dict:
    terms = terms_of(project.round)
    rows = money_.project_pledges(project.id)
    finance = {
        "donations": _donations(rows),
        "shares": _shares(rows, terms.share_price_cents),
        "loans": _loans(rows, (terms.loan_rate_bps, terms.loan_term_months)),
        "grants": _grants(money_, project.id, currency),
    }
    finance["residents_cents"] = sum(finance[k]["cents"] for k in ("donations", "shares", "loans"))
    finance["total_cents"] = finance["residents_cents"] + sum(g["cents"] for g in finance["grants"])
    return finance


def instrument_breakdown(finance: dict) -> list[dict]:
    """Non-zero amounts by instrument and grant, for one line of the report."""
    out = [
        {"label": INSTRUMENT_LABELS[instrument], "cents": finance[key]["cents"]}
        for key, instrument in (
            ("donations", Instrument.DONATION),
            ("shares", Instrument.SHARES),
            ("loans", Instrument.LOAN),
        )
        if finance[key]["cents"]
    ]
    return out + [{"label": g["name"], "cents": g["cents"]} for g in finance["grants"]]


def tranches(funded_cents: int) -> list[dict]:
    """The cooperative's standard plan: half on signature, half on the mid-point report."""
    first = funded_cents - funded_cents // 2
    return [
        {"no": 1, "cents": first, "milestone": "signature"},
        {"no": 2, "cents": funded_cents - first, "milestone": "midpoint"},
    ]


def project_targets(project: Project, funded_cents: int, earmarked_cents: int) -> dict:
    funding = funding_of(project)
    levels = [
        {"label": label, "cents": cents, "reached": funded_cents >= cents}
        for label, cents in (
            ("Minimum", funding.min_cents),
            ("Optimum", funding.optimum_cents),
            ("Maximum", funding.max_cents),
        )
        if cents is not None
    ]
    return {
        "levels": levels,
        "earmarked_cents": earmarked_cents,
        "hours_needed": funding.hours_needed,
    }


STATE_COLUMNS = {
    PledgeState.PLEDGED: "pledged",
    PledgeState.CONFIRMED: "confirmed",
    PledgeState.COLLECTED: "collected",
    PledgeState.ALLOCATED: "collected",
    PledgeState.DISBURSED: "collected",
}


def money_in(r: FundingRound, money_: RunMoney) -> dict:
    """Residents' money by instrument and state, the grants, and what the run used."""
    rows = {
        i: {"label": label, "count": 0, "pledged": 0, "confirmed": 0, "collected": 0}
        for i, label in INSTRUMENT_LABELS.items()
    }
    not_counted = 0
    for pledge in all_pledges(r):
        column = STATE_COLUMNS.get(pledge.state)
        if column is None:
            continue  # cancelled, released, refunded: no longer money in
        rows[pledge.instrument][column] += pledge.amount_cents
        if pledge.id in money_.pledges:
            rows[pledge.instrument]["count"] += 1
        elif column != "pledged":
            not_counted += pledge.amount_cents
    for instrument, row in rows.items():
        row["counted"] = sum(
            p.amount_cents for p in money_.pledges.values() if p.instrument == instrument
        )
        row["allocated"] = money_.by_instrument(instrument)
    grants = [
        {
            "id": gid,
            "label": grant.name,
            "funder": grant.funder,
            "counted": money_.available.get(f"grant:{gid}", 0),
            "allocated": sum(money_.grant_shares.get(gid, {}).values()),
        }
        for gid, grant in sorted(money_.grants.items())
    ]
    return _money_in_totals(list(rows.values()), grants, not_counted)


def _money_in_totals(rows: list[dict], grants: list[dict], not_counted: int) -> dict:
    every = rows + grants
    total = {key: sum(r.get(key, 0) for r in rows) for key in ("count", "pledged", "confirmed")}
    total["collected"] = sum(r["collected"] for r in rows)
    total["counted"] = sum(r["counted"] for r in every)
    total["allocated"] = sum(r["allocated"] for r in every)
    return {"rows": rows, "grants": grants, "total": total, "not_counted_cents": not_counted}
