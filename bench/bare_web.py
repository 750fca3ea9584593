"""The pages' baseline: the same Jinja2 templates rendered from in-memory data (no index, no
session, no cache), on the same server stack with the same compression (level 6)."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from starlette.middleware.gzip import GZipMiddleware

from kinoteka import ugc
from kinoteka.content import CardPage, FilmView
from kinoteka.web.i18n import LOCALES, Strings
from kinoteka.web.kit import template_environment
from kinoteka.web.opinions import REVIEWS_PAGE, SCORES, FilmOpinions
from kinoteka.web.page_cache import GZIP_LEVEL
from kinoteka.web.paging import Pager

_DATA: dict[str, Any] = json.loads(
    Path(os.environ.get("KINOTEKA_BENCH_PAGES", "/dev/null")).read_text() or "{}"
)
_ENV = template_environment()
_STRINGS = Strings("en")
_COMMON = {
    "_": _STRINGS.gettext,
    "ngettext": _STRINGS.ngettext,
    "lang": "en",
    "locales": [(code, _STRINGS.language_name(code)) for code in LOCALES],
    "signed_in": False,
    "csrf_token": "",
    "public_browsing": True,
}

app = FastAPI()
app.add_middleware(GZipMiddleware, minimum_size=800, compresslevel=GZIP_LEVEL)


def _render(template: str, here: str, context: dict[str, Any]) -> HTMLResponse:
    html = _ENV.get_template(template).render(**_COMMON, here=here, **context)
    return HTMLResponse(html)


@app.get("/")
async def home() -> HTMLResponse:
    rows = [{**row, "films": CardPage.model_validate(row["films"]).items} for row in _DATA["home"]]
    return _render("home.html", "/", {"rows": rows, "genres": _DATA["genres"]})


@app.get("/films/{film_id}")
async def film(film_id: str) -> HTMLResponse:
    view = FilmView.model_validate(_DATA["film"])
    path = f"/films/{film_id}"
    # The generated films have no viewers' content: an empty summary and review list.
    opinions = FilmOpinions(
        summary=ugc.RatingSummary(
            film_id=uuid.UUID(view.uuid), average=None, count=0,
            distribution={str(score): 0 for score in SCORES}, reviews=0,
        ),
        reviews=ugc.ReviewPage(items=[], total=0),
        pager=Pager(1, REVIEWS_PAGE, 0, path, ()),
        sort="newest",
    )  # fmt: skip
    context: dict[str, Any] = {
        "film": view, "playback": None, "opinions": opinions, "scores": SCORES, "error": None,
        "draft": {}, "review_max": 5000,
    }  # fmt: skip
    return _render("film.html", path, context)


@app.get("/search")
async def search(q: str = "") -> HTMLResponse:
    found = CardPage.model_validate(_DATA["search"])
    pager = Pager(1, 24, found.total, "/search", (("q", q),))
    context = {"q": q, "films": found.items, "total": found.total, "pager": pager}
    return _render("search.html", f"/search?q={q}", context)


@app.get("/openapi.json")
async def ready() -> dict[str, str]:
    return {}
