"""Debian's Chromium driven by Playwright against the app served by gunicorn (the `site`
fixture of tests/conftest.py: two workers, PostgreSQL migrated by Alembic).

Under CI=true a missing Chromium fails the run; elsewhere the browser tests skip.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser.journey import ARTIFACTS, Journey

CHROMIUM = Path(os.environ.get("COMMONPOT_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def pytest_runtest_setup(item):
    """Before any fixture: without Chromium, no gunicorn or database is started for nothing."""
    if not CHROMIUM.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but Chromium is not installed at {CHROMIUM}")
        pytest.skip(f"Chromium not installed at {CHROMIUM} (apt-get install chromium)")


@pytest.fixture(scope="module")
def browser():
    """Module-scoped: Playwright's sync API keeps an event loop running while it is open,
    and other tests (pyHanko's signing) need the thread free of it."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def journey(browser, site, request):
    """Make a Journey: one person's browser context, screenshots and accessibility audits
    under tests/browser/artifacts/<test>/<who>/."""
    contexts = []
    folder = ARTIFACTS / request.node.name

    def make(who: str) -> Journey:
        context = browser.new_context(
            viewport={"width": 1200, "height": 900}, accept_downloads=True
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return Journey(context.new_page(), site.url, folder / who)

    yield make
    for context in contexts:
        context.close()
