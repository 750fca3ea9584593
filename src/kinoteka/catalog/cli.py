"""`kinoteka catalog …`: import the course's SQLite catalog, generate a synthetic one."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kinoteka.console import console, fail, out, running_stores, settings_or_exit

if TYPE_CHECKING:  # the rest is imported by the commands: `--help` stays fast (see cli.py)
    from rich.progress import Progress, TaskID
    from rich.table import Table

    from kinoteka.catalog.sqlite_import import ImportReport

app = typer.Typer(help="Catalog data: imports and generators.", no_args_is_help=True)


def _progress() -> Progress:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(
        TextColumn("{task.description:<18}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=console, transient=False,
    )  # fmt: skip


def render_import_report(report: ImportReport) -> Table:
    from rich.table import Table

    table = Table(title=f"import of {report.path}")
    for column in ("table", "source rows", "inserted", "updated", "catalog rows", "checksum"):
        table.add_column(column, justify="left" if column in {"table", "checksum"} else "right")
    for item in report.tables:
        verdict = "equal" if item.matches else "[red]DIFFERENT[/]"
        table.add_row(
            item.table, str(item.source_rows), str(item.inserted), str(item.updated),
            str(item.target_rows), f"{item.source_checksum[:12]} {verdict}",
        )  # fmt: skip
    return table


@app.command("import-sqlite")
def import_sqlite_command(
    path: Annotated[Path, typer.Argument(help="SQLite file in the course's layout.")],
) -> None:
    """Import films, genres, persons and credits from a SQLite file (idempotent)."""
    if not path.is_file():  # said before any store starts
        fail(f"{path}: {'not a file' if path.exists() else 'no such file'}; nothing was written")
    from kinoteka.catalog.sqlite_import import ImportInputError, import_sqlite
    from kinoteka.infra.db import migrations

    settings = settings_or_exit()
    with running_stores(settings) as urls:
        migrations.upgrade(urls.database_url)
        with _progress() as progress:
            tasks: dict[str, TaskID] = {}

            def advance(table: str, done: int, total: int) -> None:
                if table not in tasks:
                    tasks[table] = progress.add_task(table, total=total)
                progress.advance(tasks[table], done)

            try:
                report = import_sqlite(urls.database_url, path, progress=advance)
            except ImportInputError as error:
                fail(f"import-sqlite: {error}; nothing was written")
    out.print(render_import_report(report))
    if not report.changed:
        out.print("Nothing to change: the catalog already matches the file.")
    if not report.verified:
        fail("verification failed: counts or checksums differ")
    out.print("Verified: every table's count and checksum match.")


@app.command("generate")
def generate_command(
    films: Annotated[int, typer.Option(min=0, help="How many films to add.")] = 1000,
    seed: Annotated[int, typer.Option(help="Same seed, same catalog.")] = 42,
) -> None:
    """Add a deterministic synthetic catalog (films, genres, people, credits) via COPY."""
    from kinoteka.catalog.generator import GenerateError, generate_catalog
    from kinoteka.infra.db import migrations

    settings = settings_or_exit()
    with running_stores(settings) as urls:
        migrations.upgrade(urls.database_url)
        started = time.perf_counter()
        with _progress() as progress:
            task = progress.add_task("films", total=films)
            try:
                report = generate_catalog(
                    urls.database_url, films, seed, progress=lambda n: progress.advance(task, n)
                )
            except GenerateError as error:
                fail(f"{error}; nothing was written")
        seconds = time.perf_counter() - started
    rows = sum(report.counts.values())
    out.print(
        f"Generated {report.films} films, {report.persons} persons, {report.credits} credits, "
        f"{report.genre_links} genre links ({report.genres_created} new genres): "
        f"{rows} rows in {seconds:.1f} s ({rows / max(seconds, 1e-9):,.0f} rows/s)."
    )
