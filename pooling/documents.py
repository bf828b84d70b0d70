"""PDF documents (allocation report, term sheets) rendered from Jinja templates by WeasyPrint.

The templates get plain values only and inline their stylesheet, so rendering needs no
network and no files except the app's static folder, which is all the URL fetcher allows.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import flask
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

__all__ = ["STATIC_ROOT", "RefusedURL", "StaticOnlyFetcher", "render_document", "render_pdf"]

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


def render_pdf(html: str, *, base_url: str | None = None) -> bytes:
    """Render HTML to PDF; relative URLs resolve against the static folder by default."""
    base = base_url or STATIC_ROOT.as_uri() + "/"
    return HTML(string=html, base_url=base, url_fetcher=StaticOnlyFetcher()).write_pdf()


def render_document(template: str, context: dict[str, Any]) -> bytes:
    """Render ``templates/<template>`` with the app's filters, then to PDF (needs app context)."""
    return render_pdf(flask.render_template(template, **context))
