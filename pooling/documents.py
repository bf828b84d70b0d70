"""PDF documents (allocation report, term sheets) rendered from Jinja templates by WeasyPrint.

The templates get plain values only and inline their stylesheet, so rendering needs no
network and no files except the app's static folder, which is all the URL fetcher allows.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import flask
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

__all__ = [
    "STATIC_ROOT",
    "Placed",
    "RefusedURL",
    "StaticOnlyFetcher",
    "render_document",
    "render_pdf",
]
PX = 0.75  # CSS pixels (1/96 in) to PDF points (1/72 in)

STATIC_ROOT = Path(__file__).resolve().parents[1] / "commonpot" / "static"


class RefusedURL(ValueError):
    """A document asked for a resource outside the static folder."""


class StaticOnlyFetcher(URLFetcher):
    """Serves data: URLs and files under the static folder; refuses everything else.

    Template values come from members (titles, descriptions), so a document must never
    make the server read arbitrary files or call other hosts while rendering.
    """

    def __init__(self, root: Path = STATIC_ROOT) -> None:
        super().__init__(allowed_protocols=("data", "file"))
        self.root = root.resolve()

    def fetch(self, url: str, headers: dict[str, str] | None = None) -> URLFetcherResponse:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme == "data":
            return super().fetch(url, headers)
        if scheme != "file" or parts.netloc not in ("", "localhost"):
            raise RefusedURL(f"refused to fetch {url!r}: only static files and data: URLs")
        path = Path(unquote(parts.path)).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            raise RefusedURL(f"refused to fetch {url!r}: not a file in the static folder")
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(
            path.as_uri(), body=path.read_bytes(), headers={"Content-Type": content_type}
        )


@dataclass(frozen=True)
class Placed:
    """Where an element with an id landed: its page (0-based) and box in PDF points."""

    page: int
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 from the bottom-left corner


def render_pdf(html: str, *, base_url: str | None = None) -> bytes:
    """Render HTML to PDF; relative URLs resolve against the static folder by default."""
    return render_laid_out(html, base_url=base_url)[0]


def render_laid_out(
    html: str, *, base_url: str | None = None, anchor: str | None = None
) -> tuple[bytes, Placed | None]:
    """Render HTML to PDF, and say where the element with id ``anchor`` was laid out."""
    base = base_url or STATIC_ROOT.as_uri() + "/"
    laid_out = HTML(string=html, base_url=base, url_fetcher=StaticOnlyFetcher()).render()
    placed = None
    for number, page in enumerate(laid_out.pages):
        if anchor and anchor in page.anchors:
            x1, y1, x2, y2 = page.anchors[anchor]
            height = page.height * PX
            placed = Placed(number, (x1 * PX, height - y2 * PX, x2 * PX, height - y1 * PX))
            break
    return laid_out.write_pdf(), placed


def render_document(template: str, context: dict[str, Any]) -> bytes:
    """Render ``templates/<template>`` with the app's filters, then to PDF (needs app context)."""
    return render_pdf(flask.render_template(template, **context))


def render_document_laid_out(
    template: str, context: dict[str, Any], anchor: str
) -> tuple[bytes, Placed | None]:
    return render_laid_out(flask.render_template(template, **context), anchor=anchor)
