"""The database port: a connection the server closed is never handed out; a stalled server
fails the connect within the configured timeout."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from kinoteka.infra import db as db_port
from kinoteka.infra.db import DatabaseSettings, libpq_url


async def test_a_connection_the_server_closed_is_replaced_on_checkout(
    fresh_database: str,
) -> None:
    db = db_port.from_url(fresh_database, pool_size=1)
    try:
        async with db.session() as session:
            pid = await session.scalar(text("SELECT pg_backend_pid()"))
        with psycopg.connect(libpq_url(fresh_database), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            deadline = time.monotonic() + 5
            while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone():
                assert time.monotonic() < deadline, "the backend did not exit"
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # the event loop reads the hang-up from the pooled socket
        async with db.session() as session:  # the first checkout after it: no error
            assert await session.scalar(text("SELECT pg_backend_pid()")) != pid
    finally:
        await db.close()


async def test_a_server_that_accepts_but_never_answers_fails_the_connect_in_time(
    tmp_path: Path,
) -> None:
    """A stalled server (or proxy) in front of the database is an error within the connect
    timeout, which the callers' backoff retries, not a wait as long as asyncpg's own minute;
    raised as the port's `DatabaseUnavailable` (the app's 503), caused by the driver's timeout."""
    accepted: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # read nothing, answer nothing

    server = await asyncio.start_unix_server(hold, str(tmp_path / ".s.PGSQL.5432"))
    settings = DatabaseSettings(connect_timeout=0.3)
    db = db_port.from_url(f"postgresql://u@/db?host={tmp_path}", settings=settings)
    try:
        started = time.monotonic()
        with pytest.raises(db_port.DatabaseUnavailable) as raised:
            await db.ping()
        assert isinstance(raised.value.__cause__, TimeoutError)
        assert time.monotonic() - started < 5
        assert accepted  # it did reach the stalled server
    finally:
        await db.close()
        server.close()
        for writer in accepted:
            writer.transport.abort()
