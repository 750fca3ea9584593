"""The document queries: each renders whole search documents as JSON in PostgreSQL.

Each builder runs one query per batch, selected either by ids (changes) or by an id keyset
(full loads); see `kinoteka.search.documents` for the shape of the documents. A query is built
per scope (a function giving the condition on each key column) from this module's constants
only; values are always bound parameters.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncConnection

from kinoteka.catalog import poster_url_sql
from kinoteka.infra.db import fetch_column, fetch_rows
from kinoteka.infra.search import Document, EncodedDocument
from kinoteka.media import artwork_url_sql
from kinoteka.search.documents import DocumentKind, SearchIndexes
from kinoteka.search.settings import IndexNames

Scope = Callable[[str], str]
"""The condition selecting a batch, for a key column (`fw.id`, `pfw.film_work_id`, …)."""


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


POPULARITY_SQL = "(coalesce(fw.rating, 0) + least(coalesce(c.credits, 0), 10) / 5.0)"
"""A film's `popularity`, the weight of its search relevance: its rating (0-10), plus up to two
points for how well known it is, which the course data tells only by the people credited (a
film with ten credits is better documented than one with a single actor)."""

ADDED_SQL = "extract(epoch FROM fw.created)"
"""A film's `added`: when it entered the catalog, in seconds since 1970 (what "New" sorts by;
`release_date` is when the film came out)."""

# The viewers' summary of a film, read from ugc's per-film counters (a sanctioned
# cross-context read, as the catalog's tables are; ugc's trigger queues the film on change).
# Absent without ratings or reviews, as other fields without a value are.
USER_RATING_MEMBERS = (
    ("user_rating",
     "round((us.doc ->> 'sum')::numeric / NULLIF((us.doc ->> 'count')::numeric, 0), 2)"),
    ("user_rating_count", "NULLIF((us.doc ->> 'count')::int, 0)"),
    ("review_count", "NULLIF((us.doc ->> 'reviews')::int, 0)"),
)  # fmt: skip


# The film's playable video, as the media service plays it (`kinoteka.media.service.
# film_videos`): the newest with a switched-in version. A sanctioned cross-context read (see
# docs/architecture.md): set-wise over the page, and captured by the trigger on media.videos.
VIDEO_SELECT = f"""
  SELECT DISTINCT ON (v.film_id) v.film_id, v.duration, v.qualities,
         {artwork_url_sql("v", "poster", "list.webp")} AS poster_url,
         {artwork_url_sql("v", "preview_webp")} AS preview_url
    FROM media.videos v
   WHERE {{film_id}} AND v.current_version IS NOT NULL
   ORDER BY v.film_id, v.created DESC"""  # noqa: S608 - built from constants only
VIDEO_MEMBERS = (
    ("has_video", "v.film_id IS NOT NULL"),
    ("duration", "v.duration"),
    ("qualities", "coalesce(to_json(v.qualities), '[]'::json)"),
    ("video_poster_url", "v.poster_url"),
    ("preview_url", "v.preview_url"),
)
"""`has_video` (always), `duration` (seconds; left out without a video), `qualities` (rung
names, `[]` without a video), `video_poster_url` and `preview_url` (the public paths of the
video's list-size poster and animated WebP preview; left out until its artwork is made)."""


def _film_select(json: _Json, scope: Scope) -> str:
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
        ("title_exact", "fw.title"),
        ("description", "fw.description"), ("poster_url", poster_url_sql("fw.poster_key")),
        ("release_date", "fw.creation_date"),
        ("type", "fw.type"), ("popularity", POPULARITY_SQL), ("added", ADDED_SQL),
        *VIDEO_MEMBERS,
        ("genres", "coalesce(g.names, '[]'::json)"), ("genre_ids", "coalesce(g.ids, '[]'::json)"),
        *((name, f"coalesce(c.{name}, '[]'::json)") for name in listed),
        *USER_RATING_MEMBERS,
    )  # fmt: skip
    credits = ",\n         ".join([*people, "count(*) AS credits"])
    return f"""
SELECT fw.id::text AS id, {document}::text AS document
FROM content.film_work fw
LEFT JOIN (
  SELECT gfw.film_work_id,
         {json.agg("g.name", "g.name")} AS names, {json.agg("g.id", "g.name")} AS ids
    FROM content.genre_film_work gfw JOIN content.genre g ON g.id = gfw.genre_id
   WHERE {scope("gfw.film_work_id")}
   GROUP BY gfw.film_work_id) g ON g.film_work_id = fw.id
LEFT JOIN (
  SELECT pfw.film_work_id,
         {credits}
    FROM content.person_film_work pfw JOIN content.person p ON p.id = pfw.person_id
   WHERE {scope("pfw.film_work_id")}
   GROUP BY pfw.film_work_id) c ON c.film_work_id = fw.id
LEFT JOIN ({VIDEO_SELECT.replace("{film_id}", scope("v.film_id"))}) v ON v.film_id = fw.id
LEFT JOIN ugc.film_stats us ON us.key = fw.id::text
WHERE {scope("fw.id")}
"""  # noqa: S608 - built from this module's constants only


def _genre_select(json: _Json, scope: Scope) -> str:
    document = json.document(("id", "g.id"), ("name", "g.name"), ("description", "g.description"))
    return f"""
SELECT g.id::text AS id, {document}::text AS document
FROM content.genre g
WHERE {scope("g.id")}
"""  # noqa: S608 - built from this module's constants only


def _person_select(json: _Json, scope: Scope) -> str:
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
           WHERE {scope("pfw.person_id")}
           GROUP BY pfw.person_id, pfw.film_work_id) r
   GROUP BY r.person_id) f ON f.person_id = p.id
WHERE {scope("p.id")}
"""  # noqa: S608 - built from this module's constants only


# Each query renders whole documents as JSON in PostgreSQL, nulls left out (an index takes the
# text as it is): the database does the aggregation work in its own process, beside the
# indexing. Genres and credits are aggregated set-wise over the rows in scope (grouped
# subqueries joined by key), not once per film in a correlated subquery: a page of 5,000 films
# is then a range scan and a hash join, not 45,000 index probes (measured: films stream 2-3x
# faster). `scope` gives, per key column, the selection: an id list (changes) or an id range
# (the pages of a full load).
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
    build: Callable[[_Json, Scope], str]
    alias: str
    table: str

    def scoped(self, standard: bool, scope: Scope) -> str:
        return self.build(_Json(standard), scope)


_SOURCES = {
    DocumentKind.FILM: _Source(_film_select, "fw", "film_work"),
    DocumentKind.GENRE: _Source(_genre_select, "g", "genre"),
    DocumentKind.PERSON: _Source(_person_select, "p", "person"),
}
SQL_JSON_SINCE = (16,)  # JSON_OBJECT, JSON_ARRAYAGG
_BY_IDS = {
    standard: {
        kind: text(source.scoped(standard, lambda key: f"{key} = ANY(:ids)")).bindparams(
            bindparam("ids", type_=ARRAY(UUID(as_uuid=True)))
        )
        for kind, source in _SOURCES.items()
    }
    for standard in (True, False)
}


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
    statement = _BY_IDS[_standard_json(connection)][kind]
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


def _id_range(lower: bool, upper: bool) -> Scope:
    """A page's scope: ids after `$1` (with a lower bound) up to the next parameter (with an
    upper bound)."""

    def scope(key: str) -> str:
        bounds = [*([f"{key} > $1::uuid"] if lower else []),
                  *([f"{key} <= ${1 + lower}::uuid"] if upper else [])]  # fmt: skip
        return " AND ".join(bounds) or "true"

    return scope


def _page_statements(source: _Source, standard: bool) -> dict[tuple[bool, bool], str]:
    """The page query per (has a lower bound, has an upper bound), `$n` parameters in order."""
    return {
        (lower, upper): f"{source.scoped(standard, _id_range(lower, upper))}"
        f" ORDER BY {source.alias}.id"
        for lower, upper in itertools.product((False, True), repeat=2)
    }


_PAGES = {
    standard: {kind: _page_statements(source, standard) for kind, source in _SOURCES.items()}
    for standard in (True, False)
}
# A page's last id: the (limit - 1)th after the page's lower bound (table names are constants).
_PAGE_ENDS = {
    kind: (
        f"SELECT id FROM content.{source.table} ORDER BY id OFFSET $1 LIMIT 1",  # noqa: S608
        f"SELECT id FROM content.{source.table} WHERE id > $1::uuid"  # noqa: S608
        " ORDER BY id OFFSET $2 LIMIT 1",
    )
    for kind, source in _SOURCES.items()
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
