"""Tools for the hostile-input tests: the forms a page offers (read from its HTML, as a
browser would), hostile values for each kind of field, and a snapshot of every table to
prove that a refused request saved nothing.

Example counts come from the `hostile` hypothesis profile: COMMONPOT_FUZZ_EXAMPLES raises
them for a deeper run (the suite keeps them small to stay fast).
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass, field
from html.parser import HTMLParser

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from sqlalchemy import select

from commonpot.extensions import db

settings.register_profile(
    "hostile",
    max_examples=int(os.environ.get("COMMONPOT_FUZZ_EXAMPLES", "5")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
HOSTILE = settings.get_profile("hostile")

# -- forms as the page shows them ---------------------------------------------------------


@dataclass
class Field:
    name: str
    kind: str  # text, textarea, select, checkbox, radio, file, hidden, number, date, ...
    options: list[str] = field(default_factory=list)
    value: str = ""


@dataclass
class Form:
    action: str
    multipart: bool
    fields: dict[str, Field] = field(default_factory=dict)

    def editable(self) -> list[Field]:
        return [f for f in self.fields.values() if f.kind not in ("hidden", "submit", "button")]

    def signature(self) -> tuple:
        return (self.action, tuple(sorted(self.fields)))


class _FormParser(HTMLParser):
    def __init__(self, page_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page_url = page_url
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: Field | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method", "get").lower() == "post":
            self._form = Form(a.get("action") or self.page_url, "multipart" in a.get("enctype", ""))
            self.forms.append(self._form)
        if self._form is None or "name" not in a and tag != "option":
            return
        if tag == "input":
            kind = a.get("type", "text").lower()
            known = self._form.fields.get(a["name"])
            if known and kind in ("checkbox", "radio"):
                known.options.append(a.get("value", "on"))
            else:
                options = [a.get("value", "on")] if kind in ("checkbox", "radio") else []
                self._form.fields[a["name"]] = Field(a["name"], kind, options, a.get("value", ""))
        elif tag == "textarea":
            self._form.fields[a["name"]] = Field(a["name"], "textarea")
        elif tag == "select":
            self._select = Field(a["name"], "select")
            self._form.fields[a["name"]] = self._select
        elif tag == "option" and self._select is not None:
            self._select.options.append(a.get("value", ""))

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


def forms_of(page_url: str, html: str) -> list[Form]:
    parser = _FormParser(page_url)
    parser.feed(html)
    return parser.forms


# -- hostile values ------------------------------------------------------------------------

SPECIAL = [
    "<script>alert(1)</script>",
    '"><svg onload=alert(1)>',
    "' OR 1=1; DROP TABLE project; --",
    "\u202eevil\u0000nul",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ☃ 中文 العربية 🏳️‍🌈",
    "-1",
    "-0.01",
    "0",
    "1e309",
    "NaN",
    "Infinity",
    "99999999999999999999999999",
    "1,000,000,000,000.00",
    "１２３",
    " ",
    "",
    "2026-13-45",
    "2026-02-30T25:61",
    "../../etc/passwd",
]


def hostile_text() -> st.SearchStrategy[str]:
    long_text = st.tuples(st.text(min_size=1, max_size=3), st.integers(300, 40_000)).map(
        lambda t: t[0] * t[1]
    )
    return st.one_of(
        st.sampled_from(SPECIAL),
        st.text(max_size=40),
        long_text,
        st.integers(-(10**25), 10**25).map(str),
        st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
    )


MALFORMED_CSV = [
    b"name,block,member_number\n",
    b"\xff\xfe\x00b\x00a\x00d",
    b"name;block;member_number;birth_year\nAna;B1;1;1990\n",
    b"name,block,member_number,birth_year\nAna,B1,1,1990\nBo,B2,1,1991\n",
    b"name,block,member_number,birth_year\n<script>,B1,2,-5\n,,,\n",
    b'name,block,member_number,birth_year\n"unclosed,B1,3,1990\n',
]
MALFORMED_PABULIB = [
    b"META\nkey;value\nbudget;100\nvote_type;approval\nPROJECTS\nproject_id;cost\n1;-5\n",
    b"META\nkey;value\nbudget;abc\nPROJECTS\nproject_id;cost\n1;10\nVOTES\nvoter_id;vote\nv;1\n",
    b"META\nkey;value\nvote_type;wat\nPROJECTS\nproject_id;cost\n1;10\n1;20\nVOTES\n",
    b"PROJECTS\nproject_id;cost\n",
    b"META\nkey;value\nbudget;10\nvote_type;cumulative\nPROJECTS\nproject_id;cost\n1;10\n"
    b"VOTES\nvoter_id;vote;points\nv;1;-3\n",
]


def hostile_file() -> st.SearchStrategy[tuple[bytes, str]]:
    content = st.one_of(
        st.binary(max_size=3000),
        st.sampled_from(MALFORMED_CSV),
        st.sampled_from(MALFORMED_PABULIB),
        st.binary(max_size=2000).map(lambda b: b"%PDF-1.7\n" + b),
        hostile_text().map(lambda t: t.encode("utf-8", "surrogatepass")),
    )
    names = st.sampled_from(["file.csv", "x.pb", "doc.pdf", "../../evil.pb", "", "ü.csv"])
    return st.tuples(content, names)


def field_values(f: Field) -> st.SearchStrategy:
    if f.kind == "file":
        return hostile_file()
    if f.kind == "select" and f.options:
        return st.one_of(st.sampled_from(f.options), hostile_text())
    if f.kind == "checkbox":
        return st.lists(st.one_of(st.sampled_from(f.options), hostile_text()), max_size=4)
    if f.kind == "radio":
        return st.one_of(st.sampled_from(f.options), hostile_text())
    return hostile_text()


def fill(form: Form, draw) -> dict:
    """A submission of the form: the CSRF token as the page gave it, every editable field
    hostile (or left out), hidden fields sometimes tampered with."""
    data: dict = {}
    for f in form.fields.values():
        if f.kind in ("submit", "button"):
            continue
        if f.name == "csrf_token":
            data[f.name] = f.value
            continue
        if f.kind == "hidden":
            data[f.name] = draw(st.one_of(st.just(f.value), hostile_text()))
            continue
        if draw(st.integers(0, 9)) == 0:
            continue  # a field left out of the request altogether
        value = draw(field_values(f))
        if f.kind == "file":
            content, name = value
            data[f.name] = (io.BytesIO(content), name)
        else:
            data[f.name] = value
    return data


# -- nothing saved -------------------------------------------------------------------------

UNTRACKED = {"login_failure"}  # a failed sign-in is counted on purpose, on its own connection


def snapshot() -> dict[str, str]:
    """A digest of every row of every table (sign-in failures aside)."""
    digests = {}
    for table in db.metadata.sorted_tables:
        if table.name in UNTRACKED:
            continue
        rows = db.session.execute(select(table).order_by(*table.primary_key.columns)).all()
        digests[table.name] = hashlib.sha256(repr(rows).encode()).hexdigest()
    db.session.commit()
    return digests
