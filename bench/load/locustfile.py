"""Load for bench_load.py: residents submitting ballots and pledging through the real pages
(session cookie, CSRF token, validation, the one response per member, the audit event).

Each simulated resident signs in once with its own account (residentNNN@bench.test),
reads its survey page for the token and the field names, then keeps submitting; the
statistics restart when the last one has signed in (BENCH_USERS), so the measured window
holds no sign-in. Pledgers go round a pledge's life: make, confirm, cancel. Paced voters
submit at a set rate (BENCH_RATE, all of them together). The ceiling user posts to the
bare insert endpoint. BENCH_CLOSE=1 sends `Connection: close` on every POST. Requests are
checked by status: a ballot saved is a 302 to the pledge page, anything else is a failure.
"""

from __future__ import annotations

import itertools
import os
import random
import re
from urllib.parse import urlencode

from locust import FastHttpUser, constant, constant_throughput, task

ROUND = os.environ.get("BENCH_ROUND_PATH", "/c/bench/rounds/1")
PASSWORD = "bench-password-123"
MAX_APPROVALS = int(os.environ.get("BENCH_MAX_APPROVALS", "5"))
USERS = int(os.environ.get("BENCH_USERS", "0"))
_accounts = itertools.count(1)
_signed_in = itertools.count(1)
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
if os.environ.get("BENCH_CLOSE"):
    FORM["Connection"] = "close"


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


class Resident(FastHttpUser):
    abstract = True
    wait_time = constant(0)

    def on_start(self) -> None:
        self.email = f"resident{next(_accounts):03d}@bench.test"
        page = self.client.get("/login", name="GET /login").text
        with self.client.post(
            "/login",
            data=urlencode({"csrf_token": _token(page), "email": self.email, "password": PASSWORD}),
            headers=FORM,
            allow_redirects=False,
            name="POST /login",
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"sign-in refused: {response.status_code}")
        survey = self.client.get(f"{ROUND}/survey", name="GET survey").text
        self.csrf = _token(survey)
        self.areas = re.findall(r'name="(area_\d+)"', survey)
        self.projects = re.findall(r'name="approvals" type="checkbox" value="(\d+)"', survey)
        if next(_signed_in) == USERS:
            # Everyone is in: measure from here, without the sign-ins' password hashing.
            self.environment.stats.reset_all()

    def post(self, path: str, fields: list[tuple[str, str]], name: str, expect: int = 302):
        with self.client.post(
            path,
            data=urlencode([("csrf_token", self.csrf), *fields]),
            headers=FORM,
            allow_redirects=False,
            name=name,
            catch_response=True,
        ) as response:
            if response.status_code != expect:
                response.failure(f"{response.status_code}: {response.text[:300]!r}")
            return response


class Voter(Resident):
    @task
    def submit_ballot(self) -> None:
        ranks = list(range(1, len(self.areas) + 1))
        random.shuffle(ranks)
        picks = random.sample(self.projects, random.randint(1, MAX_APPROVALS))
        fields = [
            *zip(self.areas, map(str, ranks), strict=True),
            *(("approvals", p) for p in picks),
        ]
        self.post(f"{ROUND}/survey", fields, "POST ballot")


class PacedVoter(Voter):
    """A voter at a set pace: together the BENCH_USERS of them send BENCH_RATE ballots a
    second, so the latencies are those at that load, not at saturation (where with no
    think time they are only the queue: users / requests per second)."""

    wait_time = constant_throughput(float(os.environ.get("BENCH_RATE", "1")) / max(USERS, 1))


class Pledger(Resident):
    @task
    def pledge_confirm_cancel(self) -> None:
        amount = f"{random.randint(5, 500)}.00"
        made = self.post(
            f"{ROUND}/pledge",
            [
                ("instrument", "donation"),
                ("amount", amount),
                ("target", "pot"),
                ("condition", "keep_it_all"),
            ],
            "POST pledge",
        )
        found = re.search(r"/pledges/(\d+)", made.headers.get("Location", ""))
        if not found:
            return
        pledge = f"{ROUND}/pledges/{found.group(1)}"
        self.post(f"{pledge}/confirm", [], "POST pledge confirm")
        self.post(f"{pledge}/cancel", [], "POST pledge cancel")


class Ceiling(FastHttpUser):
    wait_time = constant(0)

    @task
    def insert(self) -> None:
        with self.client.post(
            "/insert",
            data=urlencode({"payload": "x" * 40}),
            headers=FORM,
            name="POST insert",
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(str(response.status_code))
