"""PostgreSQL adapter of the document port: one table per collection in the schema `ugc`,
`(key text primary key, doc jsonb)`, each call one statement (or a short retry loop of single
statements) run in autocommit: every write is atomic on its document, and a call costs one
round trip, not three (no BEGIN/COMMIT around a lone statement). The statements go straight to
the driver (asyncpg, `$n` parameters) on a pooled connection: SQLAlchemy's per-statement
compile, cache-key and result work cost more than the statement's own client side. Driver
errors come out as the engine's would (`driver_error`; a timeout or a broken link as
`DatabaseUnavailable`, the connection dropped from the pool).

Field names are spliced into the SQL (checked against a strict pattern), values are bound:
the migrations' expression indexes on `doc -> 'field'` then serve the queries.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kinoteka.infra import db as db_port
from kinoteka.infra.db import Database, DatabaseUnavailable, driver_error
from kinoteka.infra.documents.port import Document, Order, check_collection

SCHEMA = "ugc"
LINK_LOST = frozenset({"08", "57"})
"""SQLSTATE classes after which a connection is not reused: connection, operator intervention."""
FIELD_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _field(name: str) -> str:
    if not FIELD_NAME.fullmatch(name):
        raise ValueError(f"not a field name: {name!r}")
    return name


def _table(collection: str) -> str:
    return f"{SCHEMA}.{check_collection(collection)}"


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _load(raw: str | None) -> Document | None:
    if raw is None:
        return None
    loaded: Document = orjson.loads(raw)
    return loaded


def _where(where: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """The condition on `where`'s fields and its arguments, `$1`… in order."""
    clauses: list[str] = []
    args: list[Any] = []
    for name, value in where.items():
        args.append(_json(value))
        clauses.append(f"doc -> '{_field(name)}' = CAST(${len(args)} AS jsonb)")
    return (" AND ".join(clauses) or "true"), args


class PostgresDocumentStore:
    def __init__(self, engine: AsyncEngine, *, owns_engine: bool) -> None:
        self.engine = engine
        self.owns_engine = owns_engine
        # The same pool; each checkout runs its statements outside a transaction block.
        self.statements = engine.execution_options(isolation_level="AUTOCOMMIT")

    @classmethod
    def from_url(cls, url: str, *, database: Database | None = None) -> PostgresDocumentStore:
        if database is not None:
            return cls(database.engine, owns_engine=False)
        return cls(db_port.from_url(url).engine, owns_engine=True)

    @asynccontextmanager
    async def _driver(self) -> AsyncIterator[Any]:
        """A pooled connection's asyncpg connection, in autocommit, its errors translated."""
        async with self.statements.connect() as connection:
            raw = await connection.get_raw_connection()
            try:
                yield raw.driver_connection
            except (TimeoutError, OSError) as error:
                await connection.invalidate()
                reason = type(error).__name__
                raise DatabaseUnavailable(f"postgres did not answer in time: {reason}") from error
            except (asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                sqlstate = str(getattr(error, "sqlstate", "") or "")
                if isinstance(error, asyncpg.InterfaceError) or sqlstate[:2] in LINK_LOST:
                    await connection.invalidate()
                raise driver_error(error, "a document store statement") from error

    async def _rows(self, statement: str, *args: Any) -> list[asyncpg.Record]:
        async with self._driver() as driver:
            rows: list[asyncpg.Record] = await driver.fetch(statement, *args)
            return rows

    async def _one(self, statement: str, *args: Any) -> Any:
        async with self._driver() as driver:
            return await driver.fetchval(statement, *args)

    async def get(self, collection: str, key: str) -> Document | None:
        raw = await self._one(f"SELECT doc::text FROM {_table(collection)} WHERE key = $1", key)
        return _load(raw)

    async def insert(self, collection: str, key: str, document: Document) -> bool:
        inserted = await self._one(
            f"INSERT INTO {_table(collection)} (key, doc) VALUES ($1, CAST($2 AS jsonb)) "
            "ON CONFLICT (key) DO NOTHING RETURNING 1",
            key,
            _json(document),
        )
        return inserted is not None

    async def put(self, collection: str, key: str, document: Document) -> Document | None:
        table = _table(collection)
        # One statement: lock the row and read it (the newest version, a concurrent writer's
        # included), replace it when there was one, insert when there was none. When a
        # concurrent insert took the key between the two, nothing was written: run it again,
        # which then finds that row.
        statement = (
            f"WITH p AS (SELECT key, doc AS old FROM {table} WHERE key = $1 FOR UPDATE), "
            f"u AS (UPDATE {table} AS t SET doc = CAST($2 AS jsonb) FROM p "
            "WHERE t.key = p.key RETURNING 1), "
            f"i AS (INSERT INTO {table} (key, doc) SELECT $1, CAST($2 AS jsonb) "
            "WHERE NOT EXISTS (SELECT FROM p) ON CONFLICT (key) DO NOTHING RETURNING 1) "
            "SELECT (SELECT old::text FROM p), "
            "EXISTS (SELECT FROM u) OR EXISTS (SELECT FROM i)"
        )
        doc = _json(document)
        async with self._driver() as driver:
            while True:
                previous, written = await driver.fetchrow(statement, key, doc)
                if written:
                    return _load(previous)

    async def put_if_newer(self, collection: str, key: str, document: Document, field: str) -> bool:
        table = _table(collection)
        name = _field(field)
        written = await self._one(
            f"INSERT INTO {table} AS t (key, doc) VALUES ($1, CAST($2 AS jsonb)) "
            "ON CONFLICT (key) DO UPDATE SET doc = EXCLUDED.doc "
            f"WHERE t.doc -> '{name}' IS NULL OR t.doc -> '{name}' < EXCLUDED.doc -> '{name}' "
            "RETURNING 1",
            key,
            _json(document),
        )
        return written is not None

    async def update(
        self, collection: str, key: str, changes: Mapping[str, Any]
    ) -> Document | None:
        table = _table(collection)
        for name in changes:
            _field(name)
        previous = await self._one(
            f"UPDATE {table} AS t SET doc = t.doc || CAST($2 AS jsonb) FROM "
            f"(SELECT key, doc AS old FROM {table} WHERE key = $1 FOR UPDATE) AS p "
            "WHERE t.key = p.key RETURNING p.old::text",
            key,
            _json(dict(changes)),
        )
        return _load(previous)

    async def increment(
        self, collection: str, key: str, deltas: Mapping[str, int], *, create: bool = False
    ) -> Document | None:
        table = _table(collection)
        for name in deltas:
            _field(name)
        added = (
            "(SELECT jsonb_object_agg(d.k, COALESCE((t.doc ->> d.k)::bigint, 0) + d.v::bigint) "
            "FROM jsonb_each_text(CAST($2 AS jsonb)) AS d(k, v))"
        )
        if create:
            statement = (
                f"INSERT INTO {table} AS t (key, doc) VALUES ($1, CAST($2 AS jsonb)) "
                f"ON CONFLICT (key) DO UPDATE SET doc = t.doc || {added} RETURNING t.doc::text"
            )
        else:
            statement = (
                f"UPDATE {table} AS t SET doc = t.doc || {added} WHERE t.key = $1 "
                "RETURNING t.doc::text"
            )
        raw = await self._one(statement, key, _json(dict(deltas)))
        return _load(raw)

    async def delete(self, collection: str, key: str) -> Document | None:
        raw = await self._one(
            f"DELETE FROM {_table(collection)} WHERE key = $1 RETURNING doc::text", key
        )
        return _load(raw)

    async def delete_where(self, collection: str, where: Mapping[str, Any]) -> int:
        condition, args = _where(where)
        async with self._driver() as driver:
            status: str = await driver.execute(
                f"DELETE FROM {_table(collection)} WHERE {condition}", *args
            )
        return int(status.rsplit(" ", 1)[-1])

    async def find(
        self,
        collection: str,
        where: Mapping[str, Any],
        *,
        order_by: Order = (),
        limit: int = 50,
        offset: int = 0,
    ) -> list[Document]:
        condition, args = _where(where)
        order = ", ".join(
            f"doc -> '{_field(name)}' {'DESC' if descending else 'ASC'}"
            for name, descending in order_by
        )
        statement = (
            f"SELECT doc::text FROM {_table(collection)} WHERE {condition} "
            f"ORDER BY {order + ', ' if order else ''}key "
            f"LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}"
        )
        rows = await self._rows(statement, *args, limit, offset)
        return [orjson.loads(row[0]) for row in rows]

    async def keys(
        self, collection: str, *, after: str | None = None, limit: int = 1000
    ) -> list[str]:
        # COLLATE "C": byte order, the order MongoDB gives its string `_id`s.
        args: list[Any] = [limit]
        condition = ""
        if after is not None:
            args.append(after)
            condition = 'WHERE key > $2 COLLATE "C" '
        statement = (
            f'SELECT key FROM {_table(collection)} {condition}ORDER BY key COLLATE "C" LIMIT $1'
        )
        return [str(row[0]) for row in await self._rows(statement, *args)]

    async def count(self, collection: str, where: Mapping[str, Any]) -> int:
        condition, args = _where(where)
        counted = await self._one(
            f"SELECT count(*) FROM {_table(collection)} WHERE {condition}", *args
        )
        return int(counted)

    async def prepare(self, indexes: Mapping[str, Sequence[Order]]) -> None:
        """Nothing: the `ugc` migrations create the tables and their indexes."""

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def close(self) -> None:
        if self.owns_engine:
            await self.engine.dispose()
