"""The demo catalog `kinoteka up` loads into an empty database."""

from __future__ import annotations

import uuid

import psycopg

from kinoteka.catalog.generator import generate_catalog
from kinoteka.catalog.sqlite_import import import_sqlite
from kinoteka.infra.db import libpq_url
from kinoteka.settings import DemoSettings


def catalog_is_empty(database_url: str) -> bool:
    with psycopg.connect(libpq_url(database_url)) as connection:
        row = connection.execute("SELECT NOT EXISTS (SELECT 1 FROM content.film_work)").fetchone()
    return bool(row and row[0])


def ensure_demo_catalog(database_url: str, demo: DemoSettings) -> str | None:
    """Load the demo catalog if there are no films yet; say what was loaded."""
    if not catalog_is_empty(database_url):
        return None
    if demo.sqlite is not None:
        report = import_sqlite(database_url, demo.sqlite)
        films = next(t.inserted for t in report.tables if t.table == "film_work")
        return f"imported {films} films from {demo.sqlite}"
    if demo.films == 0:
        return None
    generated = generate_catalog(database_url, demo.films, demo.seed)
    return f"generated {generated.films} demo films (seed {demo.seed})"


def demo_film_ids(database_url: str, count: int) -> list[uuid.UUID]:
    """The `count` best-rated films, the ones the demo gives something to watch."""
    with psycopg.connect(libpq_url(database_url)) as connection:
        rows = connection.execute(
            "SELECT id FROM content.film_work ORDER BY rating DESC NULLS LAST, title LIMIT %s",
            (count,),
        ).fetchall()
    return [row[0] for row in rows]
