"""One person's way through the site: every step screenshotted and audited with axe-core.

A Journey remembers each page its browser landed on; `finish()` fails when one of them was
never audited, so a new step cannot slip past the accessibility check. Script errors and
Content-Security-Policy refusals fail it too.
"""

from __future__ import annotations

import re
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe

from tests import factories

ARTIFACTS = Path(__file__).parent / "artifacts"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = {"serious", "critical"}
_axe = Axe()


def _describe(violation: dict) -> str:
    where = ", ".join(" ".join(map(str, n["target"])) for n in violation["nodes"][:5])
    return f"{violation['id']} ({violation['impact']}): {violation['help']} at {where}"


def _address(url: str) -> str:
    return url.split("#", 1)[0]


class Journey:
    def __init__(self, page, base: str, folder: Path) -> None:
        self.page, self.base, self.folder = page, base, folder
        folder.mkdir(parents=True, exist_ok=True)
        for old in [*folder.glob("*.png"), *folder.glob("axe.txt")]:
            old.unlink()
        self.steps = 0
        self.visited: list[str] = []
        self.audited: set[str] = set()
        self.problems: list[str] = []
        page.on("framenavigated", self._landed)
        page.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))
        page.on("console", self._console)

    def _landed(self, frame) -> None:
        if frame == self.page.main_frame and frame.url.startswith(self.base):
            self.visited.append(_address(frame.url))

    def _console(self, message) -> None:
        if message.type == "error" and re.search(
            r"Content Security Policy|Refused to", message.text
        ):
            self.problems.append(f"{self.page.url}: {message.text}")

    # -- moving around ---------------------------------------------------------------

    def go(self, path: str) -> None:
        self.page.goto(self.base + path)

    def sign_in(self, email: str, password: str = factories.PASSWORD) -> None:
        self.go("/login")
        self.step("sign-in")
        self.page.get_by_label("Email").fill(email)
        self.page.get_by_label("Password").fill(password)
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="Sign in").click()
        self.step("signed-in")

    def main_text(self) -> str:
        return self.page.locator("main").inner_text()

    # -- looking at it ------------------------------------------------------------------

    def step(self, name: str) -> Path:
        """Screenshot the page as it is and audit it; returns the screenshot's path."""
        self.page.wait_for_load_state("load")
        self.steps += 1
        shot = self.folder / f"{self.steps:02d}-{name}.png"
        self.page.screenshot(path=str(shot), full_page=True)
        self.audit(name)
        return shot

    def audit(self, name: str) -> None:
        """axe-core, WCAG 2.1 A and AA rules: no serious or critical violation."""
        results = _axe.run(
            self.page,
            options={
                "runOnly": {"type": "tag", "values": WCAG_21_AA},
                "resultTypes": ["violations"],
            },
        )
        violations = results.response["violations"]
        with (self.folder / "axe.txt").open("a") as report:  # every finding, for a person
            for v in violations:
                report.write(f"{self.steps:02d}-{name} {self.page.url}: {_describe(v)}\n")
        blocking = [_describe(v) for v in violations if v["impact"] in BLOCKING]
        assert blocking == [], f"step {name} ({self.page.url}): " + "; ".join(blocking)
        self.audited.add(_address(self.page.url))

    def finish(self) -> None:
        never = sorted(set(self.visited) - self.audited)
        assert never == [], f"pages visited but never audited: {never}"
        assert self.problems == []
