"""Search documents (movies, genres, persons): their index definitions and set-based builders.

Each builder runs one query per batch, selected either by ids (changes) or by an id keyset
(full loads), and returns plain dicts in the shape the indexes hold:
- movies: `id`, `imdb_rating`, `title`, `description`, `genres` (names), `genre_ids`,
  `directors_names`, `actors_names`, `writers_names`, `directors`/`actors`/`writers` as
  `[{id, name}]`;
- genres: `id`, `name`, `description`;
- persons: `id`, `full_name`, `films: [{id, roles}]`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncConnection

from kinoteka.infra.search import Document, FieldKind, FieldSpec, IndexDefinition
from kinoteka.search.settings import IndexNames


class DocumentKind(StrEnum):
    """What a change-queue row or an index is about."""

    FILM = "film"
    GENRE = "genre"
    PERSON = "person"


CREDITED_ROLES = ("actor", "director", "writer")

_ID = FieldSpec("id", FieldKind.KEYWORD)
_PEOPLE = (FieldSpec("id", FieldKind.KEYWORD), FieldSpec("name", FieldKind.TEXT))
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
    FieldSpec("directors", FieldKind.OBJECTS, properties=_PEOPLE),
    FieldSpec("actors", FieldKind.OBJECTS, properties=_PEOPLE),
    FieldSpec("writers", FieldKind.OBJECTS, properties=_PEOPLE),
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


_FILM_SELECT = """
SELECT fw.id::text AS id, fw.rating, fw.title, fw.description,
  (SELECT coalesce(json_agg(json_build_array(g.id, g.name) ORDER BY g.name), '[]')::text
     FROM content.genre_film_work gfw JOIN content.genre g ON g.id = gfw.genre_id
    WHERE gfw.film_work_id = fw.id) AS genres,
  (SELECT coalesce(json_agg(json_build_array(p.id, p.full_name, pfw.role)
                            ORDER BY p.full_name, p.id), '[]')::text
     FROM content.person_film_work pfw JOIN content.person p ON p.id = pfw.person_id
    WHERE pfw.film_work_id = fw.id AND pfw.role IN ('actor', 'director', 'writer')) AS persons
FROM content.film_work fw
"""
_GENRE_SELECT = """
SELECT g.id::text AS id, g.name, g.description FROM content.genre g
"""
_PERSON_SELECT = """
SELECT p.id::text AS id, p.full_name,
  (SELECT coalesce(json_agg(json_build_array(r.film_work_id, r.roles)
                            ORDER BY r.film_work_id), '[]')::text
     FROM (SELECT pfw.film_work_id, array_agg(DISTINCT pfw.role ORDER BY pfw.role) AS roles
             FROM content.person_film_work pfw WHERE pfw.person_id = p.id
            GROUP BY pfw.film_work_id) r) AS films
FROM content.person p
"""
_SELECTS = {
    DocumentKind.FILM: (_FILM_SELECT, "fw"),
    DocumentKind.GENRE: (_GENRE_SELECT, "g"),
    DocumentKind.PERSON: (_PERSON_SELECT, "p"),
}


def film_document(row: Any) -> Document:
    genres = json.loads(row.genres)
    credits: dict[str, list[dict[str, str]]] = {role: [] for role in CREDITED_ROLES}
    for person_id, name, role in json.loads(row.persons):
        credits[role].append({"id": person_id, "name": name})
    document: Document = {
        "id": row.id,
        "imdb_rating": row.rating,
        "title": row.title,
        "description": row.description,
        "genres": [name for _, name in genres],
        "genre_ids": [genre_id for genre_id, _ in genres],
    }
    for role in CREDITED_ROLES:
        people = credits[role]
        document[f"{role}s_names"] = [person["name"] for person in people]
        document[f"{role}s"] = people
    return document


def genre_document(row: Any) -> Document:
    return {"id": row.id, "name": row.name, "description": row.description}


def person_document(row: Any) -> Document:
    films = [{"id": film_id, "roles": roles} for film_id, roles in json.loads(row.films)]
    return {"id": row.id, "full_name": row.full_name, "films": films}


_BUILDERS = {
    DocumentKind.FILM: film_document,
    DocumentKind.GENRE: genre_document,
    DocumentKind.PERSON: person_document,
}


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
    result = await connection.execute(statement, {"ids": values})
    return [_BUILDERS[kind](row) for row in result]


async def build_documents_after(
    connection: AsyncConnection, kind: DocumentKind, after: str | None, limit: int
) -> list[Document]:
    """The next `limit` documents in id order after `after` (a full load's keyset page)."""
    select, alias = _SELECTS[kind]
    condition = f"WHERE {alias}.id > CAST(:after AS uuid)" if after is not None else ""
    statement = text(f"{select} {condition} ORDER BY {alias}.id LIMIT :limit")
    result = await connection.execute(statement, {"after": after, "limit": limit})
    return [_BUILDERS[kind](row) for row in result]
