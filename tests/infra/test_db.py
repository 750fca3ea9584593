"""The database port's pool: a connection the server closed is never handed out."""

from __future__ import annotations

import asyncio
import time

import psycopg
from sqlalchemy import text

from kinoteka.infra import db as db_port
from kinoteka.infra.db import libpq_url


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
