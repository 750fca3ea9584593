"""`/api/v1/ugc` routes: bookmarks, ratings, reviews, watch progress (thin: parse, call, shape).

Viewers act on their own data with `ugc.write`; moderators hide and restore reviews with
`ugc.moderate`; a film's rating summary and visible reviews are readable without a token.
Writes are rate limited per account (`KINOTEKA_UGC__WRITE_RATE`).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response, status
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from kinoteka.auth import (
    AccessClaims,
    CurrentUser,
    check_access_token,
    get_auth_kit,
    require_permission,
)
from kinoteka.catalog import film_exists
from kinoteka.infra.documents import DocumentStore
from kinoteka.services import Services, ServicesDep
from kinoteka.ugc import reviews, service
from kinoteka.ugc.errors import (
    FilmNotFound,
    InvalidInput,
    NotAuthor,
    ProgressNotFound,
    RatingNotFound,
    ReviewExists,
    ReviewNotFound,
    TooManyWrites,
    UgcError,
)
from kinoteka.ugc.kit import UgcKit, get_ugc
from kinoteka.ugc.schemas import (
    Bookmark,
    BookmarkPage,
    ErrorDetail,
    Progress,
    ProgressIn,
    ProgressWrite,
    Rating,
    RatingIn,
    RatingSummary,
    Review,
    ReviewEdit,
    ReviewIn,
    ReviewPage,
    ReviewSort,
    VoteIn,
)

MODERATE = "ugc.moderate"
WRITE = "ugc.write"

PREFIX = "/api/v1/ugc"
router = APIRouter(prefix=PREFIX, tags=["ugc"])


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorDetail} for code in codes}


STATUS: dict[type[UgcError], int] = {
    FilmNotFound: status.HTTP_404_NOT_FOUND,
    ReviewNotFound: status.HTTP_404_NOT_FOUND,
    RatingNotFound: status.HTTP_404_NOT_FOUND,
    ProgressNotFound: status.HTTP_404_NOT_FOUND,
    ReviewExists: status.HTTP_409_CONFLICT,
    NotAuthor: status.HTTP_403_FORBIDDEN,
    InvalidInput: status.HTTP_422_UNPROCESSABLE_CONTENT,
    TooManyWrites: status.HTTP_429_TOO_MANY_REQUESTS,
}


async def ugc_error_handler(request: Request, error: Exception) -> JSONResponse:
    """The one place UGC errors become HTTP answers."""
    code = next(
        (STATUS[kind] for kind in type(error).__mro__ if kind in STATUS),
        status.HTTP_400_BAD_REQUEST,
    )
    headers = {}
    if isinstance(error, TooManyWrites):
        headers["Retry-After"] = str(error.retry_after)
    return JSONResponse({"detail": str(error)}, status_code=code, headers=headers)


# Dependencies are `async def` even when they await nothing: FastAPI runs a plain `def` one in
# its thread pool, a hand-off per request that costs more than the work.


async def ugc_kit(services: ServicesDep) -> UgcKit:
    return get_ugc(services)


KitDep = Annotated[UgcKit, Depends(ugc_kit)]


async def document_store(kit: KitDep) -> DocumentStore:
    return kit.store


StoreDep = Annotated[DocumentStore, Depends(document_store)]


async def writer(
    kit: KitDep, claims: Annotated[AccessClaims, Depends(require_permission(WRITE))]
) -> AccessClaims:
    """A viewer allowed to write, within their write rate."""
    await kit.check_write_rate(claims.subject)
    return claims


Writer = Annotated[AccessClaims, Depends(writer)]
Moderator = Annotated[AccessClaims, Depends(require_permission(MODERATE))]
_bearer = HTTPBearer(auto_error=False, description="An access token, when the caller has one.")


async def optional_viewer(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> AccessClaims | None:
    """The caller's claims when they send a token (checked), None when they send none."""
    if credentials is None:
        return None
    return await check_access_token(get_auth_kit(services), credentials.credentials)


Viewer = Annotated[AccessClaims | None, Depends(optional_viewer)]


async def known_film(services: ServicesDep, film_id: uuid.UUID) -> uuid.UUID:
    kit = services.ugc
    known = kit.known_films
    if film_id in known:
        return film_id
    # A session of its own, closed at once: a request-long one would hold a pooled
    # connection while the store (sharing the pool) waits for another.
    async with kit.lookups() as session:
        exists = await film_exists(session, film_id)
    if not exists:
        raise FilmNotFound(film_id)
    known.add(film_id)
    return film_id


FilmDep = Annotated[uuid.UUID, Depends(known_film)]


@dataclass(frozen=True)
class PageParams:
    limit: int
    offset: int


async def page_params(
    kit: KitDep,
    page_size: Annotated[int | None, Query(ge=1, le=100, description="1-100.")] = None,
    page_number: Annotated[int, Query(ge=1, le=10_000, description="From 1.")] = 1,
) -> PageParams:
    limit = page_size or kit.settings.default_page_size
    return PageParams(limit=limit, offset=(page_number - 1) * limit)


PageDep = Annotated[PageParams, Depends(page_params)]


# Bookmarks


@router.put(
    "/bookmarks/{film_id}",
    response_model=Bookmark,
    summary="Bookmark a film (idempotent: 201 when new, 200 when it was there)",
    responses={201: {"model": Bookmark}, **_errors(404, 429)},
)
async def put_bookmark(
    store: StoreDep, claims: Writer, film_id: FilmDep, response: Response
) -> Bookmark:
    bookmark, created = await service.add_bookmark(store, claims.subject, film_id)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return bookmark


@router.delete(
    "/bookmarks/{film_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a bookmark (idempotent)",
    responses=_errors(429),
)
async def delete_bookmark(store: StoreDep, claims: Writer, film_id: uuid.UUID) -> None:
    await service.remove_bookmark(store, claims.subject, film_id)


@router.get("/bookmarks", response_model=BookmarkPage, summary="My bookmarks, newest first")
async def get_bookmarks(store: StoreDep, claims: CurrentUser, page: PageDep) -> BookmarkPage:
    return await service.list_bookmarks(store, claims.subject, limit=page.limit, offset=page.offset)


# Ratings


@router.put(
    "/films/{film_id}/my-rating",
    response_model=Rating,
    summary="Rate a film 0-10 (or change my score)",
    responses=_errors(404, 429),
)
async def put_rating(store: StoreDep, claims: Writer, film_id: FilmDep, body: RatingIn) -> Rating:
    return await service.rate_film(store, claims.subject, film_id, body.score)


@router.get(
    "/films/{film_id}/my-rating",
    response_model=Rating,
    summary="My score of a film",
    responses=_errors(404),
)
async def get_rating(store: StoreDep, claims: CurrentUser, film_id: uuid.UUID) -> Rating:
    return await service.my_rating(store, claims.subject, film_id)


@router.delete(
    "/films/{film_id}/my-rating",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove my score (idempotent)",
    responses=_errors(429),
)
async def delete_rating(store: StoreDep, claims: Writer, film_id: uuid.UUID) -> None:
    await service.remove_rating(store, claims.subject, film_id)


def rating_summary_route(services: Services) -> Callable[[uuid.UUID], Awaitable[Response]]:
    """The most read route, `install_api` adds it to the app itself, bound to the app's
    services: it takes no request and no dependency (FastAPI solves a sub-dependency for more
    CPU, ~20 us, than the rest of this route together)."""
    kit = get_ugc(services)

    # No docstring: it would become the operation's OpenAPI description.
    async def get_rating_summary(film_id: uuid.UUID) -> Response:
        summary = await service.rendered_rating_summary(kit.store, film_id)
        # Counters exist only for films written about: the catalog is asked about the others.
        if summary.count == 0 and summary.reviews == 0:
            await known_film(services, film_id)
        # The RatingSummary's JSON, rendered by the service: returned as a model, FastAPI
        # would check it against the response model it already is before writing it.
        return Response(summary.json, media_type="application/json")

    return get_rating_summary


# Reviews


@router.post(
    "/films/{film_id}/reviews",
    response_model=Review,
    status_code=status.HTTP_201_CREATED,
    summary="Review a film (one review per viewer and film)",
    responses=_errors(404, 409, 429),
)
async def post_review(kit: KitDep, claims: Writer, film_id: FilmDep, body: ReviewIn) -> Review:
    return await reviews.write_review(
        kit.store, kit.settings, claims.subject, film_id, text=body.text, score=body.score
    )


@router.get(
    "/films/{film_id}/reviews",
    response_model=ReviewPage,
    summary="A film's reviews, newest or most liked first",
    responses=_errors(404),
)
async def get_film_reviews(
    store: StoreDep,
    film_id: FilmDep,
    page: PageDep,
    sort: Annotated[ReviewSort, Query(description="newest or most_liked.")] = ReviewSort.NEWEST,
) -> ReviewPage:
    return await reviews.film_reviews(
        store, film_id, sort=sort, limit=page.limit, offset=page.offset
    )


@router.get(
    "/reviews/mine",
    response_model=ReviewPage,
    summary="My reviews, newest first (hidden ones flagged)",
)
async def get_my_reviews(store: StoreDep, claims: CurrentUser, page: PageDep) -> ReviewPage:
    return await reviews.user_reviews(store, claims.subject, limit=page.limit, offset=page.offset)


@router.get(
    "/reviews/{review_id}",
    response_model=Review,
    summary="A review (a hidden one only to its author and moderators)",
    responses=_errors(404),
)
async def get_review(store: StoreDep, viewer: Viewer, review_id: uuid.UUID) -> Review:
    return await reviews.get_review(
        store,
        review_id,
        viewer=None if viewer is None else viewer.subject,
        moderator=viewer is not None and viewer.has(MODERATE),
    )


@router.patch(
    "/reviews/{review_id}",
    response_model=Review,
    summary="Edit my review",
    responses=_errors(403, 404, 429),
)
async def patch_review(
    kit: KitDep, claims: Writer, review_id: uuid.UUID, body: ReviewEdit
) -> Review:
    return await reviews.edit_review(
        kit.store, kit.settings, claims.subject, review_id, text=body.text, score=body.score
    )


@router.delete(
    "/reviews/{review_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete my review",
    responses=_errors(403, 404, 429),
)
async def delete_review(store: StoreDep, claims: Writer, review_id: uuid.UUID) -> None:
    await reviews.delete_review(store, claims.subject, review_id)


@router.put(
    "/reviews/{review_id}/vote",
    response_model=Review,
    summary="Like or dislike a review (one vote per viewer)",
    responses=_errors(404, 429),
)
async def put_vote(store: StoreDep, claims: Writer, review_id: uuid.UUID, body: VoteIn) -> Review:
    return await reviews.vote_review(store, claims.subject, review_id, body.value)


@router.delete(
    "/reviews/{review_id}/vote",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Withdraw my vote (idempotent)",
    responses=_errors(429),
)
async def delete_vote(store: StoreDep, claims: Writer, review_id: uuid.UUID) -> None:
    await reviews.withdraw_vote(store, claims.subject, review_id)


@router.post(
    "/reviews/{review_id}/hide",
    response_model=Review,
    summary="Hide a review from everyone but its author (moderators)",
    responses=_errors(404),
)
async def hide_review(store: StoreDep, claims: Moderator, review_id: uuid.UUID) -> Review:
    return await reviews.set_review_hidden(store, claims.subject, review_id, hidden=True)


@router.post(
    "/reviews/{review_id}/restore",
    response_model=Review,
    summary="Show a hidden review again (moderators)",
    responses=_errors(404),
)
async def restore_review(store: StoreDep, claims: Moderator, review_id: uuid.UUID) -> Review:
    return await reviews.set_review_hidden(store, claims.subject, review_id, hidden=False)


# Watch progress


@router.put(
    "/films/{film_id}/progress",
    response_model=ProgressWrite,
    summary="A player heartbeat: my position in a film (the latest client_time wins)",
    responses=_errors(404, 429),
)
async def put_progress(
    kit: KitDep, claims: Writer, film_id: FilmDep, body: ProgressIn
) -> ProgressWrite:
    return await service.save_progress(
        kit.store,
        claims.subject,
        film_id,
        position_seconds=body.position_seconds,
        duration_seconds=body.duration_seconds,
        client_time=body.client_time,
        finished_ratio=kit.settings.finished_ratio,
    )


@router.get(
    "/films/{film_id}/progress",
    response_model=Progress,
    summary="My position in a film",
    responses=_errors(404),
)
async def get_progress(store: StoreDep, claims: CurrentUser, film_id: uuid.UUID) -> Progress:
    return await service.film_progress(store, claims.subject, film_id)


@router.get(
    "/progress",
    response_model=list[Progress],
    summary="Continue watching: films I started and did not finish, latest first",
)
async def get_continue_watching(
    store: StoreDep, claims: CurrentUser, page: PageDep
) -> list[Progress]:
    return await service.continue_watching(
        store, claims.subject, limit=page.limit, offset=page.offset
    )


def install_api(app: FastAPI, services: Services) -> None:
    """The UGC routes on `app`: the rating summary as the app's own route, the rest through
    `router`.

    FastAPI walks an included router's routes twice per request (to match the router, then to
    pick the route) and checks the router's route table for changes each time; for the rating
    summary, read far more than anything else here, that walk cost as much CPU as the route's
    own work. Its path, operation id and OpenAPI entry are what `@router.get` would give.
    """
    app.add_api_route(
        f"{PREFIX}/films/{{film_id}}/rating",
        rating_summary_route(services),
        methods=["GET"],
        tags=["ugc"],
        response_model=RatingSummary,
        summary="A film's average user score, count, distribution and review count",
        responses=_errors(404),
    )
    app.include_router(router)
