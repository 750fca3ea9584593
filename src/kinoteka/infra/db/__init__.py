"""Relational store port: the async SQLAlchemy engine and sessions over PostgreSQL.

SQLAlchemy speaks both footprints (embedded and server PostgreSQL), so there is one adapter.
`from_url()` takes a plain `postgresql://` URL (a Unix-socket host in `?host=` works too) and
builds the async engine on asyncpg; `sync_url()` gives the psycopg form for migrations and
COPY-based bulk loads. `DatabaseSettings` holds the connection tunables.

Every wait is bounded (connect, pool checkout, each statement). A connect refused or timed
out, a statement past `command_timeout` and a connection lost mid-statement raise
`DatabaseUnavailable` (a `StoreUnavailable`, answered with a 503 by the app) from the engine
itself; a unit of work (`Database.session()`) also turns a full pool into it, and `outage()`
says which SQLAlchemy errors are outages. `fetch_rows` keeps raising SQLAlchemy's
`OperationalError` for an outage (see `driver_error`).
"""

from __future__ import annotations

from asyncio import Event
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
from pydantic import BaseModel, Field
from sqlalchemy import event, text
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
    ProgrammingError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from kinoteka.infra.db.base import Base
from kinoteka.infra.outage import StoreUnavailable

__all__ = [
    "Base",
    "Database",
    "DatabaseSettings",
    "DatabaseUnavailable",
    "async_url",
    "driver_error",
    "fetch_column",
    "fetch_rows",
    "from_url",
    "libpq_url",
    "outage",
    "sync_url",
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


class DatabaseUnavailable(StoreUnavailable):
    """PostgreSQL refused, dropped the connection, or did not answer within the timeouts."""

    store = "postgres"


# SQLSTATE classes of an outage, not a bug: connection, rollback (serialization, deadlock),
# insufficient resources, operator intervention (cancel, shutdown), system error.
TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57", "58"})


def outage(error: BaseException) -> DatabaseUnavailable | None:
    """`error` as a `DatabaseUnavailable` when it says the server cannot be used right now:
    a full pool (SQLAlchemy's `TimeoutError`) or a DBAPI error of a lost connection, a
    shutdown or another transient SQLSTATE class. None for anything else (a bug, bad data)."""
    if isinstance(error, DatabaseUnavailable):
        return error
    if isinstance(error, PoolTimeout):
        reason = "no free connection in time"
    elif isinstance(error, DBAPIError) and (
        error.connection_invalidated
        or isinstance(error, (OperationalError, InterfaceError))
        or str(getattr(error.orig, "sqlstate", "") or "")[:2] in TRANSIENT_SQLSTATE_CLASSES
    ):
        reason = f"the connection failed ({type(error.orig).__name__})"
    else:
        return None
    unavailable = DatabaseUnavailable(f"postgres unavailable: {reason}")
    unavailable.__cause__ = error
    return unavailable


def _connect_or_unavailable(
    dialect: Any, record: Any, cargs: tuple[Any, ...], cparams: dict[str, Any]
) -> Any:
    """`do_connect`: asyncpg's refused connects and handshake timeouts as the port's error.

    asyncpg raises plain `OSError`/`TimeoutError` there, which SQLAlchemy passes through
    unwrapped; only here is it certain they came from the database.
    """
    try:
        return dialect.connect(*cargs, **cparams)
    except (OSError, TimeoutError) as error:
        reason = "did not answer in time" if isinstance(error, TimeoutError) else "is unreachable"
        raise DatabaseUnavailable(f"postgres {reason}: {error}") from error


def _statement_outage(context: ExceptionContext) -> BaseException | None:
    """`handle_error`: a statement that failed because the server did not answer in time
    (asyncpg's `command_timeout`, a bare `TimeoutError`) or the connection broke comes out as
    `DatabaseUnavailable`; the connection is dropped from the pool, not reused."""
    original = context.original_exception
    if isinstance(original, (TimeoutError, OSError)):
        context.is_disconnect = True
        return DatabaseUnavailable(f"postgres did not answer in time: {type(original).__name__}")
    wrapped = context.sqlalchemy_exception
    if wrapped is not None and context.is_disconnect:
        return outage(wrapped) or DatabaseUnavailable("postgres dropped the connection")
    return None


@dataclass
class Database:
    """An async engine and its session factory."""

    url: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: commits on success, rolls back on error (the edge owns the commit)."""
        try:
            async with self.sessions() as session:
                try:
                    yield session
                    # A unit of work that never began a transaction (a request that did not
                    # touch the database) has nothing to commit: skipping the call spares a
                    # greenlet round trip per such request.
                    if session.in_transaction():
                        await session.commit()
                except BaseException as error:
                    try:
                        await session.rollback()
                    except Exception:
                        if outage(error) is None:
                            raise
                        # The connection is gone too; the outage is what the caller must see.
                    raise
        except Exception as error:
            unavailable = outage(error)
            if unavailable is None or unavailable is error:
                raise
            raise unavailable from error

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
        async with self.session() as session:
            await session.execute(text("select 1"))

    async def close(self) -> None:
        await self.engine.dispose()


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


class DatabaseSettings(BaseModel):
    """The `database` group of the settings tree (`KINOTEKA_DATABASE__*`)."""

    connect_timeout: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="Seconds a new connection may take, handshake included, before it fails.",
    )
    """asyncpg waits 60 s: a server that accepts but does not answer (hung, overloaded, behind
    a stalled proxy) is an outage to retry with backoff, not a wait that holds up every caller
    behind it."""
    command_timeout: float = Field(
        default=60.0,
        gt=0,
        le=86400,
        description="Seconds one statement may run (or wait for a hung server) before it fails.",
    )
    pool_timeout: float = Field(
        default=5.0,
        gt=0,
        le=600,
        description="Seconds a unit of work may wait for a free pooled connection.",
    )
    embedded_start_timeout: float = Field(
        default=120.0,
        gt=0,
        le=3600,
        description="Seconds the embedded PostgreSQL may take to start (crash recovery, "
        "a loaded machine) before start-up fails.",
    )
    pool_recycle: int = Field(
        default=1800,
        ge=-1,
        description="Seconds after which a pooled connection is replaced (NAT/idle timeouts); "
        "-1: never.",
    )


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
    url: str,
    *,
    pool_size: int = 10,
    echo: bool = False,
    settings: DatabaseSettings | None = None,
) -> Database:
    """The database at `url`, its connections tuned by `settings` (defaults if None)."""
    settings = settings or DatabaseSettings()
    engine = create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=settings.pool_recycle,
        pool_timeout=settings.pool_timeout,
        connect_args={
            "timeout": settings.connect_timeout,
            "command_timeout": settings.command_timeout,
        },
        echo=echo,
    )
    event.listen(engine.sync_engine.pool, "checkout", _drop_closed)
    event.listen(engine.sync_engine, "do_connect", _connect_or_unavailable)
    event.listen(engine.sync_engine, "handle_error", _statement_outage)
    return Database(
        url=url, engine=engine, sessions=async_sessionmaker(engine, expire_on_commit=False)
    )
