"""PostgreSQL adapter of the document port: one table per collection in the schema `ugc`,
`(key text primary key, doc jsonb)`, each call one statement (or a short retry loop of single
statements) run in autocommit: every write is atomic on its document, and a call costs one
round trip, not three (no BEGIN/COMMIT around a lone statement).

Field names are spliced into the SQL (checked against a strict pattern), values are bound:
the migrations' expression indexes on `doc -> 'field'` then serve the queries.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kinoteka.infra import db as db_port
from kinoteka.infra.db import Database
from kinoteka.infra.documents.port import Document, Order, check_collection

SCHEMA = "ugc"
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


def _where(where: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    clauses: list[str] = []
    params: dict[str, Any] = {}
    for number, (name, value) in enumerate(where.items()):
        clauses.append(f"doc -> '{_field(name)}' = CAST(:w{number} AS jsonb)")
        params[f"w{number}"] = _json(value)
    return (" AND ".join(clauses) or "true"), params


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

    async def _one(self, statement: str, **params: Any) -> Any:
        async with self.statements.connect() as connection:
            return (await connection.execute(text(statement), params)).scalar_one_or_none()

    async def get(self, collection: str, key: str) -> Document | None:
        raw = await self._one(
            f"SELECT doc::text FROM {_table(collection)} WHERE key = :key", key=key
        )
        return _load(raw)

    async def insert(self, collection: str, key: str, document: Document) -> bool:
        inserted = await self._one(
            f"INSERT INTO {_table(collection)} (key, doc) VALUES (:key, CAST(:doc AS jsonb)) "
            "ON CONFLICT (key) DO NOTHING RETURNING 1",
            key=key,
            doc=_json(document),
        )
        return inserted is not None

    async def put(self, collection: str, key: str, document: Document) -> Document | None:
        table = _table(collection)
        # One statement: lock the row and read it (the newest version, a concurrent writer's
        # included), replace it when there was one, insert when there was none. When a
        # concurrent insert took the key between the two, nothing was written: run it again,
        # which then finds that row.
        statement = text(
            f"WITH p AS (SELECT key, doc AS old FROM {table} WHERE key = :key FOR UPDATE), "
            f"u AS (UPDATE {table} AS t SET doc = CAST(:doc AS jsonb) FROM p "
            "WHERE t.key = p.key RETURNING 1), "
            f"i AS (INSERT INTO {table} (key, doc) SELECT :key, CAST(:doc AS jsonb) "
            "WHERE NOT EXISTS (SELECT FROM p) ON CONFLICT (key) DO NOTHING RETURNING 1) "
            "SELECT (SELECT old::text FROM p), "
            "EXISTS (SELECT FROM u) OR EXISTS (SELECT FROM i)"
        )
        params = {"key": key, "doc": _json(document)}
        async with self.statements.connect() as connection:
            while True:
                previous, written = (await connection.execute(statement, params)).one()
                if written:
                    return _load(previous)

    async def put_if_newer(self, collection: str, key: str, document: Document, field: str) -> bool:
        table = _table(collection)
        name = _field(field)
        written = await self._one(
            f"INSERT INTO {table} AS t (key, doc) VALUES (:key, CAST(:doc AS jsonb)) "
            "ON CONFLICT (key) DO UPDATE SET doc = EXCLUDED.doc "
            f"WHERE t.doc -> '{name}' IS NULL OR t.doc -> '{name}' < EXCLUDED.doc -> '{name}' "
            "RETURNING 1",
            key=key,
            doc=_json(document),
        )
        return written is not None

    async def update(
        self, collection: str, key: str, changes: Mapping[str, Any]
    ) -> Document | None:
        table = _table(collection)
        for name in changes:
            _field(name)
        previous = await self._one(
            f"UPDATE {table} AS t SET doc = t.doc || CAST(:changes AS jsonb) FROM "
            f"(SELECT key, doc AS old FROM {table} WHERE key = :key FOR UPDATE) AS p "
            "WHERE t.key = p.key RETURNING p.old::text",
            key=key,
            changes=_json(dict(changes)),
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
            "FROM jsonb_each_text(CAST(:deltas AS jsonb)) AS d(k, v))"
        )
        if create:
            statement = (
                f"INSERT INTO {table} AS t (key, doc) VALUES (:key, CAST(:deltas AS jsonb)) "
                f"ON CONFLICT (key) DO UPDATE SET doc = t.doc || {added} RETURNING t.doc::text"
            )
        else:
            statement = (
                f"UPDATE {table} AS t SET doc = t.doc || {added} WHERE t.key = :key "
                "RETURNING t.doc::text"
            )
        raw = await self._one(statement, key=key, deltas=_json(dict(deltas)))
        return _load(raw)

    async def delete(self, collection: str, key: str) -> Document | None:
        raw = await self._one(
            f"DELETE FROM {_table(collection)} WHERE key = :key RETURNING doc::text", key=key
        )
        return _load(raw)

    async def delete_where(self, collection: str, where: Mapping[str, Any]) -> int:
        condition, params = _where(where)
        async with self.statements.connect() as connection:
            result = await connection.execute(
                text(f"DELETE FROM {_table(collection)} WHERE {condition}"), params
            )
            return int(result.rowcount)

    async def find(
        self,
        collection: str,
        where: Mapping[str, Any],
        *,
        order_by: Order = (),
        limit: int = 50,
        offset: int = 0,
    ) -> list[Document]:
        condition, params = _where(where)
        order = ", ".join(
            f"doc -> '{_field(name)}' {'DESC' if descending else 'ASC'}"
            for name, descending in order_by
        )
        statement = (
            f"SELECT doc::text FROM {_table(collection)} WHERE {condition} "
            f"ORDER BY {order + ', ' if order else ''}key LIMIT :limit OFFSET :offset"
        )
        async with self.statements.connect() as connection:
            rows = await connection.execute(
                text(statement), {**params, "limit": limit, "offset": offset}
            )
            return [orjson.loads(raw) for raw in rows.scalars()]

    async def keys(
        self, collection: str, *, after: str | None = None, limit: int = 1000
    ) -> list[str]:
        # COLLATE "C": byte order, the order MongoDB gives its string `_id`s.
        condition = 'WHERE key > :after COLLATE "C" ' if after is not None else ""
        statement = (
            f'SELECT key FROM {_table(collection)} {condition}ORDER BY key COLLATE "C" LIMIT :limit'
        )
        params: dict[str, Any] = {"limit": limit}
        if after is not None:
            params["after"] = after
        async with self.statements.connect() as connection:
            rows = await connection.execute(text(statement), params)
            return [str(key) for key in rows.scalars()]

    async def count(self, collection: str, where: Mapping[str, Any]) -> int:
        condition, params = _where(where)
        async with self.statements.connect() as connection:
            result = await connection.execute(
                text(f"SELECT count(*) FROM {_table(collection)} WHERE {condition}"), params
            )
            return int(result.scalar_one())

    async def prepare(self, indexes: Mapping[str, Sequence[Order]]) -> None:
        """Nothing: the `ugc` migrations create the tables and their indexes."""

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def close(self) -> None:
        if self.owns_engine:
            await self.engine.dispose()
