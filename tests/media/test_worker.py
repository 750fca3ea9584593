"""Real Celery workers on the embedded Redis: a worker killed with `kill -9` mid-transcode
loses nothing, and the seed deployment's hand-sent task works as written."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from celery import Celery

from kinoteka.infra.db import libpq_url
from kinoteka.infra.tasks import broker_url
from kinoteka.media.jobs import INDEXED_WITHIN
from tests.media.clips import ClipCache, requires_ffmpeg

pytestmark = [requires_ffmpeg, pytest.mark.slow]

SECRET = "media-worker-tests"


class Workers:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "kinoteka", "worker"],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def kill(self) -> None:
        """`kill -9` of every worker process (parents, pool children, their ffmpeg)."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@pytest.fixture
def worker_env(fresh_database: str, flushed_redis: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KINOTEKA_")}
    env.update(
        KINOTEKA_ENV="test",
        KINOTEKA_DATA_DIR=str(tmp_path / "data"),
        KINOTEKA_SECRET_KEY=SECRET,
        KINOTEKA_DATABASE_URL=fresh_database,
        KINOTEKA_REDIS_URL=flushed_redis,
        KINOTEKA_STORAGE_URL=f"file://{tmp_path / 'storage'}",
        KINOTEKA_MEDIA__VISIBILITY_TIMEOUT="5",
        KINOTEKA_MEDIA__STALE_AFTER="6",
        KINOTEKA_MEDIA__SWEEP_INTERVAL="2",
        KINOTEKA_MEDIA__LADDER_HEIGHTS=json.dumps([360, 240]),
        KINOTEKA_MEDIA__PRESET="ultrafast",
        KINOTEKA_MEDIA__SEGMENT_SECONDS="1",
    )
    return env


@pytest.fixture
def workers(worker_env: dict[str, str], tmp_path: Path) -> Iterator[list[Workers]]:
    started: list[Workers] = []
    yield started
    for group in started:
        group.stop()


def _video(database_url: str, video_id: uuid.UUID) -> tuple[str, float, int, list[dict[str, str]]]:
    with psycopg.connect(libpq_url(database_url)) as connection:
        row = connection.execute(
            "SELECT status, progress, attempt, transitions FROM media.videos WHERE id = %s",
            (video_id,),
        ).fetchone()
    if row is None:
        return ("absent", 0.0, 0, [])
    return row[0], row[1], row[2], row[3]


def _wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)  # polling the workers' progress, with a deadline


def _drained(redis_url: str) -> bool:
    client = redis.Redis.from_url(redis_url)
    try:
        queues = ("transcoding", "thumbnails", "indexing")
        queued = sum(_count(client.llen(name)) for name in queues)
        return queued == 0 and _count(client.hlen("unacked")) == 0
    finally:
        client.close()


def _count(reply: Awaitable[int] | int) -> int:
    """A count the sync client answered: redis-py types its commands once for both clients."""
    assert isinstance(reply, int)
    return reply


def _send(redis_url: str, kwargs: dict[str, object]) -> None:
    """The seed deployment's call, as written there."""
    app = Celery(broker=broker_url(redis_url))
    try:
        app.send_task("tasks.transcoding.transcode_video", kwargs=kwargs, queue="transcoding")
    finally:
        app.close()


def test_a_worker_killed_mid_transcode_loses_nothing(
    worker_env: dict[str, str], workers: list[Workers], clip_cache: ClipCache, tmp_path: Path
) -> None:
    clip = clip_cache.get(width=1280, height=720, seconds=20)
    video_id = uuid.uuid4()
    database_url = worker_env["KINOTEKA_DATABASE_URL"]
    redis_url = worker_env["KINOTEKA_REDIS_URL"]
    first = Workers(worker_env, tmp_path / "workers-1.log")
    workers.append(first)
    first.start()
    _send(redis_url, {"video_id": str(video_id), "movie_id": str(uuid.uuid4()),
                      "s3_key": None, "original_file_path": str(clip)})  # fmt: skip

    def mid_transcode() -> bool:
        status, progress, _, _ = _video(database_url, video_id)
        return status == "transcoding" and 0 < progress < 80

    _wait_for(mid_transcode, 120, "the transcode to be under way")
    first.kill()
    killed_at = _video(database_url, video_id)
    assert killed_at[0] == "transcoding"

    second = Workers(worker_env, tmp_path / "workers-2.log")
    workers.append(second)
    second.start()
    _wait_for(lambda: _video(database_url, video_id)[0] in {"ready", "failed"}, 240, "ready")
    # The indexing task watches for the search document up to INDEXED_WITHIN (no follower runs
    # here), so the queues drain after it gives up.
    _wait_for(lambda: _drained(redis_url), INDEXED_WITHIN + 60, "the queues to drain")
    status, progress, attempt, transitions = _video(database_url, video_id)
    assert status == "ready", transitions
    assert progress == 100
    statuses = [t["status"] for t in transitions]
    assert statuses.count("probing") >= 2  # the killed attempt, then the one that finished
    assert attempt >= 1  # the artwork step's own attempts, counted from its start
    assert statuses.count("ready") == 1
    files = [p for p in (tmp_path / "storage" / "media" / str(video_id) / "v1").rglob("*.m4s")]
    assert files


def test_the_seed_deployments_send_task_call_works(
    worker_env: dict[str, str], workers: list[Workers], clip_cache: ClipCache, tmp_path: Path
) -> None:
    """An object already in storage under `s3_key`, sent by hand for a film."""
    clip = clip_cache.get(width=640, height=360, seconds=2)
    key = f"uploads/{uuid.uuid4()}.mp4"
    target = tmp_path / "storage" / key
    target.parent.mkdir(parents=True)
    target.write_bytes(clip.read_bytes())
    video_id, film_id = uuid.uuid4(), uuid.uuid4()
    group = Workers(worker_env, tmp_path / "workers.log")
    workers.append(group)
    group.start()
    _send(worker_env["KINOTEKA_REDIS_URL"], {"video_id": str(video_id), "movie_id": str(film_id),
          "s3_key": key, "original_file_path": "/nonexistent/original.mp4"})  # fmt: skip
    database_url = worker_env["KINOTEKA_DATABASE_URL"]
    _wait_for(lambda: _video(database_url, video_id)[0] in {"ready", "failed"}, 180, "ready")
    status, _, _, transitions = _video(database_url, video_id)
    assert status == "ready", transitions
    with psycopg.connect(libpq_url(database_url)) as connection:
        row = connection.execute(
            "SELECT film_id, source_key FROM media.videos WHERE id = %s", (video_id,)
        ).fetchone()
    assert row == (film_id, key)
