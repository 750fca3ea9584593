"""Import speed: `import-sqlite` on the shared catalog and `generate`, each beside a bare COPY.

The bare COPY loads exactly the same rows, prepared in memory beforehand, into a fresh migrated
database of the same server: what is left is the price of reading, checking and rendering.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import psycopg

from bench.fixtures import FILMS, MOVIES_SQLITE, migrated_database, postgres_server
from kinoteka.catalog.generator import GeneratedChunk, copy_chunk, ensure_genres, generate_catalog
from kinoteka.catalog.generator import generate_rows as render_rows
from kinoteka.catalog.sqlite_import import TABLES, import_sqlite, read_source
from kinoteka.infra.db import libpq_url


def _bare_copy(url: str, chunks: list[GeneratedChunk]) -> float:
    started = time.perf_counter()
    with psycopg.connect(libpq_url(url)) as connection, connection.transaction():
        for chunk in chunks:
            copy_chunk(connection, chunk)
    return time.perf_counter() - started


def _sqlite_as_chunks() -> list[GeneratedChunk]:
    tables = read_source(MOVIES_SQLITE)
    chunks = []
    for spec in TABLES:
        lines = [
            "\t".join("\\N" if value is None else str(value) for value in row) + "\n"
            for row in tables[spec.name].rows
        ]
        chunks.append(GeneratedChunk(spec.name, tuple(spec.targets), lines))
    return chunks


def run(report: Callable[[str], None]) -> None:
    with postgres_server() as server:
        chunks = _sqlite_as_chunks()
        rows = sum(len(chunk.lines) for chunk in chunks)
        with migrated_database(server) as url:
            bare = _bare_copy(url, chunks)
        with migrated_database(server) as url:
            started = time.perf_counter()
            import_sqlite(url, MOVIES_SQLITE)
            imported = time.perf_counter() - started
        report(
            f"import-sqlite: {rows / imported:,.0f} rows/s ({rows} rows, {imported:.2f} s); "
            f"bare COPY {rows / bare:,.0f} rows/s; ratio {bare / imported:.2f}x"
        )

        with migrated_database(server) as url:
            with psycopg.connect(libpq_url(url)) as connection, connection.transaction():
                genre_ids, _ = ensure_genres(connection, 42)
            prepared = list(render_rows(FILMS, 42, genre_ids))
            rows = sum(len(chunk.lines) for chunk in prepared)
            bare = _bare_copy(url, prepared)
            del prepared
        with migrated_database(server) as url:
            started = time.perf_counter()
            generate_catalog(url, FILMS, 42)
            generated = time.perf_counter() - started
        ratio = bare / generated
        report(
            f"generate --films {FILMS}: {rows / generated:,.0f} rows/s ({rows} rows, "
            f"{generated:.1f} s); bare COPY {rows / bare:,.0f} rows/s; ratio {ratio:.2f}x "
            f"(goal >= 0.5x: {'met' if ratio >= 0.5 else 'NOT met'})"
        )
