"""Search documents (movies, genres, persons): their index definitions and set-based builders.

Each builder runs one query per batch, selected either by ids (changes) or by an id keyset
(full loads). PostgreSQL renders every document as JSON in the shape the indexes hold; the
builders hand that text on as `EncodedDocument`s (or parsed, for comparisons):
- movies: `id`, `imdb_rating`, `title`, `description`, `genres` (names), `genre_ids`,
  `directors_names`, `actors_names`, `writers_names`, `directors_ids`, `actors_ids`,
  `writers_ids`, `directors`/`actors`/`writers` as `[{id, name}]`, `poster_url` (the catalog's
  poster path);
- genres: `id`, `name`, `description`;
- persons: `id`, `full_name`, `films: [{id, roles}]`.
A field without a value (no rating, no description, no poster) is left out, not `null`.
`directors`/`actors`/`writers` are derived fields (`FieldSpec.derived`: the names and ids
zipped, in the same order): the query leaves them out and an index completes documents with
them (`IndexDefinition.complete`), so PostgreSQL renders each credit twice, not three times.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncConnection

from kinoteka.catalog.posters import poster_url_sql
from kinoteka.infra.db import fetch_column, fetch_rows
from kinoteka.infra.search import (
    Document,
    EncodedDocument,
    FieldKind,
    FieldSpec,
    IndexDefinition,
)
from kinoteka.search.settings import IndexNames


class DocumentKind(StrEnum):
    """What a change-queue row or an index is about."""

    FILM = "film"
    GENRE = "genre"
    PERSON = "person"


_ID = FieldSpec("id", FieldKind.KEYWORD)


def _people(role: str) -> FieldSpec:
    # Both properties repeat flat fields: an index that flattens documents need not index the
    # objects at all (Tantivy: a third less work per film).
    return FieldSpec(
        role,
        FieldKind.OBJECTS,
        properties=(
            FieldSpec("id", FieldKind.KEYWORD, same_as=f"{role}_ids"),
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
    FieldSpec("directors_ids", FieldKind.KEYWORD),
    FieldSpec("actors_ids", FieldKind.KEYWORD),
    FieldSpec("writers_ids", FieldKind.KEYWORD),
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


@dataclass(frozen=True)
class _Json:
    """The server's JSON constructors: the SQL/JSON ones (PostgreSQL 16+: a quarter less CPU a
    page, measured, and nulls left out as the object is built) or the `json_*` functions, with
    nulls stripped from the finished document. Both render the same documents."""

    standard: bool

    def document(self, *members: tuple[str, str]) -> str:
        """A top-level document: members whose value is NULL are left out."""
        if self.standard:
            return f"JSON_OBJECT({self._members(members)} ABSENT ON NULL)"
        return f"json_strip_nulls({self.object(*members)})"

    def object(self, *members: tuple[str, str]) -> str:
        if self.standard:
            return f"JSON_OBJECT({self._members(members)})"
        return f"json_build_object({self._members(members)})"

    def _members(self, members: Sequence[tuple[str, str]]) -> str:
        separator = ": " if self.standard else ", "
        return ", ".join(f"'{key}'{separator}{value}" for key, value in members)

    def agg(self, value: str, order: str, where: str | None = None) -> str:
        """An array of `value` (never NULL here) over the group, in `order`; NULL if empty."""
        aggregate = "JSON_ARRAYAGG" if self.standard else "json_agg"
        condition = f" FILTER (WHERE {where})" if where else ""
        return f"{aggregate}({value} ORDER BY {order}){condition}"


def _film_select(json: _Json) -> str:
    people = []
    # Names and ids only: `directors` & co. are derived fields (the two zipped), left out here
    # and completed by the index (measured: a third less of the database's work per film).
    for role in ("director", "actor", "writer"):
        where = f"pfw.role = '{role}'"
        people += [
            f"{json.agg('p.full_name', 'p.full_name, p.id', where)} AS {role}s_names",
            f"{json.agg('p.id', 'p.full_name, p.id', where)} AS {role}s_ids",
        ]
    listed = [f"{role}s{part}" for role in ("director", "actor", "writer")
              for part in ("_names", "_ids")]  # fmt: skip
    document = json.document(
        ("id", "fw.id"), ("imdb_rating", "fw.rating"), ("title", "fw.title"),
        ("description", "fw.description"), ("poster_url", poster_url_sql("fw.poster_key")),
        ("genres", "coalesce(g.names, '[]'::json)"), ("genre_ids", "coalesce(g.ids, '[]'::json)"),
        *((name, f"coalesce(c.{name}, '[]'::json)") for name in listed),
    )  # fmt: skip
    credits = ",\n         ".join(people)
    return f"""
SELECT fw.id::text AS id, {document}::text AS document
FROM content.film_work fw
LEFT JOIN (
  SELECT gfw.film_work_id,
         {json.agg("g.name", "g.name")} AS names, {json.agg("g.id", "g.name")} AS ids
    FROM content.genre_film_work gfw JOIN content.genre g ON g.id = gfw.genre_id
   WHERE {{scope:gfw.film_work_id}}
   GROUP BY gfw.film_work_id) g ON g.film_work_id = fw.id
LEFT JOIN (
  SELECT pfw.film_work_id,
         {credits}
    FROM content.person_film_work pfw JOIN content.person p ON p.id = pfw.person_id
   WHERE {{scope:pfw.film_work_id}}
   GROUP BY pfw.film_work_id) c ON c.film_work_id = fw.id
WHERE {{scope:fw.id}}
"""  # noqa: S608 - built from this module's constants only


def _genre_select(json: _Json) -> str:
    document = json.document(("id", "g.id"), ("name", "g.name"), ("description", "g.description"))
    return f"""
SELECT g.id::text AS id, {document}::text AS document
FROM content.genre g
WHERE {{scope:g.id}}
"""  # noqa: S608 - built from this module's constants only


def _person_select(json: _Json) -> str:
    document = json.document(
        ("id", "p.id"), ("full_name", "p.full_name"), ("films", "coalesce(f.films, '[]'::json)")
    )
    film = json.object(("id", "r.film_work_id"), ("roles", "r.roles"))
    # A credit is unique per (film, person, role): a film's roles need no DISTINCT, and the
    # credits index on (person_id, film_work_id, role) hands them over grouped and in order.
    return f"""
SELECT p.id::text AS id, {document}::text AS document
FROM content.person p
LEFT JOIN (
  SELECT r.person_id, {json.agg(film, "r.film_work_id")} AS films
    FROM (SELECT pfw.person_id, pfw.film_work_id,
                 {json.agg("pfw.role", "pfw.role")} AS roles
            FROM content.person_film_work pfw
           WHERE {{scope:pfw.person_id}}
           GROUP BY pfw.person_id, pfw.film_work_id) r
   GROUP BY r.person_id) f ON f.person_id = p.id
WHERE {{scope:p.id}}
"""  # noqa: S608 - built from this module's constants only


# Each query renders whole documents as JSON in PostgreSQL, nulls left out (an index takes the
# text as it is): the database does the aggregation work in its own process, beside the
# indexing. Genres and credits are aggregated set-wise over the rows in scope (grouped
# subqueries joined by key), not once per film in a correlated subquery: a page of 5,000 films
# is then a range scan and a hash join, not 45,000 index probes (measured: films stream 2-3x
# faster). `{scope}` is filled, per key column, with the selection: an id list (changes) or an
# id range (the pages of a full load).
_SCOPED = re.compile(r"\{scope:([a-z_.]+)\}")
# JIT-compiling the per-batch query costs more than running it (measured: 220 of 370 ms); a
# custom plan per page sees the real id range (a generic plan guesses it, and may then probe
# credits one film at a time); a page's credits are sorted in memory, not on disk.
_PAGE_SETTINGS = text(
    "SELECT set_config('jit', 'off', true),"
    " set_config('plan_cache_mode', 'force_custom_plan', true),"
    " set_config('work_mem', '32MB', true)"
)


@dataclass(frozen=True)
class _Source:
    select: str
    alias: str
    table: str

    def scoped(self, condition: str) -> str:
        """The select with `condition` (`{key}` standing for each key column) as its scope."""
        return _SCOPED.sub(lambda key: condition.format(key=key[1]), self.select)


_SOURCES = {
    standard: {
        DocumentKind.FILM: _Source(_film_select(_Json(standard)), "fw", "film_work"),
        DocumentKind.GENRE: _Source(_genre_select(_Json(standard)), "g", "genre"),
        DocumentKind.PERSON: _Source(_person_select(_Json(standard)), "p", "person"),
    }
    for standard in (True, False)
}
SQL_JSON_SINCE = (16,)  # JSON_OBJECT, JSON_ARRAYAGG


def _standard_json(connection: AsyncConnection) -> bool:
    """Whether the server has the SQL/JSON constructors (SQLAlchemy read its version)."""
    version = connection.dialect.server_version_info
    return version is not None and tuple(version) >= SQL_JSON_SINCE


async def encoded_documents(
    connection: AsyncConnection, kind: DocumentKind, ids: Sequence[uuid.UUID | str]
) -> list[EncodedDocument]:
    """The documents of the `ids` that exist (one query); missing ids were deleted."""
    if not ids:
        return []
    source = _SOURCES[_standard_json(connection)][kind]
    statement = text(source.scoped("{key} = ANY(:ids)")).bindparams(
        bindparam("ids", type_=ARRAY(UUID(as_uuid=True)))
    )
    values = [value if isinstance(value, uuid.UUID) else uuid.UUID(value) for value in ids]
    await connection.execute(_PAGE_SETTINGS)
    result = await connection.execute(statement, {"ids": values})
    return [EncodedDocument(row.id, row.document) for row in result]


async def build_documents(
    connection: AsyncConnection, kind: DocumentKind, ids: Sequence[uuid.UUID | str]
) -> list[Document]:
    """The documents of the `ids` that exist, parsed and completed (what an index hands back
    for them)."""
    shape = _SHAPES.for_kind(kind)
    encoded = await encoded_documents(connection, kind, ids)
    return [shape.complete(document.decode()) for document in encoded]


_SHAPES = SearchIndexes.named(IndexNames())  # what each kind's documents hold, whatever named


def _page_statements(source: _Source) -> dict[tuple[bool, bool], str]:
    """The page query per (has a lower bound, has an upper bound), `$n` parameters in order."""
    statements = {}
    for lower, upper in itertools.product((False, True), repeat=2):
        bounds = [*(["{key} > $1::uuid"] if lower else []),
                  *([f"{{key}} <= ${1 + lower}::uuid"] if upper else [])]  # fmt: skip
        condition = " AND ".join(bounds) or "true"
        statements[lower, upper] = f"{source.scoped(condition)} ORDER BY {source.alias}.id"
    return statements


_PAGES = {
    standard: {kind: _page_statements(source) for kind, source in sources.items()}
    for standard, sources in _SOURCES.items()
}
# A page's last id: the (limit - 1)th after the page's lower bound (table names are constants).
_PAGE_ENDS = {
    kind: (
        f"SELECT id FROM content.{source.table} ORDER BY id OFFSET $1 LIMIT 1",  # noqa: S608
        f"SELECT id FROM content.{source.table} WHERE id > $1::uuid"  # noqa: S608
        " ORDER BY id OFFSET $2 LIMIT 1",
    )
    for kind, source in _SOURCES[True].items()
}


async def encoded_page(
    connection: AsyncConnection, kind: DocumentKind, after: str | None, limit: int
) -> list[EncodedDocument]:
    """The next `limit` documents in id order after `after` (a full load's keyset page).

    The page's last id is looked up first, so the documents query reads an id range (what
    lets PostgreSQL aggregate credits set-wise); run it in a REPEATABLE READ transaction, so
    that both statements see the same rows. Rows come through the driver directly
    (`fetch_rows`), without SQLAlchemy's per-row result processing, and are not parsed: a full
    load reads hundreds of thousands of them, and the index takes their JSON as it is.
    """
    await connection.execute(_PAGE_SETTINGS)
    first, later = _PAGE_ENDS[kind]
    bound = [] if after is None else [after]
    ends = await fetch_column(connection, later if bound else first, *bound, limit - 1)
    statement = _PAGES[_standard_json(connection)][kind][bool(bound), bool(ends)]
    rows = await fetch_rows(connection, statement, *bound, *ends)
    return [EncodedDocument(row[0], row[1]) for row in rows]
