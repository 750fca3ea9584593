"""`/api/v1` content routes: films, genres, persons, search (the course's contract)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

import structlog
from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter

from kinoteka.content.access import content_reader
from kinoteka.content.cache import ResponseCache
from kinoteka.content.schemas import ErrorDetail, FilmDetail, FilmShort, Genre, Person
from kinoteka.content.service import ContentQueries, NotFound, Page
from kinoteka.infra.search import SearchError, SearchIndex, SearchQueryError
from kinoteka.services import Services, ServicesDep

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/api/v1", dependencies=[Depends(content_reader)])

SortValue = Literal[
    "imdb_rating",
    "-imdb_rating",
    "title",
    "-title",
    "user_rating",
    "-user_rating",
    "added",
    "-added",
    "review_count",
    "-review_count",
]
PersonSortValue = Literal["full_name", "-full_name"]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorDetail}}
BAD_QUERY: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorDetail, "description": "A query the search index cannot run"}
}
UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorDetail, "description": "Missing or invalid access token"}
}

_films = TypeAdapter(list[FilmShort])
_genres = TypeAdapter(list[Genre])
_persons = TypeAdapter(list[Person])


def get_search(services: ServicesDep) -> SearchIndex:
    return services.search


SearchDep = Annotated[SearchIndex, Depends(get_search)]


def queries_for(services: Services) -> ContentQueries:
    """The read use cases over the shared search index (opened on first use)."""
    settings = services.settings
    return ContentQueries(services.search, settings.search.indexes, settings.catalog.posters.widths)


def get_queries(services: ServicesDep, search: SearchDep) -> ContentQueries:
    settings = services.settings
    return ContentQueries(search, settings.search.indexes, settings.catalog.posters.widths)


QueriesDep = Annotated[ContentQueries, Depends(get_queries)]


def get_response_cache(services: ServicesDep, search: SearchDep) -> ResponseCache:
    return ResponseCache(services.cache, search, services.settings.content.cache_ttl)


CacheDep = Annotated[ResponseCache, Depends(get_response_cache)]


def page_params(
    services: ServicesDep,
    page_size: Annotated[
        int | None,
        Query(ge=1, description="Items per page, from 1 to the maximum (100 unless configured)."),
    ] = None,
    page_number: Annotated[int | None, Query(ge=1, description="Page, from 1.")] = None,
    legacy_size: Annotated[
        int | None, Query(alias="page[size]", ge=1, description="Older spelling.")
    ] = None,
    legacy_number: Annotated[
        int | None, Query(alias="page[number]", ge=1, description="Older spelling.")
    ] = None,
) -> Page:
    """The page asked for; a size past `content.max_page_size` is a 422 naming the parameter,
    as FastAPI words its own."""
    settings = services.settings.content
    for name, value in (("page_size", page_size), ("page[size]", legacy_size)):
        if value is not None and value > settings.max_page_size:
            raise RequestValidationError(
                [
                    {
                        "type": "less_than_equal",
                        "loc": ("query", name),
                        "msg": f"Input should be less than or equal to {settings.max_page_size}",
                        "input": value,
                        "ctx": {"le": settings.max_page_size},
                    }
                ]
            )
    size = page_size or legacy_size or settings.default_page_size
    return Page(size=size, number=page_number or legacy_number or 1)


PageDep = Annotated[Page, Depends(page_params)]


def _page_key(page: Page) -> list[tuple[str, str]]:
    return [("page_size", str(page.size)), ("page_number", str(page.number))]


HasVideoParam = Annotated[
    bool | None,
    Query(description="true: only films that can be watched; false: only those that cannot."),
]


def _has_video_key(has_video: bool | None) -> list[tuple[str, str]]:
    """The filter's part of a cache key (none without it: the keys cached before stay)."""
    return [] if has_video is None else [("has_video", str(has_video).lower())]


def _both_slashes(
    path: str, **options: Any
) -> Callable[[Callable[..., Awaitable[Response]]], Callable[..., Awaitable[Response]]]:
    """Serve `path` and `path/` alike (clients of the course contract use both)."""

    def register(
        endpoint: Callable[..., Awaitable[Response]],
    ) -> Callable[..., Awaitable[Response]]:
        router.add_api_route(path, endpoint, methods=["GET"], **options)
        router.add_api_route(
            path + "/", endpoint, methods=["GET"], include_in_schema=False, **options
        )
        return endpoint

    return register


@_both_slashes(
    "/films",
    response_model=list[FilmShort],
    summary="Films, sorted and filtered by genre",
    responses=UNAUTHORIZED,
    tags=["films"],
)
async def films(
    request: Request,
    cache: CacheDep,
    queries: QueriesDep,
    page: PageDep,
    sort: Annotated[
        SortValue,
        Query(
            description="imdb_rating, title, user_rating (viewers' average), review_count "
            "(viewers' reviews) or added (when the film entered the catalog: -added is newest "
            "first); - for descending. Films nobody rated or reviewed come last either way."
        ),
    ] = "-imdb_rating",
    genre: Annotated[str | None, Query(description="Genre id to filter by.")] = None,
    legacy_genre: Annotated[str | None, Query(alias="filter[genre]")] = None,
    has_video: HasVideoParam = None,
) -> Response:
    genre_id = genre or legacy_genre

    async def compute() -> bytes:
        found = await queries.list_films(sort=sort, genre=genre_id, page=page, has_video=has_video)
        return _films.dump_json(found)

    params = [*_page_key(page), ("sort", sort), ("genre", genre_id or ""),
              *_has_video_key(has_video)]  # fmt: skip
    return await cache.respond(request, params, compute)


@_both_slashes(
    "/films/search",
    response_model=list[FilmShort],
    summary="Full-text film search, best match first (typo tolerant)",
    responses={**BAD_QUERY, **UNAUTHORIZED},
    tags=["films"],
)
async def film_search(
    request: Request,
    cache: CacheDep,
    queries: QueriesDep,
    page: PageDep,
    query: Annotated[str, Query(max_length=200, examples=["star wars"])] = "",
    has_video: HasVideoParam = None,
) -> Response:
    async def compute() -> bytes:
        found = await queries.search_films(text=query, page=page, has_video=has_video)
        return _films.dump_json(found)

    params = [*_page_key(page), ("query", " ".join(query.lower().split())),
              *_has_video_key(has_video)]  # fmt: skip
    return await cache.respond(request, params, compute)


@_both_slashes(
    "/films/{film_id}",
    response_model=FilmDetail,
    summary="A film with its genres and people",
    responses={**NOT_FOUND, **UNAUTHORIZED},
    tags=["films"],
)
async def film(request: Request, cache: CacheDep, queries: QueriesDep, film_id: str) -> Response:
    async def compute() -> bytes:
        return (await queries.get_film(film_id)).model_dump_json().encode()

    return await cache.respond(request, [], compute)


@_both_slashes(
    "/genres",
    response_model=list[Genre],
    summary="Genres by name, a page at a time",
    responses=UNAUTHORIZED,
    tags=["genres"],
)
async def genres(request: Request, cache: CacheDep, queries: QueriesDep, page: PageDep) -> Response:
    async def compute() -> bytes:
        return _genres.dump_json(await queries.list_genres(page=page))

    return await cache.respond(request, _page_key(page), compute)


@_both_slashes(
    "/genres/{genre_id}",
    response_model=Genre,
    summary="A genre",
    responses={**NOT_FOUND, **UNAUTHORIZED},
    tags=["genres"],
)
async def genre(request: Request, cache: CacheDep, queries: QueriesDep, genre_id: str) -> Response:
    async def compute() -> bytes:
        return (await queries.get_genre(genre_id)).model_dump_json().encode()

    return await cache.respond(request, [], compute)


@_both_slashes(
    "/persons/search",
    response_model=list[Person],
    summary="Search people by name",
    responses={**BAD_QUERY, **UNAUTHORIZED},
    tags=["persons"],
)
async def person_search(
    request: Request,
    cache: CacheDep,
    queries: QueriesDep,
    page: PageDep,
    query: Annotated[str, Query(max_length=200, examples=["george lucas"])] = "",
) -> Response:
    async def compute() -> bytes:
        return _persons.dump_json(await queries.search_persons(text=query, page=page))

    params = [*_page_key(page), ("query", " ".join(query.lower().split()))]
    return await cache.respond(request, params, compute)


@_both_slashes(
    "/persons",
    response_model=list[Person],
    summary="People by name, a page at a time",
    responses=UNAUTHORIZED,
    tags=["persons"],
)
async def persons(
    request: Request,
    cache: CacheDep,
    queries: QueriesDep,
    page: PageDep,
    sort: Annotated[
        PersonSortValue, Query(description="full_name (A to Z) or -full_name.")
    ] = "full_name",
) -> Response:
    async def compute() -> bytes:
        return _persons.dump_json(await queries.list_persons(sort=sort, page=page))

    return await cache.respond(request, [*_page_key(page), ("sort", sort)], compute)


@_both_slashes(
    "/persons/{person_id}",
    response_model=Person,
    summary="A person and their films with roles",
    responses={**NOT_FOUND, **UNAUTHORIZED},
    tags=["persons"],
)
async def person(
    request: Request, cache: CacheDep, queries: QueriesDep, person_id: str
) -> Response:
    async def compute() -> bytes:
        return (await queries.get_person(person_id)).model_dump_json().encode()

    return await cache.respond(request, [], compute)


async def _person_films(
    request: Request, cache: CacheDep, queries: QueriesDep, page: PageDep, person_id: str
) -> Response:
    async def compute() -> bytes:
        found = await queries.person_films(person_id, page=page)
        return _films.dump_json(found)

    return await cache.respond(request, _page_key(page), compute)


for _path in ("/persons/{person_id}/film", "/persons/{person_id}/films"):
    _both_slashes(
        _path,
        response_model=list[FilmShort],
        summary="A person's films",
        responses={**NOT_FOUND, **UNAUTHORIZED},
        tags=["persons"],
    )(_person_films)


async def _not_found(request: Request, error: Exception) -> Response:
    return JSONResponse({"detail": str(error)}, status_code=404)


async def _bad_query(request: Request, error: Exception) -> Response:
    log.info("content.search_refused", error=str(error))
    return JSONResponse({"detail": f"the search cannot run this query: {error}"}, status_code=400)


async def _index_unavailable(request: Request, error: Exception) -> Response:
    log.warning("content.search_unavailable", error=str(error))
    return JSONResponse(
        {"detail": "the search index is unavailable; try again shortly"},
        status_code=503,
        headers={"Retry-After": "5"},
    )


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.add_exception_handler(NotFound, _not_found)
    # A query the index refuses is the caller's mistake; an index that is missing or
    # unreachable is the service's state, not the caller's fault (handlers match the most
    # specific class first).
    app.add_exception_handler(SearchQueryError, _bad_query)
    app.add_exception_handler(SearchError, _index_unavailable)
