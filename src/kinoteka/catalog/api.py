"""The catalog read API of the course contract (`/api/v1/movies`) and the poster links."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse

from kinoteka.catalog import service
from kinoteka.catalog.posters import rendition_key
from kinoteka.catalog.schemas import Movie, MoviePage
from kinoteka.catalog.service import FilmNotFound, PageNotFound
from kinoteka.infra.storage import ObjectStorage
from kinoteka.services import ServicesDep, SessionDep

router = APIRouter(prefix="/api/v1", tags=["movies"])
posters_router = APIRouter(prefix="/api/v1", tags=["posters"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such film or page"}}


def get_storage(services: ServicesDep) -> ObjectStorage:
    return services.storage


StorageDep = Annotated[ObjectStorage, Depends(get_storage)]


@router.get(
    "/movies/",
    response_model=MoviePage,
    summary="Films of the catalog, 50 a page",
    responses=NOT_FOUND,
)
async def list_movies(
    session: SessionDep,
    services: ServicesDep,
    page: Annotated[
        str, Query(pattern=r"^([1-9][0-9]{0,8}|last)$", description="Page number or `last`.")
    ] = "1",
) -> MoviePage:
    return await service.list_movies(
        session,
        None if page == "last" else int(page),
        poster_widths=services.settings.catalog.posters.widths,
    )


@router.get(
    "/movies/{film_id}/",
    response_model=Movie,
    summary="One film with its genres and people",
    responses=NOT_FOUND,
)
async def get_movie(session: SessionDep, services: ServicesDep, film_id: str) -> Movie:
    # A malformed id names no film, like an unknown one: 404, not a validation error.
    try:
        parsed = uuid.UUID(film_id)
    except ValueError:
        raise FilmNotFound(film_id) from None
    return await service.get_movie(
        session, parsed, poster_widths=services.settings.catalog.posters.widths
    )


@posters_router.get(
    "/posters/{film_id}/{digest}/{width}.webp",
    status_code=307,
    summary="A poster rendition (redirects to a short-lived storage URL)",
    responses={307: {"description": "To the signed storage URL"}, 404: {}},
)
async def poster(
    services: ServicesDep,
    storage: StorageDep,
    film_id: uuid.UUID,
    digest: Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")],
    width: int,
) -> RedirectResponse:
    posters = services.settings.catalog.posters
    if width not in posters.widths:
        raise HTTPException(404, f"posters come in widths {', '.join(map(str, posters.widths))}")
    key = rendition_key(f"posters/{film_id}/{digest}", width)
    url = await storage.presigned_url(key, expires_in=posters.url_ttl_seconds)
    return RedirectResponse(url, status_code=307, headers={"Cache-Control": "private, max-age=60"})


async def _not_found(request: Request, error: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(error) or "not found"}, status_code=404)


def install_movies_api(app: FastAPI) -> None:
    app.include_router(router)
    app.add_exception_handler(FilmNotFound, _not_found)
    app.add_exception_handler(PageNotFound, _not_found)
