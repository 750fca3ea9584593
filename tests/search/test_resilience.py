"""The sync as the `kinoteka sync run` process: killed with SIGKILL mid-batch, cut off from
PostgreSQL for a while. Either way it ends with the index equal to the catalog."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

from kinoteka.catalog.generator import generate_catalog
from kinoteka.infra import db as db_port
from kinoteka.infra.db import libpq_url
from kinoteka.infra.search import SearchQuery
from kinoteka.search.service import catalog_sync, open_index
from kinoteka.search.settings import SearchSettings
from tests.search.conftest import execute, seed_small_catalog

KINOTEKA = Path(sys.executable).with_name("kinoteka")
pytestmark = pytest.mark.slow


def sync_env(database_url: str, search_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KINOTEKA_")}
    env.update(
        KINOTEKA_DATABASE_URL=database_url,
        KINOTEKA_SEARCH_URL=search_url,
        KINOTEKA_DATA_DIR=str(data_dir),
        KINOTEKA_LOG__JSON="true",
        **extra,
    )
    return env


def start_sync(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    log = (cwd / "sync.log").open("ab")
    return subprocess.Popen([str(KINOTEKA), "sync", "run", *args], env=env, cwd=cwd,
                            stdout=log, stderr=subprocess.STDOUT)  # fmt: skip


async def wait_for(condition: Callable[[], bool], deadline: float, what: str) -> None:
    ends = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > ends:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def load_progress(url: str) -> dict[str, Any]:
    with psycopg.connect(libpq_url(url)) as connection:
        row = connection.execute(
            "SELECT state FROM search.sync_state WHERE name = 'catalog'"
        ).fetchone()
    return row[0] if row else {}


async def assert_equal(database_url: str, search_url: str) -> None:
    db = db_port.from_url(database_url, pool_size=2)
    index = open_index(search_url, SearchSettings())
    try:
        report = await catalog_sync(db, index, search_url, SearchSettings()).verify(sample=300)
    finally:
        await index.close()
        await db.close()
    assert report.queued == 0
    assert report.ok, report


async def test_sigkill_mid_batch_then_restart_ends_equal(
    fresh_database: str, tmp_path: Path
) -> None:
    generate_catalog(fresh_database, 1500, seed=11)
    search_url = f"tantivy://{tmp_path / 'index'}"
    env = sync_env(fresh_database, search_url, tmp_path / "data",
                   KINOTEKA_SEARCH__LOAD_BATCH_SIZE="100",
                   KINOTEKA_SEARCH__LOAD_COMMIT_SIZE="300")  # fmt: skip
    process = start_sync(["--follow"], env, tmp_path)
    try:

        def mid_load() -> bool:
            after = load_progress(fresh_database).get("load_after") or {}
            return "film" in after and not load_progress(fresh_database).get("loaded")

        await wait_for(mid_load, 60, "the full load to be under way")
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    progress = load_progress(fresh_database)
    assert not progress.get("loaded")

    # the catalog moves on while the sync is down
    execute(fresh_database, "UPDATE content.film_work SET title = title || ' (restored)'"
            " WHERE id IN (SELECT id FROM content.film_work ORDER BY id DESC LIMIT 5)")  # fmt: skip
    execute(fresh_database, "DELETE FROM content.film_work"
            " WHERE id IN (SELECT id FROM content.film_work ORDER BY id LIMIT 3)")  # fmt: skip

    rerun = await asyncio.to_thread(
        subprocess.run, [str(KINOTEKA), "sync", "run", "--once"], env=env, cwd=tmp_path,
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    loaded = int(rerun.stdout.split("loaded ")[1].split(",")[0])
    total = 1500 + 26 + 4500  # films, genres, persons the generator wrote
    assert 0 < loaded < total  # resumed, not reloaded from scratch
    await assert_equal(fresh_database, search_url)

    # and once more while following changes: killed halfway through draining the queue
    env["KINOTEKA_SEARCH__BATCH_SIZE"] = "40"
    process = start_sync(["--follow"], env, tmp_path)
    try:
        execute(fresh_database, "UPDATE content.film_work SET rating = 5.5")
        await wait_for(lambda: 0 < queued(fresh_database) < 1400, 60, "the drain to be under way")
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert queued(fresh_database) > 0
    rerun = await asyncio.to_thread(
        subprocess.run, [str(KINOTEKA), "sync", "run", "--once"], env=env, cwd=tmp_path,
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "loaded 0," in rerun.stdout
    await assert_equal(fresh_database, search_url)


def queued(url: str) -> int:
    with psycopg.connect(libpq_url(url)) as connection:
        row = connection.execute("SELECT count(*) FROM search.change").fetchone()
    return int(row[0]) if row else 0


def postgres_socket(directory: Path) -> Path:
    return next(p for p in directory.glob(".s.PGSQL.*") if not p.name.endswith(".lock"))


class SocketProxy:
    """A Unix-socket proxy in front of PostgreSQL that can be cut and restored."""

    def __init__(self, upstream: str, directory: Path) -> None:
        self.upstream = upstream
        self.path = directory / Path(upstream).name
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_unix_server(self._handle, str(self.path))

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(self.upstream)
        except OSError:
            writer.close()
            return
        self.writers |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        except asyncio.CancelledError:
            writer.transport.abort()
            up_writer.transport.abort()
        self.writers -= {writer, up_writer}

    async def cut(self) -> None:
        """Refuse new connections and drop the open ones."""
        if self.server is not None:
            self.server.close()
            self.server = None
        self.path.unlink(missing_ok=True)
        for writer in list(self.writers):
            writer.transport.abort()
        self.writers.clear()


@pytest.fixture
async def proxied_database(
    fresh_database: str, tmp_path: Path
) -> AsyncIterator[tuple[str, SocketProxy]]:
    url = make_url(fresh_database)
    upstream = postgres_socket(Path(str(url.query["host"])))
    proxy_dir = tmp_path / "proxy"
    proxy_dir.mkdir()
    proxy = SocketProxy(str(upstream), proxy_dir)
    await proxy.start()
    proxied = url.set(query={"host": str(proxy_dir)}).render_as_string(hide_password=False)
    yield proxied, proxy
    await proxy.cut()


async def test_follower_survives_a_postgres_outage(
    fresh_database: str, proxied_database: tuple[str, SocketProxy], tmp_path: Path
) -> None:
    proxied_url, proxy = proxied_database
    catalog = seed_small_catalog(fresh_database)
    search_url = f"tantivy://{tmp_path / 'index'}"
    env = sync_env(proxied_url, search_url, tmp_path / "data",
                   KINOTEKA_SEARCH__POLL_INTERVAL="0.2",
                   KINOTEKA_SEARCH__BACKOFF__CEILING="0.5")  # fmt: skip
    reader = open_index(search_url, SearchSettings())
    log = tmp_path / "sync.log"
    process = start_sync(["--follow"], env, tmp_path)

    async def title_of(film_id: str) -> str | None:
        with contextlib.suppress(Exception):  # the index may not exist yet
            document = await reader.get("movies", film_id)
            return None if document is None else str(document["title"])
        return None

    async def poll_title(film_id: str, expected: str, deadline: float, what: str) -> None:
        ends = time.monotonic() + deadline
        while await title_of(film_id) != expected:
            if time.monotonic() > ends:
                pytest.fail(f"timed out waiting for {what}; log: {log.read_text()[-3000:]}")
            await asyncio.sleep(0.05)

    try:
        await poll_title(catalog.films["Alien"], "Alien", 60, "the first load")
        await proxy.cut()
        execute(
            fresh_database, "UPDATE content.film_work SET title = 'Aliens' WHERE title = 'Alien'"
        )
        retries = lambda: log.read_text().count("backoff.retry") >= 2  # noqa: E731
        await wait_for(retries, 30, "the follower to retry against the cut database")
        await proxy.start()
        await poll_title(catalog.films["Alien"], "Aliens", 30, "the follower to catch up")
        hits = await reader.search(SearchQuery("movies", text="aliens"))
        assert [d["title"] for d in hits.documents] == ["Aliens"]
    finally:
        # waited for without blocking the loop: the proxy runs on it
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(BaseException):
            await wait_for(lambda: process.poll() is not None, 15, "the follower to stop")
        if process.poll() is None:
            process.kill()
            process.wait(10)
        await reader.close()
    assert process.returncode == 0, log.read_text()[-3000:]
    await assert_equal(fresh_database, search_url)


async def test_rebuild_beside_a_running_follower(fresh_database: str, tmp_path: Path) -> None:
    """`kinoteka sync rebuild` while `kinoteka sync run --follow` runs and searches go on: no
    error, no empty answer, and the follower then writes into the new version."""
    catalog = seed_small_catalog(fresh_database)
    generate_catalog(fresh_database, 300, seed=5)
    search_url = f"tantivy://{tmp_path / 'index'}"
    env = sync_env(fresh_database, search_url, tmp_path / "data",
                   KINOTEKA_SEARCH__LOAD_BATCH_SIZE="100",
                   KINOTEKA_SEARCH__LOAD_COMMIT_SIZE="300")  # fmt: skip
    follower = start_sync(["--follow"], env, tmp_path)
    reader = open_index(search_url, SearchSettings())
    failures: list[str] = []
    rounds = 0
    done = asyncio.Event()

    async def search_loop() -> None:
        nonlocal rounds
        while not done.is_set():
            try:
                hits = await reader.search(SearchQuery("movies", text="alien", limit=5))
                if not hits.documents:
                    failures.append("empty")
            except Exception as error:
                failures.append(repr(error))
            rounds += 1
            await asyncio.sleep(0.005)

    try:
        await wait_for(lambda: bool(load_progress(fresh_database).get("loaded")), 60, "the load")
        looping = asyncio.create_task(search_loop())
        rebuilt = await asyncio.to_thread(
            subprocess.run, [str(KINOTEKA), "sync", "rebuild"], env=env, cwd=tmp_path,
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        done.set()
        await looping
        assert rebuilt.returncode == 0, rebuilt.stderr[-2000:]
        assert "movies: 303 documents" in rebuilt.stdout
        assert failures == []
        assert rounds > 10

        execute(fresh_database, "UPDATE content.film_work SET title = 'Alien Resurrection'"
                " WHERE id = %s", (catalog.films["Alien"],))  # fmt: skip

        async def renamed() -> bool:
            document = await reader.get("movies", catalog.films["Alien"])
            return document is not None and document["title"] == "Alien Resurrection"

        ends = time.monotonic() + 30
        while not await renamed():
            assert time.monotonic() < ends, (tmp_path / "sync.log").read_text()[-3000:]
            await asyncio.sleep(0.05)
    finally:
        follower.send_signal(signal.SIGTERM)
        await asyncio.to_thread(follower.wait, 15)
        await reader.close()
    assert follower.returncode == 0
    versions = list((tmp_path / "index" / "movies").glob("v*"))
    assert len(versions) == 1
