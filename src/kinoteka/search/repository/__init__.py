"""The search context's SQL over its own schema (`search.*`) and, as the one sanctioned
exception, the catalog's `content.*` tables it reads to build documents and to find changes.

Every statement has bound parameters; table names come from this module's constants only.
The document queries themselves (large, built per server version) are in `documents.py` here.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, BIGINT
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kinoteka.search.documents import DocumentKind

LOCK_KEY = 0x6B696E6F5F73  # "kino_s": one sync step at a time across processes

_LOCK = text("SELECT pg_advisory_lock(:key)")
_UNLOCK = text("SELECT pg_advisory_unlock(:key)")


@asynccontextmanager
async def exclusive(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection holding the sync's advisory lock (waits for a running rebuild)."""
    async with engine.connect() as connection:
        await connection.execute(_LOCK, {"key": LOCK_KEY})
        await connection.commit()
        try:
            yield connection
        finally:
            if not connection.invalidated:
                await connection.rollback()
                await connection.execute(_UNLOCK, {"key": LOCK_KEY})
                await connection.commit()


async def database_now(connection: AsyncConnection) -> dt.datetime:
    now: dt.datetime = await connection.scalar(text("SELECT now()"))
    return now


# -- the change queue ----------------------------------------------------------------------


@dataclass(frozen=True)
class QueuedChange:
    seq: int
    kind: DocumentKind
    entity_id: uuid.UUID


_READ_CHANGES = text("SELECT seq, entity, entity_id FROM search.change ORDER BY seq LIMIT :n")
# The rows a batch read, once the index acknowledged them: gone from the queue, and remembered
# (per entity, the newest `recorded`) so that the safety pass does not queue them again.
_ACKNOWLEDGE = text(
    "WITH gone AS (DELETE FROM search.change WHERE seq = ANY(:seqs)"
    " RETURNING entity, entity_id, recorded)"
    " INSERT INTO search.applied AS a (entity, entity_id, recorded)"
    " SELECT entity, entity_id, max(recorded) FROM gone GROUP BY entity, entity_id"
    " ON CONFLICT (entity_id, entity) DO UPDATE"
    " SET recorded = greatest(a.recorded, excluded.recorded), applied = now()"
).bindparams(bindparam("seqs", type_=ARRAY(BIGINT)))


async def read_changes(connection: AsyncConnection, limit: int) -> list[QueuedChange]:
    """The oldest `limit` queued changes."""
    rows = (await connection.execute(_READ_CHANGES, {"n": limit})).all()
    return [QueuedChange(seq, DocumentKind(entity), entity_id) for seq, entity, entity_id in rows]


async def acknowledge_changes(connection: AsyncConnection, changes: Sequence[QueuedChange]) -> None:
    """Forget exactly the rows read (later ones stay) and remember them as applied."""
    await connection.execute(_ACKNOWLEDGE, {"seqs": [change.seq for change in changes]})


async def empty_queue(connection: AsyncConnection) -> None:
    """A full load reads everything committed: nothing queued or applied before it matters."""
    await connection.execute(text("DELETE FROM search.change"))
    await connection.execute(text("DELETE FROM search.applied"))


@dataclass(frozen=True)
class QueueStats:
    queued: int
    oldest: dt.datetime | None
    now: dt.datetime


async def queue_stats(connection: AsyncConnection) -> QueueStats:
    queued, oldest, now = (
        await connection.execute(text("SELECT count(*), min(recorded), now() FROM search.change"))
    ).one()
    return QueueStats(queued, oldest, now)


async def queued_count(connection: AsyncConnection) -> int:
    count: int = await connection.scalar(text("SELECT count(*) FROM search.change"))
    return count


# -- the safety net ------------------------------------------------------------------------


def _undelivered(kind: str, entity_id: str, modified: str) -> str:
    """No change of the entity recorded at or after `modified`, pending or acknowledged."""
    return (
        f"NOT EXISTS (SELECT 1 FROM search.change c WHERE c.entity_id = {entity_id}"  # noqa: S608
        f" AND c.entity = '{kind}' AND c.recorded >= {modified})"
        f" AND NOT EXISTS (SELECT 1 FROM search.applied a WHERE a.entity_id = {entity_id}"
        f" AND a.entity = '{kind}' AND a.recorded >= {modified})"
    )


def _fanned_out(table: str, kind: str, link: str, key: str) -> str:
    """The entity rows of `table` modified after `:lower` and the films embedding them,
    each unless the queue already carried a change to it recorded since."""
    return (
        f"SELECT '{kind}', t.id FROM content.{table} t WHERE t.modified > :lower"  # noqa: S608
        f" AND {_undelivered(kind, 't.id', 't.modified')} UNION"
        f" SELECT 'film', l.film_work_id FROM content.{table} t"
        f" JOIN content.{link} l ON l.{key} = t.id WHERE t.modified > :lower"
        f" AND {_undelivered('film', 'l.film_work_id', 't.modified')}"
    )


# Per catalog table: queue the rows its recently modified rows stand for, that the triggers
# did not already deliver (a restore with triggers off, a trigger dropped by hand).
_SAFETY_CAPTURE = {
    "film_work": (
        "SELECT 'film', t.id FROM content.film_work t WHERE t.modified > :lower"  # noqa: S608
        f" AND {_undelivered('film', 't.id', 't.modified')}"
    ),
    "genre": _fanned_out("genre", "genre", "genre_film_work", "genre_id"),
    "person": _fanned_out("person", "person", "person_film_work", "person_id"),
}
SAFETY_TABLES = tuple(_SAFETY_CAPTURE)
_SAFETY_INSERTS = {
    table: text(f"INSERT INTO search.change (entity, entity_id) {select}")
    for table, select in _SAFETY_CAPTURE.items()
}
_PURGE_APPLIED = text("DELETE FROM search.applied WHERE recorded < :horizon AND applied < :horizon")


async def queue_missed_changes(connection: AsyncConnection, table: str, lower: dt.datetime) -> int:
    """Queue the changes to `table` modified after `lower` the queue never carried; how many."""
    result: Any = await connection.execute(_SAFETY_INSERTS[table], {"lower": lower})
    return int(result.rowcount or 0)


async def forget_applied_before(connection: AsyncConnection, horizon: dt.datetime) -> None:
    """Acknowledged changes older than every safety window to come are of no use any more."""
    await connection.execute(_PURGE_APPLIED, {"horizon": horizon})


# -- verification --------------------------------------------------------------------------

_TABLES = {
    DocumentKind.FILM: "film_work",
    DocumentKind.GENRE: "genre",
    DocumentKind.PERSON: "person",
}
_COUNTS = {kind: text(f"SELECT count(*) FROM content.{t}") for kind, t in _TABLES.items()}  # noqa: S608
_SAMPLES = {
    kind: text(f"SELECT id FROM content.{t} ORDER BY random() LIMIT :n")  # noqa: S608
    for kind, t in _TABLES.items()
}


async def catalog_count(connection: AsyncConnection, kind: DocumentKind) -> int:
    count: int = await connection.scalar(_COUNTS[kind])
    return count


async def sample_ids(connection: AsyncConnection, kind: DocumentKind, n: int) -> list[uuid.UUID]:
    return list((await connection.scalars(_SAMPLES[kind], {"n": n})).all())
