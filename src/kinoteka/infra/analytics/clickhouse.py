"""ClickHouse adapter of the analytics store port: clickhouse-connect to a server or to chDB."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import anyio.to_thread
import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from kinoteka.infra.analytics.port import AnalyticsStoreError

T = TypeVar("T")
SCHEMES = {"chdb", "http", "https", "clickhouse", "clickhousedb"}


class ClickHouseStore:
    def __init__(self, connect: Callable[[], Client]) -> None:
        self._connect = connect
        self._client: Client | None = None
        # chDB keeps one session per process and clickhouse-connect's client is not meant to
        # be shared between threads: one call at a time.
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str) -> ClickHouseStore:
        parts = urlsplit(url)
        if parts.scheme not in SCHEMES:
            raise ValueError(
                f"unsupported analytics store URL scheme {parts.scheme!r}: "
                "use chdb:///dir or http(s)://host:8123"
            )
        if parts.scheme == "chdb":
            if not parts.path or parts.path == "/":
                raise ValueError("chdb:// URL needs a directory: chdb:///path/to/dir")
            Path(parts.path).mkdir(parents=True, exist_ok=True)
        dsn = url.replace("clickhouse://", "http://", 1) if parts.scheme == "clickhouse" else url
        return cls(lambda: clickhouse_connect.get_client(dsn=dsn))

    def _run(self, call: Callable[[Client], T]) -> T:
        with self._lock:
            try:
                if self._client is None:
                    self._client = self._connect()
                return call(self._client)
            except ClickHouseError as error:
                raise AnalyticsStoreError(str(error).strip().splitlines()[0][:500]) from error

    async def _call(self, call: Callable[[Client], T]) -> T:
        return await anyio.to_thread.run_sync(self._run, call)

    async def command(self, sql: str) -> None:
        await self._call(lambda client: client.command(sql))

    async def insert(
        self,
        table: str,
        rows: Sequence[Sequence[Any]],
        columns: Sequence[str],
        *,
        dedup_token: str | None = None,
    ) -> None:
        if not rows:
            return
        database, _, name = table.rpartition(".")
        settings = {"insert_deduplication_token": dedup_token} if dedup_token else None
        await self._call(
            lambda client: client.insert(
                name,
                list(rows),
                column_names=list(columns),
                database=database or None,
                settings=settings,
            )
        )

    async def query(
        self, sql: str, parameters: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        result = await self._call(
            lambda client: client.query(sql, parameters=dict(parameters or {}))
        )
        return [tuple(row) for row in result.result_rows]

    async def ping(self) -> None:
        await self._call(lambda client: client.command("SELECT 1"))

    async def close(self) -> None:
        def close() -> None:
            with self._lock:
                if self._client is not None:
                    self._client.close()
                    self._client = None

        await anyio.to_thread.run_sync(close)
