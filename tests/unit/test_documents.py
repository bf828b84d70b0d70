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

from pooling import signing, verification
from pooling.documents import (
    STATIC_ROOT,
    RefusedURL,
    StaticOnlyFetcher,
    render_document,
    render_pdf,
)

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
        "priorities": [
            {"name": "Food security", "score": 412, "share": 0.38},
            {"name": "Youth", "score": 231, "share": 0.213},
        ],
        "participation": {
            "members": 142,
            "responses": 96,
            "pledgers": 58,
            "pledged_cents": 1_840_000,
        },
        "signatories": BOARD,
        "quorum": 2,
        "generated_at": datetime(2027, 4, 3, 10, 15, tzinfo=UTC),
    }
    return context | changes


def term_context(**changes: Any) -> dict[str, Any]:
    project = FUNDED[0]
    context: dict[str, Any] = {
        "community": COMMUNITY,
        "round": ROUND,
        "project": {
            "id": project["id"],
            "title": project["title"],
            "category": project["category"],
            "description": "Twelve raised beds with drip irrigation behind the library.",
            "lead": "Amara Okafor",
            "cost_cents": project["cost_cents"],
        },
        "funded_cents": project["funded_cents"],
        "sources": [
            {
                "label": GRANT,
                "kind": "grant",
                "cents": 500_000,
                "conditions": "Food security projects only. Keep receipts for the county audit.",
            },
            {"label": "Member pool", "kind": "pool", "cents": 750_000, "conditions": ""},
        ],
        "pledges": {"count": 23, "total_cents": 410_000},
        "signatories": BOARD,
        "quorum": 2,
        "generated_at": datetime(2027, 4, 3, 10, 15, tzinfo=UTC),
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
    assert 1 <= pages <= 3
    assert FUNDED[0]["title"] in text
    assert money(FUNDED[0]["funded_cents"]) in text
    assert money(500_000) in text and money(750_000) in text
    assert "Keep receipts for the county audit." in text
    assert "Amara Okafor" in text and "Project lead" in text


def test_term_sheet_without_lead_or_conditions(app: Flask) -> None:
    context = term_context()
    context["project"] = context["project"] | {"lead": None}
    context["sources"] = [{"label": "Member pool", "kind": "pool", "cents": 100, "conditions": ""}]
    context["funded_cents"] = 100
    _, text = text_of(render_document("pdf/term_sheet.html", context))
    assert "the project team" in text and "Project lead" not in text
    assert "towards a total cost of $12,500.00" in text


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
