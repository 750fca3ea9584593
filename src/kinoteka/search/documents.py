"""Search documents (movies, genres, persons): their index definitions and set-based builders.

Each builder runs one query per batch, selected either by ids (changes) or by an id keyset
(full loads), and returns plain dicts in the shape the indexes hold:
- movies: `id`, `imdb_rating`, `title`, `description`, `genres` (names), `genre_ids`,
  `directors_names`, `actors_names`, `writers_names`, `directors`/`actors`/`writers` as
  `[{id, name}]`, `poster_url` (the catalog's poster path, or null);
- genres: `id`, `name`, `description`;
- persons: `id`, `full_name`, `films: [{id, roles}]`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncConnection

from kinoteka.catalog.posters import poster_url
from kinoteka.infra.db import fetch_column
from kinoteka.infra.search import Document, FieldKind, FieldSpec, IndexDefinition
from kinoteka.search.settings import IndexNames


class DocumentKind(StrEnum):
    """What a change-queue row or an index is about."""

    FILM = "film"
    GENRE = "genre"
    PERSON = "person"


_ID = FieldSpec("id", FieldKind.KEYWORD)


def _people(role: str) -> FieldSpec:
    return FieldSpec(
        role,
        FieldKind.OBJECTS,
        properties=(
            FieldSpec("id", FieldKind.KEYWORD),
            FieldSpec("name", FieldKind.TEXT, same_as=f"{role}_names"),
        ),
    )


MOVIE_FIELDS = (
    _ID,
    FieldSpec("imdb_rating", FieldKind.FLOAT),
    FieldSpec("title", FieldKind.TEXT, sortable=True, boost=5.0),
    FieldSpec("description", FieldKind.TEXT, boost=1.0),
    FieldSpec("genres", FieldKind.TEXT, boost=1.0),
    FieldSpec("genre_ids", FieldKind.KEYWORD),
    FieldSpec("directors_names", FieldKind.TEXT, boost=2.0),
    FieldSpec("actors_names", FieldKind.TEXT, boost=2.0),
    FieldSpec("writers_names", FieldKind.TEXT, boost=2.0),
    FieldSpec("poster_url", FieldKind.KEYWORD),
    _people("directors"),
    _people("actors"),
    _people("writers"),
)
GENRE_FIELDS = (
    _ID,
    FieldSpec("name", FieldKind.TEXT, sortable=True, boost=2.0),
    FieldSpec("description", FieldKind.TEXT, boost=1.0),
)
PERSON_FIELDS = (
    _ID,
    FieldSpec("full_name", FieldKind.TEXT, sortable=True, boost=1.0),
    FieldSpec(
        "films",
        FieldKind.OBJECTS,
        properties=(FieldSpec("id", FieldKind.KEYWORD), FieldSpec("roles", FieldKind.KEYWORD)),
    ),
)


@dataclass(frozen=True)
class SearchIndexes:
    """The three index definitions under the names the settings give them."""

    movies: IndexDefinition
    genres: IndexDefinition
    persons: IndexDefinition

    @classmethod
    def named(cls, names: IndexNames) -> SearchIndexes:
        return cls(
            movies=IndexDefinition(names.movies, MOVIE_FIELDS),
            genres=IndexDefinition(names.genres, GENRE_FIELDS),
            persons=IndexDefinition(names.persons, PERSON_FIELDS),
        )

    def all(self) -> list[IndexDefinition]:
        return [self.movies, self.genres, self.persons]

    def for_kind(self, kind: DocumentKind) -> IndexDefinition:
        return {
            DocumentKind.FILM: self.movies,
            DocumentKind.GENRE: self.genres,
            DocumentKind.PERSON: self.persons,
        }[kind]


# Each query renders whole documents as JSON in PostgreSQL (one parse per document here):
# the database does the aggregation work in its own process, beside the indexing.
_FILM_SELECT = """
SELECT fw.id, json_build_object(
           'id', fw.id, 'imdb_rating', fw.rating, 'title', fw.title,
           'description', fw.description, 'poster_key', fw.poster_key,
           'genres', coalesce(g.names, '[]'::json), 'genre_ids', coalesce(g.ids, '[]'::json),
           'directors_names', coalesce(c.directors_names, '[]'::json),
           'directors', coalesce(c.directors, '[]'::json),
           'actors_names', coalesce(c.actors_names, '[]'::json),
           'actors', coalesce(c.actors, '[]'::json),
           'writers_names', coalesce(c.writers_names, '[]'::json),
           'writers', coalesce(c.writers, '[]'::json)
       )::text AS document
FROM content.film_work fw
LEFT JOIN LATERAL (
  SELECT json_agg(g.name ORDER BY g.name) AS names, json_agg(g.id ORDER BY g.name) AS ids
    FROM content.genre_film_work gfw JOIN content.genre g ON g.id = gfw.genre_id
   WHERE gfw.film_work_id = fw.id) g ON true
LEFT JOIN LATERAL (
  SELECT
         json_agg(p.full_name ORDER BY p.full_name, p.id)
           FILTER (WHERE pfw.role = 'director') AS directors_names,
         json_agg(json_build_object('id', p.id, 'name', p.full_name) ORDER BY p.full_name, p.id)
           FILTER (WHERE pfw.role = 'director') AS directors,
         json_agg(p.full_name ORDER BY p.full_name, p.id)
           FILTER (WHERE pfw.role = 'actor') AS actors_names,
         json_agg(json_build_object('id', p.id, 'name', p.full_name) ORDER BY p.full_name, p.id)
           FILTER (WHERE pfw.role = 'actor') AS actors,
         json_agg(p.full_name ORDER BY p.full_name, p.id)
           FILTER (WHERE pfw.role = 'writer') AS writers_names,
         json_agg(json_build_object('id', p.id, 'name', p.full_name) ORDER BY p.full_name, p.id)
           FILTER (WHERE pfw.role = 'writer') AS writers
    FROM content.person_film_work pfw JOIN content.person p ON p.id = pfw.person_id
   WHERE pfw.film_work_id = fw.id) c ON true
"""
_GENRE_SELECT = """
SELECT g.id, json_build_object('id', g.id, 'name', g.name, 'description', g.description)::text
       AS document
FROM content.genre g
"""
_PERSON_SELECT = """
SELECT p.id, json_build_object('id', p.id, 'full_name', p.full_name,
                               'films', coalesce(f.films, '[]'::json))::text AS document
FROM content.person p
LEFT JOIN LATERAL (
  SELECT json_agg(json_build_object('id', r.film_work_id, 'roles', r.roles)
                  ORDER BY r.film_work_id) AS films
    FROM (SELECT pfw.film_work_id, array_agg(DISTINCT pfw.role ORDER BY pfw.role) AS roles
            FROM content.person_film_work pfw WHERE pfw.person_id = p.id
           GROUP BY pfw.film_work_id) r) f ON true
"""
# JIT-compiling the per-batch query costs more than running it (measured: 220 of 370 ms).
_NO_JIT = text("SET LOCAL jit = off")
_SELECTS = {
    DocumentKind.FILM: (_FILM_SELECT, "fw"),
    DocumentKind.GENRE: (_GENRE_SELECT, "g"),
    DocumentKind.PERSON: (_PERSON_SELECT, "p"),
}


def _parse(text: str) -> Document:
    document: Document = orjson.loads(text)
    if "poster_key" in document:  # films: the catalog owns how a poster is addressed
        document["poster_url"] = poster_url(document.pop("poster_key"))
    return document


def _document(row: Any) -> Document:
    return _parse(row.document)


async def build_documents(
    connection: AsyncConnection, kind: DocumentKind, ids: Sequence[uuid.UUID | str]
) -> list[Document]:
    """The documents of the `ids` that exist (one query); missing ids were deleted."""
    if not ids:
        return []
    select, alias = _SELECTS[kind]
    statement = text(f"{select} WHERE {alias}.id = ANY(:ids)").bindparams(
        bindparam("ids", type_=ARRAY(UUID(as_uuid=True)))
    )
    values = [value if isinstance(value, uuid.UUID) else uuid.UUID(value) for value in ids]
    await connection.execute(_NO_JIT)
    result = await connection.execute(statement, {"ids": values})
    return [_document(row) for row in result]


async def build_documents_after(
    connection: AsyncConnection, kind: DocumentKind, after: str | None, limit: int
) -> list[Document]:
    """The next `limit` documents in id order after `after` (a full load's keyset page).

    A full load reads hundreds of thousands of rows: they come through the driver directly
    (`fetch_column`), without SQLAlchemy's per-row result processing (a tenth of its Python time).
    """
    select, alias = _SELECTS[kind]
    await connection.execute(_NO_JIT)
    if after is None:
        texts = await fetch_column(
            connection, f"{select} ORDER BY {alias}.id LIMIT $1", limit, column=1
        )
    else:
        texts = await fetch_column(
            connection,
            f"{select} WHERE {alias}.id > $1::uuid ORDER BY {alias}.id LIMIT $2",
            after,
            limit,
            column=1,
        )
    return [_parse(text) for text in texts]
