"""No secret in the repository: no private key or certificate bundle, no hard-coded
SECRET_KEY outside the tests (the app generates its own into instance/secret_key)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----\s*\n[A-Za-z0-9+/=]{40,}")
SECRET_ASSIGNMENT = re.compile(
    rb"""(SECRET_KEY|PASSWORD|PASSPHRASE|API_KEY|TOKEN)["']?\]?\s*[=:]\s*[bf]?["'][^"'\s]{6,}["']""",
    re.IGNORECASE,
)
KEY_FILES = (".pem", ".key", ".p12", ".pfx", ".jks", ".der")
FIXED_DEMO_PASSWORDS = {  # known, printed on purpose: `make demo` and the benchmark
    "pooling/demo.py",
    "bench/load/bench_load.py",
    "bench/load/locustfile.py",
}


def _tracked() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    return [p for p in listed.decode().split("\0") if p]


def test_no_private_key_or_key_file_is_committed():
    files = _tracked()
    assert files, "git ls-files listed nothing"
    assert [f for f in files if f.lower().endswith(KEY_FILES)] == []
    holding = [
        f for f in files if (ROOT / f).is_file() and PRIVATE_KEY.search((ROOT / f).read_bytes())
    ]
    assert holding == []


def test_no_hard_coded_secret_outside_the_tests():
    found = []
    for name in _tracked():
        if (
            name.startswith("tests/")
            or name in FIXED_DEMO_PASSWORDS
            or not name.endswith(
                (
                    ".py",
                    ".toml",
                    ".ini",
                    ".cfg",
                    ".env",
                    ".yml",
                    ".yaml",
                    ".json",
                    ".sh",
                    "Makefile",
                )
            )
        ):
            continue
        for line in (ROOT / name).read_bytes().splitlines():
            if SECRET_ASSIGNMENT.search(line):
                found.append(f"{name}: {line.decode(errors='replace').strip()}")
    assert found == []


def test_the_patterns_catch_what_they_are_for():
    assert SECRET_ASSIGNMENT.search(b'SECRET_KEY = "s3cr3t-value"')
    assert SECRET_ASSIGNMENT.search(b'app.config["SECRET_KEY"] = "hard-coded-one"')
    assert not SECRET_ASSIGNMENT.search(b'SECRET_KEY = os.environ["SECRET_KEY"]')
    key = b"-----BEGIN PRIVATE KEY-----\n" + b"MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" * 3
    assert PRIVATE_KEY.search(key)
