"""ClickHouse adapter of the analytics store port: clickhouse-connect to a server or to chDB.

`insert_json` sends its lines as one `INSERT … FORMAT JSONEachRow` (ClickHouse parses them).
When ClickHouse refuses the block for a row's content (one of `ROW_ERRORS`), the block is
split in halves and each half tried again, down to single lines: the good rows load in a few
statements and each refused line gets ClickHouse's own reason.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import anyio.to_thread
import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError, OperationalError

from kinoteka.infra.analytics.port import (
    AnalyticsRowsRejected,
    AnalyticsStoreError,
    AnalyticsStoreUnavailable,
    RejectedRow,
)

T = TypeVar("T")
SCHEMES = {"chdb", "http", "https", "clickhouse", "clickhousedb"}
# ClickHouse error codes that mean "this data cannot go in this table", not "the store failed".
ROW_ERRORS = frozenset({
    6, 26, 27, 32, 38, 41, 53, 69, 70, 72, 117, 131, 321, 349, 376, 469,
})  # fmt: skip
_CODE = re.compile(r"\bCode:\s*(\d+)")
_PREFIX = re.compile(r"^(?:Code: \d+\. DB::Exception: )+")
JSON_SETTINGS = {
    "input_format_skip_unknown_fields": 1,
    "date_time_input_format": "best_effort",
}
# ClickHouse's parallel parser cuts its input into segments of this many bytes (its
# `min_chunk_bytes_for_parallel_parsing`): a smaller block is one segment, parsed by one
# thread all the same, after hand-offs between threads that cost a fifth of the insert's CPU.
PARALLEL_PARSING_BYTES = 10 * 1024 * 1024


def _code(error: ClickHouseError) -> int | None:
    code = getattr(error, "code", None)
    if isinstance(code, int):
        return code
    found = _CODE.search(str(error))
    return int(found.group(1)) if found else None


def _reason(error: ClickHouseError) -> str:
    text = _PREFIX.sub("", str(error).strip()).splitlines()[0]
    return text.split(": (in file/uri")[0][:300]


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
            if self._client is None:
                try:
                    self._client = self._connect()
                except (ClickHouseError, OSError) as error:
                    raise AnalyticsStoreUnavailable(_first_line(error)) from error
            try:
                return call(self._client)
            except OperationalError as error:  # connection refused, dropped, timed out
                raise AnalyticsStoreUnavailable(_first_line(error)) from error
            except ClickHouseError as error:
                raise AnalyticsStoreError(_first_line(error)) from error

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

    async def insert_json(
        self, table: str, lines: Sequence[bytes], *, dedup_token: str | None = None
    ) -> int:
        if not lines:
            return 0
        rejected: list[RejectedRow] = []

        def attempt(client: Client, start: int, end: int, token: str | None) -> None:
            block = b"\n".join(lines[start:end])
            settings: dict[str, Any] = dict(JSON_SETTINGS)
            settings["input_format_parallel_parsing"] = int(len(block) > PARALLEL_PARSING_BYTES)
            if token:
                settings["insert_deduplication_token"] = token
            try:
                client.raw_insert(table, insert_block=block, settings=settings, fmt="JSONEachRow")
            except ClickHouseError as error:
                if isinstance(error, OperationalError) or _code(error) not in ROW_ERRORS:
                    raise
                if end - start == 1:
                    rejected.append(RejectedRow(start, _reason(error)))
                    return
                middle = (start + end) // 2
                for part_start, part_end in ((start, middle), (middle, end)):
                    part_token = f"{token}:{part_start}-{part_end}" if token else None
                    attempt(client, part_start, part_end, part_token)

        await self._call(lambda client: attempt(client, 0, len(lines), dedup_token))
        loaded = len(lines) - len(rejected)
        if rejected:
            raise AnalyticsRowsRejected(rejected, loaded)
        return loaded

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


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:500]
