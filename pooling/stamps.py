"""Where signature stamps go and what they say: a 3 x 3 zone at the bottom of the last page
(templates/pdf/document.css keeps it empty), text fitted to the standard Helvetica font.

Pure layout arithmetic over pyHanko's objects; `pooling.signing` applies the signatures.
"""

from __future__ import annotations

import unicodedata
from dataclasses import replace

from pyhanko.pdf_utils import generic, layout
from pyhanko.pdf_utils.font.basic import SimpleFontEngineFactory
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign import fields
from pyhanko.stamp import TextStampStyle

# Stamp zone on the last page, in PDF points from the bottom-left corner. The templates
# (templates/pdf/document.css, @page signatures) keep this band empty: 86 mm bottom margin.
MM = 72 / 25.4
STAMP_MARGIN_X = 18 * MM  # same as the pages' side margins
STAMP_ZONE_BOTTOM = 18 * MM  # the page-number footer sits below this
STAMP_ZONE_TOP = 77 * MM
STAMP_COLUMNS = 3
STAMP_ROWS = 3
STAMP_GAP_X = 4 * MM
STAMP_GAP_Y = 3 * MM
A4 = (595.28, 841.89)

# Helvetica (a standard font: nothing to embed) at 9/10 pt, four lines, left-aligned.
# sign_pdf swaps in a font whose average width fits the actual text (_stamp_style).
_FLUSH = layout.SimpleBoxLayoutRule(
    x_align=layout.AxisAlignment.ALIGN_MIN, y_align=layout.AxisAlignment.ALIGN_MID
)
STAMP_STYLE = TextStampStyle(
    stamp_text="%(heading)s\n%(signer)s\n%(role)s\n%(ts)s",
    timestamp_format="%d %b %Y, %H:%M %Z",
    text_box_style=TextBoxStyle(
        font=SimpleFontEngineFactory("Helvetica", 0.55),
        font_size=9,
        leading=10,
        box_layout_rule=_FLUSH,  # no inner padding; the stamp's margins below do that
    ),
    inner_content_layout=_FLUSH.substitute_margins(
        layout.Margins(left=8, right=6, top=4, bottom=5)
    ),
    border_width=1,
    border_color=(0.12, 0.44, 0.36),  # the templates' accent colour
    background=None,
)


def stamp_box(index: int, page_size: tuple[float, float] = A4) -> tuple[int, int, int, int] | None:
    """Box of the ``index``-th stamp (0-based): rows of three filling the zone top-down.

    Returns None (an invisible signature) once the zone is full, never a box over text.
    """
    if index >= STAMP_COLUMNS * STAMP_ROWS:
        return None
    width = page_size[0]
    row, column = divmod(index, STAMP_COLUMNS)
    stamp_w = (width - 2 * STAMP_MARGIN_X - (STAMP_COLUMNS - 1) * STAMP_GAP_X) / STAMP_COLUMNS
    stamp_h = (STAMP_ZONE_TOP - STAMP_ZONE_BOTTOM - (STAMP_ROWS - 1) * STAMP_GAP_Y) / STAMP_ROWS
    x1 = STAMP_MARGIN_X + column * (stamp_w + STAMP_GAP_X)
    y2 = STAMP_ZONE_TOP - row * (stamp_h + STAMP_GAP_Y)
    return (round(x1), round(y2 - stamp_h), round(x1 + stamp_w), round(y2))


def _stamps_in_zone(reader: PdfFileReader) -> int:
    """How many signature widgets already sit in the stamp zone (fields placed elsewhere,
    such as the lead's, do not take a place in it)."""
    count = 0
    for _name, _value, ref in fields.enumerate_sig_fields(reader):
        field = ref.get_object()
        widgets = [field] if "/Rect" in field else [k.get_object() for k in field.get("/Kids", ())]
        if not widgets:
            count += 1  # an invisible signature: it took a place when it was made
            continue
        rect = [float(v) for v in widgets[0].get("/Rect", (0, 0, 0, 0))]
        if max(rect[1], rect[3]) <= STAMP_ZONE_TOP + 1 or rect == [0.0, 0.0, 0.0, 0.0]:
            count += 1
    return count


def _page_size(reader: PdfFileReader, page_ix: int) -> tuple[float, float]:
    """Width and height of a page, following /Parent for an inherited MediaBox."""
    node: generic.PdfObject | None = reader.find_page_for_modification(page_ix)[0].get_object()
    while isinstance(node, generic.DictionaryObject):
        if "/MediaBox" in node:
            x1, y1, x2, y2 = (float(v) for v in node["/MediaBox"])
            return abs(x2 - x1), abs(y2 - y1)
        node = node["/Parent"] if "/Parent" in node else None
    return A4


# Helvetica advance widths (AFM, 1/1000 em) for ASCII 32..126, to size stamp text honestly.
_HELVETICA = dict(
    zip(
        map(chr, range(32, 127)),
        map(
            int,
            """278 278 355 556 556 889 667 191 333 333 389 584 278 333 278 278 556 556 556 556
            556 556 556 556 556 556 278 278 584 584 584 556 1015 667 667 722 722 667 611 778
            722 278 500 667 556 833 722 778 667 778 722 667 611 722 667 944 667 667 611 278 278
            278 469 556 333 556 556 500 556 556 278 556 556 222 222 500 222 833 556 556 556 556
            333 500 278 556 500 722 500 500 500 334 260 334 584""".split(),
        ),
        strict=True,
    )
)


def _stamp_style(lines: list[str]) -> TextStampStyle:
    """The stamp style with an average glyph width that makes the widest line fit.

    pyHanko sizes text as characters x average width; feeding it the real widest line's
    width means long or capital-heavy names shrink to fit instead of crossing the border.
    """
    widest = max(sum(_HELVETICA.get(_base(c), 667) for c in line) for line in lines) / 1000
    average = widest / max(len(line) for line in lines)
    font = SimpleFontEngineFactory("Helvetica", average)
    return replace(STAMP_STYLE, text_box_style=replace(STAMP_STYLE.text_box_style, font=font))


def _base(char: str) -> str:
    return unicodedata.normalize("NFKD", char)[:1] or char


# Letters NFKD does not reduce to ASCII.
_FOLD = str.maketrans({"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Œ": "OE", "œ": "oe", "ı": "i"})


def _stamp_text(value: str) -> str:
    """Fit text to the stamp's standard font, which only has Latin-1 glyphs (WinAnsi).

    Accents outside Latin-1 are dropped, other scripts left out; the signature itself
    still carries the full name from the certificate.
    """
    out = []
    for char in value.translate(_FOLD):
        if 0x20 <= ord(char) < 0x7F or (0xA1 <= ord(char) <= 0xFF and char != "\xad"):
            out.append(char)
        elif char.isspace():
            out.append(" ")
        else:
            out.append(unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode())
    return " ".join("".join(out).split()) or "?"
