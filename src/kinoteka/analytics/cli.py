"""`kinoteka analytics …`: run the loader (bus -> ClickHouse), count what the tables hold."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from kinoteka.console import fail, out, running_stores, settings_or_exit

if TYPE_CHECKING:  # the rest is imported by the commands: `--help` stays fast (see cli.py)
    from kinoteka.analytics.loader import Loader
    from kinoteka.settings import Settings

app = typer.Typer(help="Player events and page views -> ClickHouse.", no_args_is_help=True)
T = TypeVar("T")


def _run(settings: Settings, work: Callable[[Loader], Awaitable[T]]) -> T:
    from kinoteka.analytics.loader import Loader
    from kinoteka.infra import analytics as store_port
    from kinoteka.infra import bus as bus_port
    from kinoteka.infra.analytics import AnalyticsStoreError
    from kinoteka.infra.bus import BusError

    analytics = settings.analytics
    store_url = analytics.store_url or f"chdb://{(settings.data_dir / 'clickhouse').resolve()}"
    with running_stores(settings, database=False, redis=analytics.bus_url is None) as urls:

        async def main() -> T:
            store_url = (
                analytics.store_url or f"chdb://{(settings.data_dir / 'clickhouse').resolve()}"
            )
            bus = bus_port.from_url(
                analytics.bus_url or urls.redis_url, max_length=analytics.stream_max_length
            )
            store = store_port.from_url(store_url)
            loader = Loader(
                bus,
                store,
                analytics.database,
                group=analytics.consumer_group,
                batch_size=analytics.load_batch_size,
                max_wait=analytics.load_max_wait,
                reclaim_idle=analytics.reclaim_idle,
            )
            try:
                await loader.prepare()
                return await work(loader)
            finally:
                await bus.close()
                await store.close()

        try:
            return asyncio.run(main())
        except (BusError, OSError) as error:
            fail(f"bus: {error}")
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

    loaded = _run(settings, work)
    out.print(f"loaded {loaded} events")


@app.command()
def counts() -> None:
    """Events per table, each counted once (by event_id)."""
    from kinoteka.analytics.warehouse import COLUMNS

    settings = settings_or_exit()

    async def work(loader: Loader) -> dict[str, int]:
        found = {}
        for table in sorted(COLUMNS):
            rows = await loader.store.query(f"SELECT count() FROM {loader.database}.{table} FINAL")
            found[table] = int(rows[0][0])
        return found

    for table, count in _run(settings, work).items():
        out.print(f"{table}\t{count}")
