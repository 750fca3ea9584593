"""A loader that stops dead between its insert and its ack, for the `kill -9` test.

`python -m tests.analytics.crashing_loader REDIS_URL CHDB_DIR DATABASE MARKER` loads one batch
through the real `Loader`; its store (the real chDB adapter, wrapped behind the port) writes
MARKER once the insert has returned and then blocks, so the test can `kill -9` it exactly
between the insert and the acknowledgement.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kinoteka.analytics.loader import Loader
from kinoteka.infra import analytics as store_port
from kinoteka.infra import bus as bus_port
from kinoteka.infra.analytics import AnalyticsStore


class StopsAfterInsert:
    def __init__(self, store: AnalyticsStore, marker: Path) -> None:
        self.store = store
        self.marker = marker

    async def command(self, sql: str) -> None:
        await self.store.command(sql)

    async def insert(
        self,
        table: str,
        rows: Sequence[Sequence[Any]],
        columns: Sequence[str],
        *,
        dedup_token: str | None = None,
    ) -> None:
        await self.store.insert(table, rows, columns, dedup_token=dedup_token)
        self.marker.write_text(f"{len(rows)}\n")
        # Blocking the loop is the point: the ack never comes, the test kills us here.
        time.sleep(3600)  # noqa: ASYNC251

    async def insert_json(
        self, table: str, lines: Sequence[bytes], *, dedup_token: str | None = None
    ) -> int:
        loaded = await self.store.insert_json(table, lines, dedup_token=dedup_token)
        self.marker.write_text(f"{loaded}\n")
        # Blocking the loop is the point: the ack never comes, the test kills us here.
        time.sleep(3600)  # noqa: ASYNC251
        return loaded

    async def query(
        self, sql: str, parameters: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        return await self.store.query(sql, parameters)

    async def ping(self) -> None:
        await self.store.ping()

    async def close(self) -> None:
        await self.store.close()


async def main(redis_url: str, chdb_dir: str, database: str, marker: str) -> None:
    store = StopsAfterInsert(store_port.from_url(f"chdb://{chdb_dir}"), Path(marker))
    loader = Loader(
        bus_port.from_url(redis_url),
        store,
        database,
        group="clickhouse-loader",
        consumer="crashes",
        batch_size=100,
        max_wait=5.0,
    )
    await loader.prepare()
    await loader.run_once(wait=30)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
