"""The benchmarks' tables in docs/benchmarks.md: each between its own two markers."""

from __future__ import annotations

from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def write_block(begin: str, end: str, text: str, heading: str) -> None:
    """Replace what lies between `begin` and `end` with `text`; the first time, append
    the markers and the text under `heading`."""
    doc = DOC.read_text()
    block = f"{begin}\n{text}\n{end}"
    if begin in doc:
        before, rest = doc.split(begin, 1)
        doc = before + block + rest.split(end, 1)[1]
    else:
        doc = doc.rstrip() + f"\n\n## {heading}\n\n" + block + "\n"
    DOC.write_text(doc)
