"""The catalog: films, genres, persons and their credits, in the PostgreSQL schema `content`.

Public to other contexts (light to import): `poster_url_sql()`, the public poster path of a
film as an SQL expression over its `poster_key` column, for the search documents rendered in
the database, and `POSTER_ROUTE_PREFIX`. Everything else is the catalog's own.
"""

from __future__ import annotations

POSTER_ROUTE_PREFIX = "/api/v1"
DOCUMENT_POSTER_WIDTH = 320
"""The rendition width a search document's `poster_url` names."""


def poster_url_sql(column: str, width: int = DOCUMENT_POSTER_WIDTH) -> str:
    """`poster_url` as an SQL expression over a poster-key column (NULL without a poster), for
    queries that render search documents in the database; the same path as
    `catalog.posters.poster_url()` gives in Python."""
    return f"('{POSTER_ROUTE_PREFIX}/' || NULLIF({column}, '') || '/{int(width)}.webp')"
