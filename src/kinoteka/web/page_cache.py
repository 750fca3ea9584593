"""The anonymous page cache: rendered pages kept gzipped in the process, served with an ETag.

Only an anonymous GET of a page is looked up (no session cookie, a client taking gzip), and
only a page that is the same for every such visitor is kept: a 200 HTML answer that sets no
cookie and carries no CSRF token (a page with a form is rendered afresh each time). An entry
is keyed by the search index's version, the UI language, whether htmx asked for the results
alone, and the full URL. The version moves on every acknowledged write to the index and on
every rebuild, and the viewers' rating and review counters and a film's video (whether it
plays, its poster and preview) reach the index through the sync (see
`docs/architecture.md`), so after a change is visible no page rendered before it is
served; what the version does not cover (a review's text edited in place) lives at most
`KINOTEKA_WEB__PAGE_CACHE_SECONDS`. Entries are bounded by `…__PAGE_CACHE_ENTRIES`, least
recently used first out, and a newer version drops every older entry at once.
"""

from __future__ import annotations

import gzip
import time
from collections import OrderedDict
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from kinoteka.infra.csrf import csrf_token
from kinoteka.infra.etags import etag_of, not_modified
from kinoteka.web.session import COOKIE as SESSION_COOKIE

GZIP_LEVEL = 6
"""Pages' compression level (here and in the page middleware): 9 costs more CPU for ~1 % less."""
KEPT_HEADERS = ("content-type", "content-language", "cache-control", "vary")
PageKey = tuple[int, str, bool, str]


@dataclass(frozen=True)
class CachedPage:
    body: bytes
    """The page gzipped."""
    etag: str
    headers: tuple[tuple[str, str], ...]
    expires: float


class PageCache:
    """Gzipped anonymous pages of one process, `entries` at most, each for `seconds`."""

    def __init__(self, entries: int, seconds: float) -> None:
        self.entries = entries
        self.seconds = seconds
        self._pages: OrderedDict[PageKey, CachedPage] = OrderedDict()
        self._version = -1

    def __len__(self) -> int:
        return len(self._pages)

    def eligible(self, request: Request) -> bool:
        """Whether the request may be answered from (and its answer put in) the cache."""
        return (
            self.entries > 0
            and self.seconds > 0
            and request.method == "GET"
            and SESSION_COOKIE not in request.cookies
            and "gzip" in request.headers.get("accept-encoding", "")
        )

    @staticmethod
    def key(version: int, locale: str, request: Request) -> PageKey:
        return (version, locale, request.headers.get("hx-request") == "true", str(request.url))

    def _current(self, version: int) -> bool:
        """Whether entries of `version` may be read and written (older ones are dropped)."""
        if version > self._version:
            self._pages.clear()
            self._version = version
        return version == self._version

    def get(self, key: PageKey) -> CachedPage | None:
        if not self._current(key[0]):
            return None
        page = self._pages.get(key)
        if page is None:
            return None
        if page.expires <= time.monotonic():
            del self._pages[key]
            return None
        self._pages.move_to_end(key)
        return page

    def put(self, key: PageKey, request: Request, response: Response) -> CachedPage | None:
        """Keep `response` if it is the same for every anonymous visitor; the kept page."""
        if response.status_code != 200 or not self._current(key[0]):
            return None
        if not response.headers.get("content-type", "").startswith("text/html"):
            return None
        if "set-cookie" in response.headers or "content-encoding" in response.headers:
            return None
        token = csrf_token(request)
        if token and token.encode() in response.body:
            return None
        body = gzip.compress(response.body, compresslevel=GZIP_LEVEL, mtime=0)
        headers = tuple((name, response.headers[name]) for name in KEPT_HEADERS
                        if name in response.headers)  # fmt: skip
        page = CachedPage(body, etag_of(body), headers, time.monotonic() + self.seconds)
        self._pages[key] = page
        self._pages.move_to_end(key)
        while len(self._pages) > self.entries:
            self._pages.popitem(last=False)
        return page

    @staticmethod
    def respond(request: Request, page: CachedPage, status: str) -> Response:
        """The kept page (`X-Cache: hit` or `miss`), or a 304 when the client holds it."""
        headers = dict(page.headers)
        headers.update({"ETag": page.etag, "X-Cache": status})
        if not_modified(request.headers.get("if-none-match"), page.etag):
            headers.pop("content-type", None)
            return Response(status_code=304, headers=headers)
        vary = headers.get("vary")
        headers["Vary"] = f"{vary}, Accept-Encoding, HX-Request" if vary else "Accept-Encoding"
        headers.pop("vary", None)
        headers["Content-Encoding"] = "gzip"
        return Response(page.body, headers=headers)
