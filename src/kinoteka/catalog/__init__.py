"""The catalog: films, genres, persons and their credits, in the PostgreSQL schema `content`.

Public to other contexts (light to import): `poster_url_sql()`, the public poster path of a
film as an SQL expression over its `poster_key` column, for the search documents rendered in
the database, `POSTER_ROUTE_PREFIX`, and `film_exists(session, film_id)` (whether the catalog
holds a film, for contexts that keep data about films). Everything else is the catalog's own.
"""

from __future__ import annotations

import uuid
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


async def film_exists(session: AsyncSession, film_id: uuid.UUID) -> bool:
    """Whether the catalog holds the film `film_id`."""
    from sqlalchemy import select

    from kinoteka.catalog.models import FilmWork

    found = await session.scalar(select(FilmWork.id).where(FilmWork.id == film_id))
    return found is not None
