"""`kinoteka analytics …`: run the loader (bus -> ClickHouse), count what the tables hold."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from kinoteka.console import fail, out, running_stores, settings_or_exit

if TYPE_CHECKING:  # the rest is imported by the commands: `--help` stays fast (see cli.py)
    from kinoteka.analytics.loader import Loader
    from kinoteka.settings import Settings

app = typer.Typer(help="Player events and page views -> ClickHouse.", no_args_is_help=True)
T = TypeVar("T")


def _run(
    settings: Settings, work: Callable[[Loader], Awaitable[T]], *, keep_refused: bool = False
) -> T:
    """`work` on a prepared loader; `keep_refused`: refused rows go to the failed-events store
    (PostgreSQL, started for the command when embedded)."""
    from kinoteka.analytics.loader import Loader
    from kinoteka.analytics.repository import refused_rows_sink
    from kinoteka.infra import analytics as store_port
    from kinoteka.infra import bus as bus_port
    from kinoteka.infra import db as db_port
    from kinoteka.infra.analytics import AnalyticsStoreError
    from kinoteka.infra.bus import BusError
    from kinoteka.infra.outage import StoreUnavailable

    analytics = settings.analytics
    store_url = analytics.store_url or f"chdb://{(settings.data_dir / 'clickhouse').resolve()}"
    with running_stores(settings, database=keep_refused, redis=analytics.bus_url is None) as urls:

        async def main() -> T:
            store_url = (
                analytics.store_url or f"chdb://{(settings.data_dir / 'clickhouse').resolve()}"
            )
            bus = bus_port.from_url(
                analytics.bus_url or urls.redis_url, max_length=analytics.stream_max_length
            )
            store = store_port.from_url(store_url)
            database = (
                db_port.from_url(urls.database_url, pool_size=2, settings=settings.database)
                if keep_refused
                else None
            )
            loader = Loader(
                bus,
                store,
                analytics.database,
                group=analytics.consumer_group,
                batch_size=analytics.load_batch_size,
                max_wait=analytics.load_max_wait,
                reclaim_idle=analytics.reclaim_idle,
                on_refused=refused_rows_sink(database.session) if database else None,
            )
            try:
                await loader.prepare()
                return await work(loader)
            finally:
                await bus.close()
                await store.close()
                if database is not None:
                    await database.close()

        try:
            return asyncio.run(main())
        except (BusError, OSError) as error:
            fail(f"bus: {error}")
        except StoreUnavailable as error:
            hint = ""
            if store_url.startswith("chdb://") and error.store == "analytics store":
                hint = " (chDB opens its directory in one process at a time: is `up` running?)"
            fail(f"{error.store}: {error}{hint}")
        except AnalyticsStoreError as error:
            hint = ""
            if store_url.startswith("chdb://"):
                hint = " (chDB opens its directory in one process at a time: is `up` running?)"
            fail(f"analytics store: {error}{hint}")
        except ValueError as error:
            fail(str(error))


@app.command()
def load(
    until_idle: Annotated[
        float | None,
        typer.Option(
            "--until-idle", min=0.1, help="Stop once no event came for this many seconds."
        ),
    ] = None,
) -> None:
    """Load events from the bus into ClickHouse (Ctrl-C stops; `kinoteka up` runs it itself)."""
    settings = settings_or_exit()

    async def work(loader: Loader) -> int:
        if until_idle is not None:
            return await loader.run_until_idle(until_idle)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await loader.run(stop)
        return loader.stats.loaded

    loaded = _run(settings, work, keep_refused=True)
    out.print(f"loaded {loaded} events")


def _read(settings: Settings, sql: str) -> list[list[Any]]:
    """Rows of a read query: asked of a running `up` when it holds the embedded store (see
    `kinoteka.analytics.querying`), else run on the store opened here."""
    from kinoteka.analytics.querying import SOCKET_NAME, QueryRefused, ask, is_read

    if not is_read(sql):
        fail("only read queries (SELECT, WITH, SHOW, DESCRIBE, EXISTS, EXPLAIN) are run here")
    if settings.analytics.store_url is None:
        try:
            return ask(settings.data_dir / SOCKET_NAME, sql)
        except QueryRefused as error:
            fail(f"analytics store: {error}")
        except (OSError, ValueError):
            pass  # no `up` holds it: open it here

    from kinoteka.infra.analytics import AnalyticsStoreError

    async def work(loader: Loader) -> list[list[Any]]:
        try:
            return [list(row) for row in await loader.store.query(sql)]
        except AnalyticsStoreError as error:
            fail(f"analytics store: {str(error).splitlines()[0] if str(error) else error}")

    return _run(settings, work)


@app.command()
def counts() -> None:
    """Events per table, each counted once (by event_id); beside `up` too."""
    from kinoteka.analytics.warehouse import COLUMNS

    settings = settings_or_exit()
    database = settings.analytics.database
    union = " UNION ALL ".join(
        f"SELECT '{table}', count() FROM {database}.{table} FINAL" for table in sorted(COLUMNS)
    )
    for table, count in sorted(_read(settings, union)):
        out.print(f"{table}\t{count}")


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="A read query (SELECT, SHOW, DESCRIBE, …).")],
) -> None:
    """Run a read query on the analytics tables and print its rows, tab-separated; beside
    `up` too (e.g. "SELECT * FROM tracking_user_events.clicks_on_video_pauses LIMIT 5")."""
    settings = settings_or_exit()
    for row in _read(settings, sql):
        out.print("\t".join("" if value is None else str(value) for value in row),
                  markup=False, highlight=False)  # fmt: skip
