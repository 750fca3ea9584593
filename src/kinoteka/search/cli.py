"""`kinoteka sync …`: run the catalog -> index sync once or following, rebuild, status, verify."""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from kinoteka.console import console, fail, out, running_stores, settings_or_exit

if TYPE_CHECKING:  # the rest is imported by the commands: `--help` stays fast (see cli.py)
    from kinoteka.search.sync import CatalogSync, SyncStatus

app = typer.Typer(help="Catalog -> search index sync.", no_args_is_help=True)
T = TypeVar("T")
Work = Callable[["CatalogSync"], Awaitable[T]]

StateFileOption = Annotated[
    Path | None,
    typer.Option(
        "--state-file", help="Keep the checkpoint in this YAML file (default: PostgreSQL)."
    ),
]


@contextmanager
def _sync(
    state_file: Path | None,
) -> Iterator[Callable[[Callable[[CatalogSync], Awaitable[T]]], T]]:
    import sqlalchemy.exc

    from kinoteka.infra import db as db_port
    from kinoteka.infra.search import SearchError
    from kinoteka.search.service import catalog_sync, open_index

    settings = settings_or_exit()
    with running_stores(settings, database=True) as urls:

        def run(work: Work[T]) -> T:
            async def main() -> T:
                db = db_port.from_url(urls.database_url, pool_size=4, settings=settings.database)
                index = open_index(urls.search_url, settings.search)
                try:
                    sync = catalog_sync(db, index, urls.search_url, settings.search, state_file)
                    return await work(sync)
                finally:
                    await index.close()
                    await db.close()

            try:
                return asyncio.run(main())
            except SearchError as error:
                fail(f"search index: {error}")
            except sqlalchemy.exc.ProgrammingError as error:
                fail(f"database: {error.orig}; is it migrated? (kinoteka db upgrade)")

        yield run


async def _follow(sync: CatalogSync) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await sync.follow(stop)


@app.command("run")
def run_command(
    follow: Annotated[
        bool, typer.Option("--follow/--once", help="Keep following changes, or one pass.")
    ] = False,
    state_file: StateFileOption = None,
) -> None:
    """Sync the index with the catalog: a full load the first time, then changes only."""
    with _sync(state_file) as run:
        if follow:
            run(_follow)
            return
        report = run(lambda sync: sync.run_once())
    out.print(
        f"loaded {report.loaded}, upserted {report.upserted}, deleted {report.deleted} "
        f"in {report.batches} batch(es)"
    )


@app.command("rebuild")
def rebuild_command(state_file: StateFileOption = None) -> None:
    """Rebuild every index into a new version and switch to it while searches keep answering."""
    with _sync(state_file) as run:
        loaded = run(lambda sync: sync.rebuild())
    for name, count in loaded.items():
        out.print(f"{name}: {count} documents")


@app.command("status")
def status_command(state_file: StateFileOption = None) -> None:
    """Lag, queued changes, the last checkpoint and the index counts."""
    from rich.table import Table

    with _sync(state_file) as run:
        status = run(lambda sync: sync.status())
    checkpoint = status.checkpoint
    table = Table(title="search sync", show_header=False)
    table.add_row("state store", status.state_store)
    table.add_row(
        "full load", "done" if checkpoint.loaded else f"in progress {checkpoint.load_after}"
    )
    table.add_row("last batch", str(checkpoint.last_batch_at or "never"))
    table.add_row("last safety pass", str(checkpoint.safety_at or "never"))
    table.add_row("queued changes", str(status.queued))
    table.add_row("lag", f"{status.lag_seconds:.3f} s")
    if status.queued:
        table.add_row("backlog", _backlog(status))
    table.add_row("documents written", str(checkpoint.documents))
    for name, count in status.index_counts.items():
        table.add_row(f"index {name}", str(count))
    table.add_row("index version", str(status.version))
    out.print(table)


def _backlog(status: SyncStatus) -> str:
    """How the queued changes drain: their rate and the time left at it."""
    if status.drain_rate is None or status.eta_seconds is None:
        return "not draining: no batch applied in the last minute (is a follower running?)"
    eta = dt.timedelta(seconds=round(status.eta_seconds))
    return f"draining at {status.drain_rate:,.0f} changes/s, ETA {eta}"


@app.command("verify")
def verify_command(
    sample: Annotated[int, typer.Option(min=0, help="Documents compared per index.")] = 100,
    state_file: StateFileOption = None,
) -> None:
    """Compare counts and a sample of documents between catalog and index; non-zero if unequal."""
    from rich.table import Table

    with _sync(state_file) as run:
        report = run(lambda sync: sync.verify(sample))
    table = Table(title="catalog vs index")
    for column in ("index", "catalog", "index count", "sample mismatches"):
        table.add_column(column)
    for name, (catalog, indexed) in report.counts.items():
        table.add_row(name, str(catalog), str(indexed), str(len(report.mismatched.get(name, []))))
    out.print(table)
    if report.queued:
        console.print(f"{report.queued} change(s) still queued")
    if not report.ok:
        fail("the index differs from the catalog")
    out.print(f"equal: counts match and {report.sampled} sampled documents are identical")
