"""Read queries from commands beside `kinoteka up` on the embedded footprint.

chDB opens its directory in one process at a time, so while `up` runs, `kinoteka analytics
counts` and `kinoteka analytics query` cannot open the tables themselves: they ask `up`
instead, over a Unix socket at `<data_dir>/analytics.sock` that only the owner of the data
directory may open (mode 0600). One request per connection: a JSON line `{"sql": "…"}`,
answered by a JSON line `{"rows": [[…], …]}` or `{"error": "…"}`. Only read statements
(SELECT, WITH, SHOW, DESCRIBE, EXISTS, EXPLAIN) are run; with a ClickHouse server
(`KINOTEKA_ANALYTICS__STORE_URL`) commands connect to it directly and no socket is opened.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import structlog

from kinoteka.infra.analytics import AnalyticsStore

log = structlog.get_logger(__name__)

SOCKET_NAME = "analytics.sock"
READS = ("SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXISTS", "EXPLAIN")
MAX_REQUEST = 64 * 1024


class QueryRefused(Exception):
    """The query was refused or failed; the message says why."""


def is_read(sql: str) -> bool:
    words = sql.strip().lstrip("(").split(None, 1)
    return bool(words) and words[0].upper() in READS


async def _answer(store: AnalyticsStore, line: bytes) -> dict[str, Any]:
    try:
        sql = json.loads(line)["sql"]
    except (ValueError, KeyError, TypeError):
        return {"error": 'send one JSON line: {"sql": "SELECT …"}'}
    if not isinstance(sql, str) or not is_read(sql):
        return {"error": f"only read queries are run here ({', '.join(READS)})"}
    try:
        rows = await store.query(sql)
    except Exception as error:  # the store's own message: a bad query, a table missing
        return {"error": str(error).splitlines()[0] if str(error) else type(error).__name__}
    return {"rows": [list(row) for row in rows]}


@contextlib.asynccontextmanager
async def serving_queries(store: AnalyticsStore, path: Path) -> AsyncIterator[None]:
    """Answer read queries on the Unix socket `path` while the block runs."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await reader.readline()
            answer = await _answer(store, line[:MAX_REQUEST])
            writer.write(json.dumps(answer, default=str).encode() + b"\n")
            await writer.drain()
        except (ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass  # the asker went away or sent too much: nothing to answer
        finally:
            writer.close()

    await anyio.Path(path).unlink(missing_ok=True)  # left by a process that was killed
    server = await asyncio.start_unix_server(handle, path=str(path), limit=MAX_REQUEST)
    os.chmod(path, 0o600)
    log.info("analytics.query_socket", path=str(path))
    try:
        yield
    finally:
        server.close()
        await server.wait_closed()
        await anyio.Path(path).unlink(missing_ok=True)


def ask(path: Path, sql: str, timeout: float = 60.0) -> list[list[Any]]:
    """The rows of `sql`, run by the `up` listening on `path`; `ConnectionError` (or
    `FileNotFoundError`) when none listens, `QueryRefused` with its reason otherwise."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(timeout)
        connection.connect(str(path))
        connection.sendall(json.dumps({"sql": sql}).encode() + b"\n")
        with connection.makefile("rb") as answer:
            line = answer.readline()
    if not line:
        raise ConnectionError("the analytics socket closed without an answer")
    reply = json.loads(line)
    if "error" in reply:
        raise QueryRefused(reply["error"])
    rows: list[list[Any]] = reply["rows"]
    return rows
