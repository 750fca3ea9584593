"""The catalog: films, genres, persons and their credits, in the PostgreSQL schema `content`.

Public to other contexts (light to import): `poster_url_sql()`, the public poster path of a
film as an SQL expression over its `poster_key` column, for the search documents rendered in
the database, `poster_links()`, the public path of each rendition of a poster (from its key,
or `poster_links_beside()` from the public path of one rendition, as a search document holds
it), `POSTER_ROUTE_PREFIX`, and `film_exists(session, film_id)` (whether the catalog holds a
film, for contexts that keep data about films), `genre_names(session)` (every genre's name by
id, for contexts that let editors pick one), `film_titles(session, ids)` (the titles of some
films, for contexts that show films they only know by id). Everything else is the catalog's
own.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

POSTER_ROUTE_PREFIX = "/api/v1"
DOCUMENT_POSTER_WIDTH = 320
"""The rendition width a search document's `poster_url` names."""


def poster_url_sql(column: str, width: int = DOCUMENT_POSTER_WIDTH) -> str:
    """`poster_url` as an SQL expression over a poster-key column (NULL without a poster), for
    queries that render search documents in the database; the same path as
    `catalog.posters.poster_url()` gives in Python."""
    return f"('{POSTER_ROUTE_PREFIX}/' || NULLIF({column}, '') || '/{int(width)}.webp')"


def poster_links(poster_key: str | None, widths: Iterable[int]) -> dict[str, str]:
    """The public path of each rendition of a poster, by width (`{"320": "/api/v1/…/320.webp"}`),
    empty without a poster: stable links that redirect to a short-lived signed storage URL."""
    if not poster_key:
        return {}
    return {str(width): f"{POSTER_ROUTE_PREFIX}/{poster_key}/{int(width)}.webp" for width in widths}


def poster_links_beside(poster_url: str | None, widths: Iterable[int]) -> dict[str, str]:
    """`poster_links()` worked out from one rendition's public path (a search document's
    `poster_url`, which does not hold the storage key): the same path in each width."""
    if not poster_url:
        return {}
    directory, _, name = poster_url.rpartition("/")
    if not directory.startswith(f"{POSTER_ROUTE_PREFIX}/posters/") or not name.endswith(".webp"):
        return {}  # not a rendition link: nothing to derive the others from
    return {str(width): f"{directory}/{int(width)}.webp" for width in widths}


async def film_exists(session: AsyncSession, film_id: uuid.UUID) -> bool:
    """Whether the catalog holds the film `film_id`."""
    from sqlalchemy import select

    from kinoteka.catalog.models import FilmWork

    found = await session.scalar(select(FilmWork.id).where(FilmWork.id == film_id))
    return found is not None


async def genre_names(session: AsyncSession) -> dict[uuid.UUID, str]:
    """Every genre's name by id, in name order."""
    from sqlalchemy import select

    from kinoteka.catalog.models import Genre

    rows = await session.execute(select(Genre.id, Genre.name).order_by(Genre.name))
    return {row.id: row.name for row in rows}


async def film_titles(session: AsyncSession, film_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The title of each of `film_ids` the catalog holds (a film it does not hold is left out)."""
    from sqlalchemy import select

    from kinoteka.catalog.models import FilmWork

    wanted = list(dict.fromkeys(film_ids))
    if not wanted:
        return {}
    rows = await session.execute(select(FilmWork.id, FilmWork.title).where(FilmWork.id.in_(wanted)))
    return {row.id: row.title for row in rows}
