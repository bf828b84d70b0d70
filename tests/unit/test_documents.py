"""PDF documents: templates render plain values; the fetcher keeps rendering local."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

import flask_babel
import pytest
from flask import Flask
from flask_babel import Babel
from pypdf import PdfReader

from pooling import charts, signing, verification
from pooling.documents import (
    STATIC_ROOT,
    RefusedURL,
    StaticOnlyFetcher,
    render_document,
    render_pdf,
)
from pooling.project_money import loan_group, tranches

REPO = Path(__file__).resolve().parents[2]
MM = 72 / 25.4


def money(cents: int) -> str:
    """Same output as the app's `money` filter for USD."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}${whole:,}.{part:02d}"


def dt(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%-d %b %Y, %H:%M UTC")


def make_app(*, app_gettext: bool) -> Flask:
    """Like the real app: Flask-Babel, the two filters, and (optionally) its plain `_`."""
    app = Flask(__name__, template_folder=str(REPO / "templates"))
    Babel(app)
    app.jinja_env.filters.update(money=money, dt=dt)
    if app_gettext:
        app.context_processor(lambda: {"_": flask_babel.gettext})
    return app


@pytest.fixture(scope="module")
def app() -> Iterator[Flask]:
    app = make_app(app_gettext=True)
    with app.app_context():
        yield app


COMMUNITY = {"name": "Elm Street Neighbourhood Cooperative", "slug": "elm", "currency": "USD"}
ROUND = {
    "id": 7,
    "title": "Spring 2027 community fund",
    "status": "allocated",
    "support_unit": "approvals",
    "opens_at": datetime(2027, 3, 1, 9, 0, tzinfo=UTC),
    "closes_at": datetime(2027, 3, 31, 21, 0, tzinfo=UTC),
    "description": "Members proposed projects, ranked priority areas and pledged money.",
}
GRANT = "County food grant"
BOARD = [
    {"name": "Jane Doe", "role": "Chair"},
    {"name": "Amara Okafor", "role": "Treasurer"},
    {"name": "Luis Fernández", "role": "Secretary"},
]


def _project(pid: int, title: str, category: str, cost: int, support: int, split: dict) -> dict:
    sources = [
        {"label": label, "kind": "grant" if label == GRANT else "pool", "cents": cents}
        for label, cents in split.items()
    ]
    return {
        "id": pid,
        "title": title,
        "category": category,
        "cost_cents": cost,
        "support": support,
        "funded_cents": sum(split.values()),
        "sources": sources,
        "lead": None,
        "by_instrument": [
            {"label": "Donations" if label != GRANT else GRANT, "cents": cents}
            for label, cents in split.items()
        ],
    }


FUNDED = [
    _project(
        11,
        "Community garden raised beds",
        "Food security",
        1_250_000,
        87,
        {GRANT: 500_000, "Member pool": 750_000},
    ),
    _project(
        12,
        "Weekly food pantry cold storage",
        "Food security",
        640_000,
        74,
        {GRANT: 400_000, "Member pool": 240_000},
    ),
    _project(
        13, "After-school repair café for teens", "Youth", 380_000, 61, {"Member pool": 380_000}
    ),
    _project(
        14,
        "Accessible ramp for the community hall",
        "Accessibility",
        500_001,
        52,
        {"Member pool": 500_001},
    ),
]


PRIORITIES = [
    {
        "name": "Food security",
        "score": 412,
        "share": 0.38,
        "funded_cents": 1_890_000,
        "money_share": 0.68,
    },
    {"name": "Youth", "score": 231, "share": 0.213, "funded_cents": 380_000, "money_share": 0.14},
]
MONEY_IN = {
    "rows": [
        {
            "label": "Donations",
            "count": 40,
            "pledged": 20_000,
            "confirmed": 600_000,
            "collected": 640_000,
            "counted": 1_240_000,
            "allocated": 1_170_001,
        },
        {
            "label": "Member shares",
            "count": 15,
            "pledged": 0,
            "confirmed": 150_000,
            "collected": 250_000,
            "counted": 400_000,
            "allocated": 400_000,
        },
        {
            "label": "Community loans",
            "count": 6,
            "pledged": 0,
            "confirmed": 200_000,
            "collected": 0,
            "counted": 200_000,
            "allocated": 300_000,
        },
    ],
    "grants": [
        {"id": 2, "label": GRANT, "funder": "County", "counted": 1_000_000, "allocated": 900_000}
    ],
    "total": {
        "count": 61,
        "pledged": 20_000,
        "confirmed": 950_000,
        "collected": 890_000,
        "counted": 2_840_000,
        "allocated": 2_770_001,
    },
    "not_counted_cents": 5_000,
}
FLOW = charts.flow_chart(
    [
        charts.Node("d", "Donations", 1_240_000, "$12,400.00"),
        charts.Node("g", GRANT, 1_000_000, "$10,000.00"),
    ],
    [
        charts.Node("11", FUNDED[0]["title"], 1_250_000, "$12,500.00"),
        charts.Node("x", "Not allocated", 990_000, "$9,900.00"),
    ],
    [
        charts.Flow("d", "11", 750_000),
        charts.Flow("g", "11", 500_000),
        charts.Flow("d", "x", 490_000),
        charts.Flow("g", "x", 500_000),
    ],
    title="Where the money goes",
)


def report_context(**changes: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "community": COMMUNITY,
        "round": ROUND,
        "allocation": {
            "rule": "greedy",
            "status": "Optimal",
            "input_sha256": "9f2c" * 16,
            "created_at": datetime(2027, 4, 2, 18, 30, tzinfo=UTC),
            "available_cents": 3_000_000,
            "allocated_cents": 2_770_001,
            "software_version": "0.1.0",
        },
        "sources": [
            {
                "id": 1,
                "label": "Member pool",
                "kind": "pool",
                "amount_cents": 2_000_000,
                "used_cents": 1_870_001,
                "restriction": "",
            },
            {
                "id": 2,
                "label": GRANT,
                "kind": "grant",
                "amount_cents": 1_000_000,
                "used_cents": 900_000,
                "restriction": "Food security projects only, at most $5,000.00 per project",
            },
        ],
        "funded": FUNDED,
        "unfunded": [
            {
                "id": 21,
                "title": "Solar co-op feasibility study",
                "category": "Environment",
                "cost_cents": 900_000,
                "support": 40,
                "reason": "Not enough money left",
            },
            {
                "id": 22,
                "title": "Mural <on> the laundromat & wall",
                "category": "Culture",
                "cost_cents": 300_000,
                "support": 18,
                "reason": "Below the support threshold",
            },
        ],
        "priorities": PRIORITIES,
        "participation": {
            "members": 142,
            "responses": 96,
            "member_responses": 96,
            "by_source": {"online": 90, "paper": 6},
            "rate": 96 / 142,
            "pledgers": 58,
            "pledges": 61,
            "pledged_cents": 1_840_000,
            "median_cents": 2_500,
            "hours": 40,
            "blocks": [],
        },
        "money_in": MONEY_IN,
        "charts": {"flow": FLOW, "priorities": None, "blocks": None},
        "signatories": BOARD,
        "quorum": 2,
        "generated_at": datetime(2027, 4, 3, 10, 15, tzinfo=UTC),
    }
    return context | changes


def finance(**changes: Any) -> dict[str, Any]:
    """750,000 from residents (donations, shares, one loan group) and the county grant."""
    parts: dict[str, Any] = {
        "donations": {"count": 12, "cents": 350_000},
        "shares": {
            "count": 9,
            "shares": 20,
            "price_cents": 5_000,
            "subscribed_cents": 100_000,
            "cents": 100_000,
        },
        "loans": {
            "count": 3,
            "cents": 300_000,
            "groups": [loan_group(350, 24, [150_000, 100_000, 50_000])],
        },
        "grants": [
            {
                "id": 2,
                "name": GRANT,
                "funder": "County",
                "cents": 500_000,
                "conditions": "Food security projects only. Keep receipts for the county audit",
            }
        ],
    }
    parts |= changes
    parts["residents_cents"] = sum(parts[k]["cents"] for k in ("donations", "shares", "loans"))
    parts["total_cents"] = parts["residents_cents"] + sum(g["cents"] for g in parts["grants"])
    return parts


def term_context(**changes: Any) -> dict[str, Any]:
    project = FUNDED[0]
    report = report_context()
    context: dict[str, Any] = {
        **report,
        "project": {
            **project,
            "description": "Twelve raised beds with drip irrigation behind the library.",
            "lead": "Amara Okafor",
            "targets": {
                "levels": [
                    {"label": "Minimum", "cents": 1_000_000, "reached": True},
                    {"label": "Maximum", "cents": 1_500_000, "reached": False},
                ],
                "earmarked_cents": 410_000,
                "hours_needed": 60,
            },
            "hours_offered": 25,
        },
        "funded_cents": project["funded_cents"],
        "sources": project["sources"],
        "finance": finance(),
        "area": {"name": "Food security", "rank": 1, "of": 2, "share": 0.38},
        "tranches": tranches(project["funded_cents"]),
        "ballots": 96,
    }
    return context | changes


def text_of(pdf: bytes) -> tuple[int, str]:
    reader = PdfReader(BytesIO(pdf))
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


@pytest.fixture(scope="module")
def report(app: Flask) -> bytes:
    return render_document("pdf/report.html", report_context())


def test_report_shows_every_funded_project_and_amount(report: bytes) -> None:
    pages, text = text_of(report)
    assert 2 <= pages <= 4
    for project in FUNDED:
        assert project["title"] in text
        assert money(project["funded_cents"]) in text
    assert money(sum(p["funded_cents"] for p in FUNDED)) in text  # the total row
    flowing = " ".join(text.split())  # longer cells wrap; titles and amounts must not
    assert "Food security projects only, at most $5,000.00 per project" in flowing
    assert "The allocation assigned $27,700.01 to 4 projects." in flowing
    assert "2 proposed projects were not funded." in flowing
    assert "Mural <on> the laundromat & wall" in text  # escaped, not markup
    assert "9f2c" * 16 in text
    assert f"Page 1 of {pages}" in text and f"Page {pages} of {pages}" in text
    assert "Generated 3 Apr 2027, 10:15 UTC" in text


def test_report_ends_with_who_signs(report: bytes) -> None:
    reader = PdfReader(BytesIO(report))
    last = reader.pages[-1].extract_text()
    for person in BOARD:
        assert person["name"] in last and person["role"] in last
    assert "at least 2 of the 3 board signatories" in last


def test_term_sheet_states_amount_sources_and_conditions(app: Flask) -> None:
    pages, text = text_of(render_document("pdf/term_sheet.html", term_context()))
    flowing = " ".join(text.split())
    assert 2 <= pages <= 4
    assert FUNDED[0]["title"] in text
    assert money(FUNDED[0]["funded_cents"]) in text
    assert "Donations 12 gifts Given outright; never repaid $3,500.00" in flowing
    assert "20 shares × $50.00 = $1,000.00 subscribed $1,000.00" in flowing
    assert "Community loans 3 loans 3.50% a year, 24 months, monthly annuity $3,000.00" in flowing
    assert "Keep receipts for the county audit." in text
    assert "Total $12,500.00" in flowing
    assert "Amara Okafor" in text and "Project lead acceptance" in text
    for heading in ("Conditions precedent", "Risks in plain words", "Governance", "Reporting"):
        assert heading in text


def test_term_sheet_loan_schedule_adds_up(app: Flask) -> None:
    group = loan_group(350, 24, [150_000, 100_000, 50_000])
    assert group["repaid_cents"] == group["principal_cents"] + group["interest_cents"]
    assert sum(r["payment_cents"] for r in group["rows"]) == group["repaid_cents"]
    assert len(group["rows"]) == 24 and group["rows"][-1]["balance_cents"] == 0
    _, text = text_of(render_document("pdf/term_sheet.html", term_context()))
    flowing = " ".join(text.split())
    paid, interest = money(group["repaid_cents"]), money(group["interest_cents"])
    assert f"Total over 24 months payments {paid} interest {interest} principal $3,000.00" in (
        flowing
    )
    assert f"MONTHLY PAYMENT {money(group['monthly_cents'])}" in flowing
    assert "Loan 1 $1,500.00 · 3.50% · 24 mo." in flowing


def test_long_loans_are_scheduled_by_year(app: Flask) -> None:
    group = loan_group(500, 120, [2_000_000])
    assert group["yearly"] and len(group["rows"]) == 10
    assert sum(r["interest_cents"] for r in group["rows"]) == group["interest_cents"]
    assert sum(r["principal_cents"] for r in group["rows"]) == 2_000_000
    loans = {"count": 1, "cents": 2_000_000, "groups": [group]}
    context = term_context(finance=finance(loans=loans))
    pages, text = text_of(render_document("pdf/term_sheet.html", context))
    assert pages <= 4 and "by year of 12 monthly payments" in text.lower()
    assert f"Total over 120 months payments {money(group['repaid_cents'])}" in " ".join(
        text.split()
    )


def test_tranches_split_the_amount_exactly() -> None:
    assert [t["cents"] for t in tranches(1_250_001)] == [625_001, 625_000]


def test_term_sheet_without_lead_loans_or_shares(app: Flask) -> None:
    context = term_context()
    context["project"] = context["project"] | {"lead": None}
    context["sources"] = [{"label": "Member pool", "kind": "pool", "cents": 100, "conditions": ""}]
    context["finance"] = finance(
        donations={"count": 1, "cents": 100},
        shares={"count": 0, "shares": 0, "price_cents": 0, "subscribed_cents": 0, "cents": 0},
        loans={"count": 0, "cents": 0, "groups": []},
        grants=[],
    )
    context["funded_cents"] = 100
    pages, text = text_of(render_document("pdf/term_sheet.html", context))
    assert pages <= 3
    assert "represented by the project team" in text and "For the project team" in text
    assert "Project lead, for the recipient" not in text
    assert "towards a total cost of $12,500.00" in text
    assert "Member shares" not in text and "loans are unsecured" not in text


def test_flow_chart_labels_every_node_and_escapes_them() -> None:
    svg = charts.flow_chart(
        [charts.Node("a", "Gifts <&> more", 300, "$3.00")],
        [charts.Node("p", "Ramp & rails", 200, "$2.00"), charts.Node("u", "Left", 100, "$1.00")],
        [charts.Flow("a", "p", 200), charts.Flow("a", "u", 100), charts.Flow("a", "zz", 5)],
        title="Flow",
    )
    assert "Gifts &lt;&amp;&gt; more" in svg and "Ramp &amp; rails" in svg
    assert "$3.00" in svg and "$2.00" in svg and "$1.00" in svg
    assert svg.count("<path") == 2  # the flow to an unknown node is dropped


def test_bar_charts_show_their_figures() -> None:
    svg = charts.bar_chart([charts.Bar("North", 0.5, "50% (5 of 10)")], title="Blocks")
    assert "50% (5 of 10)" in svg and "North" in svg
    paired = charts.paired_bar_chart(
        [("Youth", charts.Bar("p", 0.2, "20% of points"), charts.Bar("m", 0.0, "0% of money"))],
        title="Areas",
    )
    assert "20% of points" in paired and "0% of money" in paired


def test_empty_round_still_renders(app: Flask) -> None:
    context = report_context(funded=[], unfunded=[], priorities=[], signatories=[], quorum=0)
    context["round"] = ROUND | {"opens_at": None, "closes_at": None, "description": ""}
    _, text = text_of(render_document("pdf/report.html", context))
    assert "No project was funded in this round." in text
    assert "not set" in text


def test_jinja_newstyle_gettext_renders_the_same_footer() -> None:
    app = make_app(app_gettext=False)
    with app.app_context():
        pages, text = text_of(render_document("pdf/term_sheet.html", term_context()))
    assert f"Page {pages} of {pages}" in text


def _baselines_mm(pdf: bytes, page_index: int) -> list[tuple[float, str]]:
    page = PdfReader(BytesIO(pdf)).pages[page_index]
    found: list[tuple[float, str]] = []

    def visit(text: str, cm: list[float], tm: list[float], *_: object) -> None:
        if text.strip():
            found.append(((tm[4] * cm[1] + tm[5] * cm[3] + cm[5]) / MM, text.strip()))

    page.extract_text(visitor_text=visit)
    return found


@pytest.mark.parametrize("board_size", [3, 14])
def test_the_stamp_zone_on_the_last_page_stays_empty(app: Flask, board_size: int) -> None:
    board = [{"name": f"Member {i}", "role": "Board member"} for i in range(board_size)]
    pdf = render_document("pdf/report.html", report_context(signatories=board))
    lines = _baselines_mm(pdf, -1)
    assert any(text.startswith("Member") for _, text in lines)
    bottom = signing.STAMP_ZONE_BOTTOM / MM - 4  # the footer's cap height stays below
    top = signing.STAMP_ZONE_TOP / MM + 1  # the zone's caption sits just above
    assert [(y, t) for y, t in lines if bottom < y < top] == []


def test_signed_report_verifies(report: bytes) -> None:
    authority = signing.create_authority(COMMUNITY["name"])
    pdf = report
    for n, person in enumerate(BOARD, start=1):
        credential = signing.issue_credential(
            authority, name=person["name"], email=f"m{n}@example.org", role=person["role"]
        )
        pdf = signing.sign_pdf(
            pdf,
            credential,
            authority.cert_pem,
            field_name=f"board-{n}",
            signer_name=person["name"],
            role=person["role"],
            reason="Approved by the board",
        )
    verdict = verification.verify_pdf(pdf, [authority.cert_pem])
    assert verdict.ok, verdict.problems
    assert [s.signer for s in verdict.signatures] == [p["name"] for p in BOARD]


# --- the URL fetcher --------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/logo.png",
        "https://example.com/style.css",
        "ftp://example.com/x",
        "file:///etc/passwd",
        f"{STATIC_ROOT.as_uri()}/../config.py",
        f"{STATIC_ROOT.as_uri()}/%2e%2e/config.py",
        "file://evil.example.com/share/x.png",
    ],
)
def test_fetcher_refuses_anything_but_static_files(url: str) -> None:
    with pytest.raises(RefusedURL):
        StaticOnlyFetcher().fetch(url)


def test_fetcher_serves_static_files_and_data_urls(tmp_path: Path) -> None:
    (tmp_path / "pdf").mkdir()
    (tmp_path / "pdf" / "mark.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    fetcher = StaticOnlyFetcher(root=tmp_path)
    response = fetcher.fetch((tmp_path / "pdf" / "mark.svg").as_uri())
    assert response.content_type == "image/svg+xml"
    assert response.read().startswith(b"<svg")
    assert fetcher.fetch("data:text/plain,hello").read() == b"hello"
    outside = tmp_path.parent / "secret.txt"
    with pytest.raises(RefusedURL):
        fetcher.fetch(outside.as_uri())


def test_rendering_skips_refused_resources() -> None:
    html = (
        '<link rel="stylesheet" href="file:///etc/passwd">'
        '<img src="http://127.0.0.1:9/tracker.png" alt="">'
        "<p>Body text</p>"
    )
    _, text = text_of(render_pdf(html))
    assert "Body text" in text and "root:" not in text


def test_method_lists_the_runs_constraints_and_the_optimizers_words(app: Flask) -> None:
    """Constraints come from the run's input snapshot, in names; explanations as stored."""
    from types import SimpleNamespace

    from pooling.document_context import constraints_of

    r = SimpleNamespace(
        priority_areas=[SimpleNamespace(id=3, name="Food security")],
        projects=[SimpleNamespace(id=7, title="Kitchen"), SimpleNamespace(id=8, title="Van")],
    )
    instance = {
        "area_shares": [{"category": "3", "min_bps": 2_000, "max_bps": None}],
        "dependencies": [["8", "7"]],
        "incompatible": [["7", "8"]],
        "min_support": 5,
        "projects": [],
    }
    listed = constraints_of(instance, r)
    assert listed == [
        "Food security: at least 20.00% of the money funded",
        "“Van” only if “Kitchen” is funded",
        "At most one of “Kitchen”, “Van”",
        "Only projects with a support of at least 5",
    ]
    assert constraints_of({"projects": [], "area_shares": [], "dependencies": []}, r) == []
    context = report_context()
    context["allocation"] = context["allocation"] | {
        "constraints": listed,
        "options": ["completion: add1"],
    }
    context["funded"] = [
        p | {"explanation": f"Funded: voters' money paid for {p['title']} <b>x</b>."}
        for p in context["funded"]
    ]
    _, text = text_of(render_document("pdf/report.html", context))
    flowing = " ".join(text.split())
    for line in listed:
        assert line in flowing
    assert "completion: add1" in flowing
    assert "Funded: voters' money paid for Community garden raised beds <b>x</b>." in flowing
