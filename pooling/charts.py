"""Charts for the PDF documents, drawn as inline SVG from plain values (pure: no app, no DB).

WeasyPrint draws inline SVG without scripts. Every mark carries its words: nodes and bars
are labelled with their name and figure, so a chart still reads when printed in grey.
Sizes are in SVG user units; each chart is drawn 600 units wide and scaled to the text
column (about 174 mm), so 1 unit is about 0.29 mm and a 9-unit font is about 7.5 pt.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from markupsafe import Markup

WIDTH = 600
FONT = 'font-family="DejaVu Sans, Arial, sans-serif"'
INK, MUTED, TRACK = "#1a1a1a", "#555555", "#e4e8e6"
# Dark to light, far enough apart to tell in grey; the labels carry the meaning anyway.
PALETTE = ("#1f705c", "#7aa99b", "#3d4f4a", "#b7c9c2", "#8a6d3b", "#c9b68f", "#5c5c5c")


@dataclass(frozen=True)
class Node:
    key: str
    label: str
    value: int  # cents, or any non-negative measure
    shown: str  # the figure as printed


@dataclass(frozen=True)
class Flow:
    source: str
    target: str
    value: int


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    shown: str


def _text(
    x: float, y: float, body: str, *, size: float = 9, anchor: str = "start", **attrs: str
) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in attrs.items())
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}"'
        f' fill="{INK}"{extra}>{escape(body)}</text>'
    )


def _svg(height: float, body: list[str], title: str) -> Markup:
    return Markup(
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" role="img"'
        f' viewBox="0 0 {WIDTH} {height:.0f}" width="100%" {FONT}>'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def shorten(label: str, limit: int) -> str:
    return label if len(label) <= limit else label[: limit - 1].rstrip() + "…"


# -- bars ------------------------------------------------------------------------------

BAR_LABEL_W = 190  # the label column
BAR_ROW = 22


def bar_chart(bars: list[Bar], *, title: str) -> Markup:
    """Horizontal bars scaled to the largest value, each with its label and figure."""
    top = max((b.value for b in bars), default=0) or 1
    span = WIDTH - BAR_LABEL_W - 110
    body = []
    for i, bar in enumerate(bars):
        y = i * BAR_ROW
        width = max(0.0, span * bar.value / top)
        body += [
            _text(0, y + 13, shorten(bar.label, 36)),
            f'<rect x="{BAR_LABEL_W}" y="{y + 4}" width="{span}" height="12" fill="{TRACK}"/>',
            f'<rect x="{BAR_LABEL_W}" y="{y + 4}" width="{width:.1f}" height="12"'
            f' fill="{PALETTE[0]}"/>',
            _text(BAR_LABEL_W + span + 6, y + 13, bar.shown),
        ]
    return _svg(len(bars) * BAR_ROW + 2, body, title)


def paired_bar_chart(rows: list[tuple[str, Bar, Bar]], *, title: str) -> Markup:
    """Two bars per row (e.g. a priority's share of points and of money), both labelled."""
    top = max((max(a.value, b.value) for _, a, b in rows), default=0) or 1
    span = WIDTH - BAR_LABEL_W - 150
    body, row = [], 30
    for i, (label, first, second) in enumerate(rows):
        y = i * row
        body.append(_text(0, y + 15, shorten(label, 36)))
        for j, (bar, fill) in enumerate(((first, PALETTE[0]), (second, PALETTE[3]))):
            top_y = y + 3 + j * 12
            width = max(0.0, span * bar.value / top)
            body += [
                f'<rect x="{BAR_LABEL_W}" y="{top_y}" width="{width:.1f}" height="10"'
                f' fill="{fill}" stroke="{PALETTE[0]}" stroke-width="0.6"/>',
                _text(BAR_LABEL_W + width + 5, top_y + 8.5, bar.shown, size=8.5),
            ]
    return _svg(len(rows) * row + 2, body, title)


# -- flows -----------------------------------------------------------------------------

LEFT_BAR, RIGHT_BAR, BAR_W = 168.0, 424.0, 8.0
SLOT_MIN, GAP, BAND_SPAN = 24.0, 6.0, 250.0  # a slot holds two label lines


@dataclass(frozen=True)
class _Placed:
    node: Node
    top: float  # of the bar
    height: float
    centre: float  # of the slot, where the label goes


def _place(nodes: list[Node], scale: float) -> list[_Placed]:
    placed, y = [], 0.0
    for node in nodes:
        height = max(1.0, node.value * scale)
        slot = max(SLOT_MIN, height)
        top = y + (slot - height) / 2
        placed.append(_Placed(node, top, height, y + slot / 2))
        y += slot + GAP
    return placed


def _band(x0: float, y0: float, x1: float, y1: float, thick: float, fill: str) -> str:
    mid = (x0 + x1) / 2
    return (
        f'<path d="M {x0:.1f} {y0:.2f} C {mid:.1f} {y0:.2f} {mid:.1f} {y1:.2f} {x1:.1f} {y1:.2f}'
        f" L {x1:.1f} {y1 + thick:.2f} C {mid:.1f} {y1 + thick:.2f} {mid:.1f} {y0 + thick:.2f}"
        f' {x0:.1f} {y0 + thick:.2f} Z" fill="{fill}" fill-opacity="0.5"/>'
    )


def _labels(p: _Placed, x: float, anchor: str, limit: int) -> list[str]:
    return [
        _text(x, p.centre - 1.5, shorten(p.node.label, limit), anchor=anchor, font_weight="bold"),
        _text(x, p.centre + 9.5, p.node.shown, anchor=anchor, size=8.5),
    ]


def flow_chart(
    sources: list[Node], targets: list[Node], flows: list[Flow], *, title: str
) -> Markup:
    """Money from sources (left) to targets (right); band thickness is proportional to money.

    Every node is labelled with its name and amount; bands take their source's tone.
    """
    total = max(sum(n.value for n in sources), sum(n.value for n in targets)) or 1
    scale = BAND_SPAN / total
    left, right = _place(sources, scale), _place(targets, scale)
    fills = {p.node.key: PALETTE[i % len(PALETTE)] for i, p in enumerate(left)}
    out_at = {p.node.key: p.top for p in left}
    in_at = {p.node.key: p.top for p in right}
    body = []
    for flow in flows:
        if flow.value <= 0 or flow.source not in out_at or flow.target not in in_at:
            continue
        thick = flow.value * scale
        body.append(
            _band(
                LEFT_BAR + BAR_W,
                out_at[flow.source],
                RIGHT_BAR,
                in_at[flow.target],
                thick,
                fills[flow.source],
            )
        )
        out_at[flow.source] += thick
        in_at[flow.target] += thick
    for p in left:
        body.append(_bar(LEFT_BAR, p, fills[p.node.key]))
        body += _labels(p, LEFT_BAR - 5, "end", 30)
    for p in right:
        body.append(_bar(RIGHT_BAR, p, INK))
        body += _labels(p, RIGHT_BAR + BAR_W + 5, "start", 30)
    height = max(_bottom(left), _bottom(right))
    return _svg(height, body, title)


def _bar(x: float, p: _Placed, fill: str) -> str:
    return (
        f'<rect x="{x:.1f}" y="{p.top:.2f}" width="{BAR_W}" height="{p.height:.2f}" fill="{fill}"/>'
    )


def _bottom(placed: list[_Placed]) -> float:
    if not placed:
        return 0.0
    last = placed[-1]
    return last.centre + max(SLOT_MIN, last.height) / 2 + 1
