"""The database port: a connection the server closed is never handed out; a local backend
asked to yield the CPU does, and nothing else."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from kinoteka.infra import db as db_port
from kinoteka.infra.db import libpq_url, yield_cpu


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
    timeout, which the callers' backoff retries, not a wait as long as asyncpg's own minute."""
    accepted: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # read nothing, answer nothing

    server = await asyncio.start_unix_server(hold, str(tmp_path / ".s.PGSQL.5432"))
    db = db_port.from_url(f"postgresql://u@/db?host={tmp_path}", connect_timeout=0.3)
    try:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await db.ping()
        assert time.monotonic() - started < 5
        assert accepted  # it did reach the stalled server
    finally:
        await db.close()
        server.close()
        for writer in accepted:
            writer.transport.abort()


def nice_of(pid: int) -> tuple[int, str | None]:
    """A process's nice and its autogroup's; None for the group where there are no autogroups
    or the process is in the root one (procfs shows it empty: init's session, as under CI)."""
    group = Path(f"/proc/{pid}/autogroup")
    words = group.read_text().split() if group.exists() else []
    return os.getpriority(os.PRIO_PROCESS, pid), (words[-1] if words else None)


async def yields_to(fresh_database: str, nice: int) -> None:
    ours = nice_of(os.getpid())
    db = db_port.from_url(fresh_database, pool_size=2)
    try:
        async with db.engine.connect() as other:
            untouched = await other.scalar(text("SELECT pg_backend_pid()"))
            async with db.engine.connect() as connection:
                assert await yield_cpu(connection, nice)
                pid = await connection.scalar(text("SELECT pg_backend_pid()"))
                grouped = nice_of(pid)[1] is not None
                assert nice_of(pid) == (nice, str(nice) if grouped else None)
                assert await yield_cpu(connection, nice - 4)
                assert nice_of(pid) == (nice, str(nice) if grouped else None)
                await connection.invalidate()
            assert nice_of(untouched)[0] == 0
    finally:
        await db.close()
    assert nice_of(os.getpid()) == ours


async def test_a_local_backend_yields_the_cpu_and_nothing_else_does(fresh_database: str) -> None:
    """The embedded server's backend behind a connection gets the nice asked for (its process
    and, where Linux groups by session, its group), never this process's group; the other
    backends keep theirs; a nice is only ever raised."""
    await yields_to(fresh_database, 7)


async def test_a_backend_yields_when_this_process_is_in_the_root_autogroup(
    fresh_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Started from init's session (as CI starts the suite), this process has no autogroup of
    its own to show: the backend's group is still one apart from it, and yields."""
    read = db_port._autogroup
    monkeypatch.setattr(db_port, "_autogroup", lambda pid: None if pid == "self" else read(pid))
    await yields_to(fresh_database, 6)


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("postgresql://u@/db?host=%2Ftmp%2Fsocket", True),
        ("postgresql://u@localhost/db", True),
        ("postgresql://u@127.0.0.1:5432/db", True),
        ("postgresql://u@[::1]/db", True),
        ("postgresql://u@db.example.com/db", False),
        ("postgresql://u@10.0.0.5/db", False),
    ],
)
def test_only_a_server_on_this_machine_is_asked_to_yield(url: str, local: bool) -> None:
    assert db_port._on_this_machine(url) is local
