"""The catalog pages: home, search, genres, film, person, and the player with its events."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import orjson
import structlog
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from kinoteka import analytics, content
from kinoteka.web import opinions, viewing
from kinoteka.web.kit import WebKit, page_route
from kinoteka.web.paging import MAX_PAGE, Pager
from kinoteka.web.playback import PlaybackInfo

log = structlog.get_logger(__name__)

SortValue = Literal["-imdb_rating", "imdb_rating", "title", "-title", "-added"]
PageNumber = Annotated[int, Query(ge=1, le=MAX_PAGE)]
MAX_BATCH_BYTES = 64 * 1024


def catalog_router(kit: WebKit) -> APIRouter:
    router = APIRouter(include_in_schema=False, route_class=page_route(kit))

    @router.get("/", name="web_home")
    async def home(request: Request) -> Response:
        session = await kit.browsing(request)
        size = kit.settings.row_size
        shelves: HomeShelves = await kit.home_shelves.get(
            lambda: _read_shelves(kit), await kit.index_version(request)
        )
        rows: list[dict[str, Any]] = []
        if session is not None and session.claims is not None:
            films = await viewing.continue_watching_cards(
                kit.services, kit.queries(), session.claims.subject, limit=size
            )
            if films:
                rows.append({"key": "continue", "title": None, "films": films, "more": None})
        rows.extend(shelves.rows)
        return await kit.render(request, "home.html", {"rows": rows, "genres": shelves.genres})

    @router.get("/search", name="web_search")
    async def search(
        request: Request,
        q: Annotated[str, Query(max_length=200)] = "",
        page: PageNumber = 1,
    ) -> Response:
        await kit.browsing(request)
        size = kit.settings.page_size
        found = await kit.queries().search_film_cards(
            text=q, page=content.Page(size=size, number=page)
        )
        context = {
            "q": q,
            "films": found.items,
            "total": found.total,
            "pager": Pager.of(request, page, size, found.total),
        }
        if request.headers.get("hx-request") == "true":
            return await kit.render(request, "_search_results.html", context)
        return await kit.render(request, "search.html", context)

    @router.get("/genres", name="web_genres")
    async def genres(request: Request) -> Response:
        await kit.browsing(request)
        return await kit.render(
            request, "genres.html", {"genres": await kit.queries().list_genres()}
        )

    @router.get("/films", name="web_films")
    async def films(
        request: Request,
        sort: SortValue = "-imdb_rating",
        page: PageNumber = 1,
        has_video: bool | None = None,
    ) -> Response:
        await kit.browsing(request)
        size = kit.settings.page_size
        found = await kit.queries().film_cards(
            sort=sort, genre=None, page=content.Page(size=size, number=page), has_video=has_video
        )
        return await kit.render(
            request,
            "genre.html",
            {
                "genre": None,
                "has_video": has_video,
                "films": found.items,
                "total": found.total,
                "sort": sort,
                "pager": Pager.of(request, page, size, found.total),
            },
        )

    @router.get("/genres/{genre_id}", name="web_genre")
    async def genre(
        request: Request,
        genre_id: str,
        sort: SortValue = "-imdb_rating",
        page: PageNumber = 1,
    ) -> Response:
        await kit.browsing(request)
        queries = kit.queries()
        found = await queries.get_genre(genre_id)
        size = kit.settings.page_size
        films = await queries.film_cards(
            sort=sort, genre=found.uuid, page=content.Page(size=size, number=page)
        )
        return await kit.render(
            request,
            "genre.html",
            {
                "genre": found,
                "films": films.items,
                "total": films.total,
                "sort": sort,
                "pager": Pager.of(request, page, size, films.total),
            },
        )

    @router.get("/films/{film_id}", name="web_film")
    async def film(
        request: Request,
        film_id: str,
        reviews_sort: opinions.ReviewSortValue = "newest",
        reviews_page: PageNumber = 1,
    ) -> Response:
        return await opinions.film_page(kit, request, film_id, sort=reviews_sort, page=reviews_page)

    @router.get("/persons/{person_id}", name="web_person")
    async def person(request: Request, person_id: str, page: PageNumber = 1) -> Response:
        await kit.browsing(request)
        queries = kit.queries()
        found = await queries.get_person(person_id)
        size = kit.settings.page_size
        films = await queries.person_film_cards(found, page=content.Page(size=size, number=page))
        roles = {film.uuid: film.roles for film in found.films}
        return await kit.render(
            request,
            "person.html",
            {
                "person": found,
                "films": films.items,
                "roles": roles,
                "total": films.total,
                "pager": Pager.of(request, page, size, films.total),
            },
        )

    @router.get("/films/{film_id}/watch", name="web_watch")
    async def watch(request: Request, film_id: str) -> Response:
        viewer = await kit.signed_in(request)
        found = await kit.queries().get_film_view(film_id)
        answer = await kit.playback.fetch(request, found.uuid, viewer.login.access_token)
        if not isinstance(answer, PlaybackInfo):
            return await kit.render(
                request, "unavailable.html", {"film": found, "reason": answer.value},
                status_code=403 if answer.value == "forbidden" else 200,
            )  # fmt: skip
        start = await viewing.resume_position(
            kit.services, viewer.claims.subject, uuid.UUID(found.uuid)
        )
        return await kit.render(
            request,
            "watch.html",
            {"film": found, "playback": answer, "start": start},
        )

    @router.post("/web/events", name="web_events", status_code=202)
    async def events(request: Request) -> Response:
        """Player events, posted by the player (`fetch`, and `navigator.sendBeacon` as the page
        goes away) as a form: `batch` (the JSON, schema in `kinoteka.analytics.schemas`) and
        the page's CSRF token, checked by the page guard.

        The page session is a cookie, which the token-authenticated `/api/v1/events` does not
        take, so the batch comes here and goes on to the analytics collector, answered as
        that endpoint answers (202 with the refused events, 422 when none was valid)."""
        session = await kit.sessions.current(request)
        if session is None or session.claims is None:
            return Response(status_code=401)
        if int(request.headers.get("content-length") or 0) > MAX_BATCH_BYTES:
            return Response(status_code=413)
        raw = (await request.form()).get("batch")
        if not isinstance(raw, str) or len(raw) > MAX_BATCH_BYTES:
            return Response("a batch field is needed", status_code=422)
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            return Response(f"the batch is not JSON: {error}", status_code=422)
        async with kit.services.db.session() as db:
            try:
                answer = await analytics.collect_player_events(
                    db,
                    kit.services.bus,
                    session.claims.subject,
                    body,
                    max_events=kit.services.settings.analytics.max_batch_events,
                    source="web/events",
                    on_progress=viewing.heartbeat_sink(
                        kit.services, kit.queries(), session.claims.subject
                    ),
                )
            except analytics.BatchTooLarge as error:
                return Response(str(error), status_code=413)
            except analytics.BusUnavailable:
                # The refused events are kept (the session commits). The player keeps the batch
                # and posts it again later with the same event ids, which count once.
                return Response("the event bus is unavailable", status_code=503,
                                headers={"Retry-After": "5"})  # fmt: skip
        log.debug("web.events", accepted=answer.accepted, refused=len(answer.refused))
        return Response(
            orjson.dumps(answer.model_dump(mode="json")),
            status_code=202 if answer.accepted else 422,
            media_type="application/json",
        )

    return router


@dataclass(frozen=True)
class HomeShelves:
    """The home page's catalog rows: the same for every visitor, so read once in a while."""

    rows: list[dict[str, Any]]
    genres: list[content.Genre]


async def _read_shelves(kit: WebKit) -> HomeShelves:
    queries = kit.queries()
    row = content.Page(size=kit.settings.row_size)
    watchable, new, top, genres = await asyncio.gather(
        queries.film_cards(sort="-added", genre=None, page=row, has_video=True),
        queries.film_cards(sort="-added", genre=None, page=row),
        queries.film_cards(sort="-imdb_rating", genre=None, page=row),
        queries.list_genres(),
    )
    shown = genres[: kit.settings.genre_rows]
    by_genre = await asyncio.gather(
        *(queries.film_cards(sort="-imdb_rating", genre=g.uuid, page=row) for g in shown)
    )
    rows: list[dict[str, Any]] = []
    if watchable.items:  # what a visitor can play right away, newest first
        more = "/films?sort=-added&has_video=true"
        rows.append({"key": "watch", "title": None, "films": watchable.items, "more": more})
    rows += [
        {"key": "new", "title": None, "films": new.items, "more": "/films?sort=-added"},
        {"key": "top", "title": None, "films": top.items, "more": "/films"},
    ]
    for genre, page in zip(shown, by_genre, strict=True):
        if page.items:
            more = f"/genres/{genre.uuid}"
            rows.append({"key": "genre", "title": genre.name, "films": page.items, "more": more})
    return HomeShelves(rows, genres)
