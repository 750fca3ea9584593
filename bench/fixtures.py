"""What benchmarks share: a PostgreSQL server (embedded unless KINOTEKA_BENCH_DATABASE_URL)."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from kinoteka.infra.db import libpq_url
from kinoteka.infra.db import migrations as db_migrations
from kinoteka.infra.db.embedded import EmbeddedPostgres

FILMS = int(os.environ.get("KINOTEKA_BENCH_FILMS", "100000"))
MOVIES_SQLITE = Path(__file__).resolve().parents[2] / "shared" / "data" / "movies.sqlite"


@contextmanager
def postgres_server() -> Iterator[str]:
    external = os.environ.get("KINOTEKA_BENCH_DATABASE_URL")
    if external:
        yield external
        return
    with tempfile.TemporaryDirectory(prefix="kinoteka-bench-") as directory:
        server = EmbeddedPostgres(Path(directory) / "postgres")
        url = server.start()
        try:
            yield url
        finally:
            server.stop()


@contextmanager
def migrated_database(server_url: str) -> Iterator[str]:
    from sqlalchemy.engine import make_url

    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(libpq_url(server_url), autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    db_migrations.upgrade(url)
    try:
        yield url
    finally:
        with psycopg.connect(libpq_url(server_url), autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
