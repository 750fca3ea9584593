"""Relational store port: the async SQLAlchemy engine and sessions over PostgreSQL.

SQLAlchemy speaks both footprints (embedded and server PostgreSQL), so there is one adapter.
`from_url()` takes a plain `postgresql://` URL (a Unix-socket host in `?host=` works too) and
builds the async engine on asyncpg; `sync_url()` gives the psycopg form for migrations and
COPY-based bulk loads. `yield_cpu()` lets a batch job's server process make way for the work
beside it when the server runs on this machine (the embedded footprint).
"""

from __future__ import annotations

import ipaddress
import os
from asyncio import Event
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from kinoteka.infra.db.base import Base

__all__ = [
    "Base",
    "Database",
    "async_url",
    "driver_error",
    "fetch_column",
    "fetch_rows",
    "from_url",
    "libpq_url",
    "sync_url",
    "yield_cpu",
]


def _with_driver(url: str, driver: str) -> str:
    parsed = make_url(url)
    return parsed.set(drivername=f"postgresql+{driver}").render_as_string(hide_password=False)


def async_url(url: str) -> str:
    """The SQLAlchemy asyncpg URL for a `postgresql://` URL."""
    return _with_driver(url, "asyncpg")


def sync_url(url: str) -> str:
    """The SQLAlchemy psycopg (v3) URL for a `postgresql://` URL."""
    return _with_driver(url, "psycopg")


def libpq_url(url: str) -> str:
    """A plain libpq URL (what psycopg.connect and psql take)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass
class Database:
    """An async engine and its session factory."""

    url: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: commits on success, rolls back on error (the edge owns the commit)."""
        async with self.sessions() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    @asynccontextmanager
    async def listen(self, channel: str, on_notify: Callable[[], None]) -> AsyncIterator[Event]:
        """LISTEN on `channel` over a pooled connection while the block runs.

        `on_notify()` is called for each notification; the yielded event is set if the
        connection is lost (the caller decides whether to listen again).
        """
        async with self.engine.connect() as connection:
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection  # asyncpg's connection: LISTEN is driver API
            lost = Event()

            def notified(*_: object) -> None:
                on_notify()

            def terminated(*_: object) -> None:
                lost.set()

            driver.add_termination_listener(terminated)
            try:
                await driver.add_listener(channel, notified)
                try:
                    yield lost
                finally:
                    if not driver.is_closed():
                        await driver.remove_listener(channel, notified)
            finally:
                # Before the connection goes back to the pool, where a later loss is not ours.
                driver.remove_termination_listener(terminated)

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("select 1"))

    async def close(self) -> None:
        await self.engine.dispose()


# SQLSTATE classes of an outage, not a bug: connection, rollback (serialization, deadlock),
# insufficient resources, operator intervention (cancel, shutdown), system error.
TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57", "58"})


def driver_error(error: BaseException, statement: str) -> DBAPIError:
    """A driver error as SQLAlchemy would have raised it: `OperationalError` for an outage
    (so retry policies written for SQLAlchemy treat it alike), `ProgrammingError` otherwise."""
    sqlstate = str(getattr(error, "sqlstate", "") or "")
    if isinstance(error, asyncpg.InterfaceError) or sqlstate[:2] in TRANSIENT_SQLSTATE_CLASSES:
        return OperationalError(statement, None, error)
    return ProgrammingError(statement, None, error)


async def fetch_rows(
    connection: AsyncConnection, statement: str, *args: Any
) -> list[Sequence[Any]]:
    """Every row of `statement` (`$1`-style parameters), read through the driver, as tuples.

    For bulk reads of hundreds of thousands of rows: no per-row result processing by
    SQLAlchemy. Runs in the connection's transaction; driver errors come out as SQLAlchemy's.
    """
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    try:
        rows: list[Sequence[Any]] = await driver.fetch(statement, *args)
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        raise driver_error(error, statement) from error
    return rows


async def fetch_column(
    connection: AsyncConnection, statement: str, *args: Any, column: int = 0
) -> list[Any]:
    """One column of every row of `statement`, read as `fetch_rows` reads."""
    return [row[column] for row in await fetch_rows(connection, statement, *args)]


def _on_this_machine(url: str) -> bool:
    """Whether the server is reached over a Unix socket or a loopback address."""
    parsed = make_url(url)
    socket_dir = parsed.query.get("host")
    host = parsed.host or (socket_dir if isinstance(socket_dir, str) else None)
    if host is None or host.startswith("/") or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def yield_cpu(connection: AsyncConnection, nice: int) -> bool:
    """Lower the CPU priority of the server process behind `connection` to `nice`, when it runs
    on this machine as this user (the embedded footprint); True if it runs at that nice or
    lower now (a nice is only ever raised).

    For a batch job whose bottleneck is this process (a full load's index), so that the
    server's share of a small machine goes to the bottleneck first. PostgreSQL starts each
    backend in a session of its own, which Linux schedules as a group of its own (autogroup):
    the group's nice is raised, and the process's. Raising a nice value needs no privilege; on
    a server elsewhere, or of another user, nothing changes. The backend should not serve
    other work afterwards: invalidate the connection.
    """
    url = connection.engine.url.render_as_string(hide_password=False)
    if not hasattr(os, "setpriority") or not _on_this_machine(url):
        return False
    pid = int(await connection.scalar(text("SELECT pg_backend_pid()")) or 0)
    return _lower_priority(pid, nice)


def _lower_priority(pid: int, nice: int) -> bool:
    # procfs reads and writes: in memory, they do not block
    try:
        with open(f"/proc/{pid}/comm") as comm:  # the server's own process, not a namesake
            if not comm.read().startswith("postgres"):
                return False
        os.setpriority(os.PRIO_PROCESS, pid, max(nice, os.getpriority(os.PRIO_PROCESS, pid)))
    except OSError:  # no such process here, or another user's
        return False
    group, ours = _autogroup(str(pid)), _autogroup("self")
    if group is not None and (ours is None or group[0] != ours[0]):  # never our own group
        try:
            with open(f"/proc/{pid}/autogroup", "w") as setting:
                setting.write(str(max(nice, group[1])))
        except OSError:
            pass  # the process nice is what counts then
    return True


def _autogroup(pid: str) -> tuple[str, int] | None:
    """The autogroup `pid` is scheduled in and its nice ("/autogroup-7 nice 0"); None where
    there are no autogroups, or for the root one, which procfs shows empty (the session of
    init, and of whatever it starts without a session of its own) and which takes no nice."""
    try:
        with open(f"/proc/{pid}/autogroup") as setting:
            name, _, nice = setting.read().split()
        return name, int(nice)
    except (OSError, ValueError):
        return None


RECYCLE_SECONDS = 1800  # a pooled connection is replaced after this long (NAT/idle timeouts)
CONNECT_TIMEOUT = 10.0
"""Seconds a new connection may take, handshake included, before it fails (asyncpg waits 60):
a server that accepts but does not answer (hung, overloaded, behind a stalled proxy) is an
outage to retry with backoff, not a wait that holds up every caller behind it."""


def _drop_closed(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """On checkout: a connection the server closed (restart, idle kill) is not handed out.

    SQLAlchemy's `pool_pre_ping` would check each checkout with a query, which for asyncpg is
    three round trips (BEGIN, `;`, ROLLBACK, for pgbouncer's sake): on a login, half of its
    database time. asyncpg already knows when the server hung up, at no cost. A link that died
    silently is still caught on first use: the query fails, the pool drops its connections,
    and the next unit of work reconnects (the sync retries with backoff).
    """
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the server closed this pooled connection")


def from_url(
    url: str, *, pool_size: int = 10, echo: bool = False, connect_timeout: float = CONNECT_TIMEOUT
) -> Database:
    engine = create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=RECYCLE_SECONDS,
        connect_args={"timeout": connect_timeout},
        echo=echo,
    )
    event.listen(engine.sync_engine.pool, "checkout", _drop_closed)
    return Database(
        url=url, engine=engine, sessions=async_sessionmaker(engine, expire_on_commit=False)
    )
