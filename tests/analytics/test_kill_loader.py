"""`kill -9` of a loader between insert and ack: the next loader loses nothing, counts once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from kinoteka.analytics.schemas import BusRecord
from kinoteka.analytics.topics import ALL_TOPICS, PageKind
from kinoteka.infra import bus as bus_port
from tests.analytics.factories import page_view, player, send

REPO = Path(__file__).resolve().parents[2]
KINOTEKA = Path(sys.executable).parent / "kinoteka"


@pytest.fixture
def redis_url(embedded_redis: str) -> str:
    import redis

    with redis.Redis.from_url(embedded_redis) as client:
        client.flushall()
    return embedded_redis


def on_the_bus(url: str, *records: BusRecord, subscribe: bool = False) -> None:
    async def run() -> None:
        bus = bus_port.from_url(url)
        try:
            if subscribe:
                await bus.subscribe(ALL_TOPICS, "clickhouse-loader")
            await send(bus, records)
        finally:
            await bus.close()

    # A loop of its own in a thread: this test is synchronous, the session may hold a loop.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()


def wait_for(path: Path, process: subprocess.Popen[bytes], within: float) -> None:
    deadline = time.monotonic() + within
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"loader exited early: {process.stderr.read()!r}")  # type: ignore[union-attr]
        if time.monotonic() > deadline:
            raise AssertionError("the loader never inserted")
        time.sleep(0.05)  # polling a file the child writes, with a deadline


def test_a_loader_killed_between_insert_and_ack(
    redis_url: str, fresh_database: str, tmp_path: Path
) -> None:
    chdb_dir = tmp_path / "chdb"  # its own: chDB opens one directory per process
    database = f"k_{uuid.uuid4().hex[:10]}"
    marker = tmp_path / "inserted"
    # The consumer group exists before the events, as it does under a running platform.
    on_the_bus(redis_url, subscribe=True)
    crashing = subprocess.Popen(
        [sys.executable, "-m", "tests.analytics.crashing_loader",
         redis_url, str(chdb_dir), database, str(marker)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        pauses = [player("pause") for _ in range(150)]
        views = [page_view(PageKind.FILMS.value) for _ in range(50)]
        on_the_bus(redis_url, *pauses[:100])
        wait_for(marker, crashing, within=60)
    finally:
        os.kill(crashing.pid, signal.SIGKILL)
        crashing.wait()
    assert crashing.returncode == -signal.SIGKILL
    assert marker.read_text().strip() == "100"  # inserted, never acknowledged
    on_the_bus(redis_url, *pauses[100:], *views)

    env = {
        **os.environ,
        "KINOTEKA_REDIS_URL": redis_url,
        "KINOTEKA_DATABASE_URL": fresh_database,  # the failed-events store of `load`
        "KINOTEKA_ANALYTICS__STORE_URL": f"chdb://{chdb_dir}",
        "KINOTEKA_ANALYTICS__DATABASE": database,
        "KINOTEKA_ANALYTICS__RECLAIM_IDLE": "0.1",
        "KINOTEKA_DATA_DIR": str(tmp_path / "data"),
    }
    drained = subprocess.run(
        [str(KINOTEKA), "analytics", "load", "--until-idle", "1"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert drained.returncode == 0, drained.stderr + drained.stdout
    counts = subprocess.run(
        [str(KINOTEKA), "analytics", "counts"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert counts.returncode == 0, counts.stderr
    found = dict(line.split() for line in counts.stdout.strip().splitlines())
    assert found["clicks_on_video_pauses"] == "150"  # the killed batch again, counted once
    assert found["get_films_page_views"] == "50"
    assert found["clicks_on_video_full_views"] == "0"
