"""Read queries from commands beside `up`: its Unix socket answers reads, refuses the rest,
opens to the data directory's owner only, and is gone when `up` stops."""

from __future__ import annotations

import asyncio
import socket
import stat
from pathlib import Path

import pytest

from kinoteka.analytics.querying import QueryRefused, ask, serving_queries
from kinoteka.infra.analytics import AnalyticsStore


async def test_reads_are_answered_and_the_rest_refused(
    chdb_store: AnalyticsStore, tmp_path: Path
) -> None:
    path = tmp_path / "analytics.sock"
    path.write_text("left by a process killed with -9")
    async with serving_queries(chdb_store, path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        rows = await asyncio.to_thread(ask, path, "SELECT number * 2 FROM numbers(3)")
        assert rows == [[0], [2], [4]]
        assert await asyncio.to_thread(ask, path, " with 1 AS x SELECT x") == [[1]]
        for sql in ("DROP DATABASE system", "INSERT INTO t VALUES (1)", ""):
            with pytest.raises(QueryRefused, match="only read queries"):
                await asyncio.to_thread(ask, path, sql)
        with pytest.raises(QueryRefused, match=r"UNKNOWN_TABLE|does not exist|Unknown table"):
            await asyncio.to_thread(ask, path, "SELECT * FROM no_such_database.no_table")

        def garbage() -> bytes:
            with socket.socket(socket.AF_UNIX) as connection:
                connection.connect(str(path))
                connection.sendall(b"not json\n")
                return connection.recv(1000)

        assert b"send one JSON line" in await asyncio.to_thread(garbage)
    assert not path.exists()
    with pytest.raises(FileNotFoundError):
        ask(path, "SELECT 1")
