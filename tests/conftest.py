"""Shared fixtures: the embedded stores (one per test session), fresh migrated databases.

Every database a test gets is cloned from a migrated template, so the schema is exactly what
the Alembic migrations build.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from kinoteka.catalog.sqlite_import import import_sqlite
from kinoteka.infra import analytics as analytics_port
from kinoteka.infra.analytics import AnalyticsStore
from kinoteka.infra.cache.embedded import EmbeddedRedis
from kinoteka.infra.db import libpq_url
from kinoteka.infra.db import migrations as db_migrations
from kinoteka.infra.db.embedded import EmbeddedPostgres

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
MOVIES_SQLITE = SHARED_DATA / "movies.sqlite"
SERVER_POSTGRES_URL = os.environ.get(
    "KINOTEKA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
SERVER_REDIS_URL = os.environ.get("KINOTEKA_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TEMPLATE = "kinoteka_template"
NO_MOVIES_REASON = (
    f"the course dataset {MOVIES_SQLITE} is absent (it lives beside the repository in "
    "../shared/data, never in it)"
)
requires_movies = pytest.mark.skipif(not MOVIES_SQLITE.exists(), reason=NO_MOVIES_REASON)
"""For tests reading the course's `movies.sqlite` themselves; `movies_database` skips alone."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def database_url(server_url: str, name: str) -> str:
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def create_database(server_url: str, name: str, template: str | None = None) -> str:
    with psycopg.connect(libpq_url(server_url), autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        connection.execute(statement)
    return database_url(server_url, name)


def drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(libpq_url(server_url), autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def prepare_template(server_url: str) -> None:
    url = create_database(server_url, TEMPLATE)
    db_migrations.upgrade(url)


@pytest.fixture(scope="session")
def data_root() -> Iterator[Path]:
    """Where the session's embedded servers keep their data.

    Not under pytest's own temporary root: pytest keeps that root private (0700), and the
    embedded PostgreSQL runs as its own system user when the tests run as root.
    """
    root = Path(tempfile.mkdtemp(prefix="kinoteka-test-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def embedded_postgres(data_root: Path) -> Iterator[str]:
    """URL of the session's embedded PostgreSQL server (its `postgres` database)."""
    server = EmbeddedPostgres(data_root / "postgres")
    url = server.start()
    prepare_template(url)
    yield url
    server.stop()


@pytest.fixture(scope="session")
def server_postgres() -> str:
    """The PostgreSQL server on 127.0.0.1:5432 (skipped when unreachable)."""
    try:
        with psycopg.connect(libpq_url(SERVER_POSTGRES_URL), connect_timeout=3):
            pass
    except psycopg.OperationalError as error:
        pytest.skip(f"no PostgreSQL server ({error}); set KINOTEKA_TEST_POSTGRES_URL")
    prepare_template(SERVER_POSTGRES_URL)
    return SERVER_POSTGRES_URL


@pytest.fixture
def fresh_database(embedded_postgres: str) -> Iterator[str]:
    """A new migrated, empty database on the embedded server, dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = create_database(embedded_postgres, name, template=TEMPLATE)
    yield url
    drop_database(embedded_postgres, name)


@pytest.fixture(scope="session")
def movies_database(embedded_postgres: str) -> str:
    """A migrated database holding the shared 999-film catalog. Treat it as read-only."""
    if not MOVIES_SQLITE.exists():
        pytest.skip(NO_MOVIES_REASON)
    url = create_database(embedded_postgres, "movies", template=TEMPLATE)
    import_sqlite(url, MOVIES_SQLITE)
    return url


@pytest.fixture(scope="session")
def embedded_redis(data_root: Path) -> Iterator[str]:
    server = EmbeddedRedis(data_root / "redis")
    url = server.start()
    yield url
    server.stop()


@pytest.fixture(scope="session")
def server_redis() -> str:
    import redis

    client = redis.Redis.from_url(SERVER_REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.skip(f"no Redis server ({error}); set KINOTEKA_TEST_REDIS_URL")
    finally:
        client.close()
    return SERVER_REDIS_URL


@pytest.fixture
async def flushed_redis(embedded_redis: str) -> str:
    """The embedded Redis, emptied before the test."""
    from redis.asyncio import Redis

    client = Redis.from_url(embedded_redis)
    await client.flushall()
    await client.aclose()
    return embedded_redis


@pytest.fixture(scope="session")
def chdb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chdb")


@pytest.fixture(scope="session")
def chdb_store(chdb_dir: Path) -> AnalyticsStore:
    """The session's in-process ClickHouse (chDB), through the analytics store port.

    chDB holds one data directory per process: every test of the session shares this one and
    keeps to a ClickHouse database of its own.
    """
    return analytics_port.from_url(f"chdb://{chdb_dir}")
