"""The media API served for real (uvicorn on a free port, in a thread), with accounts."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from kinoteka.app import create_app
from kinoteka.auth import ClientInfo, log_in
from kinoteka.auth import roles as auth_roles
from kinoteka.auth import service as auth_service
from kinoteka.auth.deps import get_auth_kit
from kinoteka.auth.settings import AuthSettings, PasswordHashSettings
from kinoteka.clients import build_services
from kinoteka.infra.footprint import StoreUrls
from kinoteka.settings import Settings
from tests.conftest import free_port
from tests.media.fixtures import SECRET, media_settings, store_urls

PASSWORD = "correct horse 42"
FAST_HASH = PasswordHashSettings(memory_kib=256, time_cost=1, parallelism=1)


@dataclass
class MediaServer:
    base_url: str
    settings: Settings
    database_url: str
    redis_url: str
    storage_root: Path
    storage_url: str
    tokens: dict[str, str]
    """Access tokens: `editor` (media.upload), `viewer` (content.watch), `reader` (neither)."""

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def _settings(data_dir: Path, prefix: str) -> Settings:
    settings = media_settings(data_dir)
    settings.auth = AuthSettings(password_hash=FAST_HASH, redis_prefix=prefix)
    return settings


@pytest.fixture
async def media_server(
    fresh_database: str, flushed_redis: str, tmp_path: Path
) -> AsyncIterator[MediaServer]:
    data_dir = tmp_path / "data"
    async with serving(fresh_database, flushed_redis, data_dir,
                       f"file://{data_dir / 'storage'}") as server:  # fmt: skip
        yield server


@asynccontextmanager
async def serving(
    database_url: str, redis_url: str, data_dir: Path, storage_url: str
) -> AsyncIterator[MediaServer]:
    """The media API on `storage_url`, served by uvicorn in a thread, with three accounts."""
    storage_root = data_dir / "storage"
    settings = _settings(data_dir, f"t{time.monotonic_ns()}")
    fresh_database, flushed_redis = database_url, redis_url
    urls = store_urls(fresh_database, flushed_redis, storage_url, data_dir)

    # Accounts made in the test's loop; the server gets its own clients in its own loop.
    accounts = build_services(settings, urls)
    kit = get_auth_kit(accounts)
    tokens: dict[str, str] = {}
    async with accounts.db.session() as session:
        await auth_roles.create_role(session, "reader", ["catalog.read"])
        for who, role in (("editor", "admin"), ("viewer", "public_user"), ("reader", "reader")):
            await auth_service.create_user(session, kit, f"{who}@media.test", PASSWORD,
                                           roles=[role])  # fmt: skip
    for who in ("editor", "viewer", "reader"):
        async with accounts.db.session() as session:
            pair = await log_in(session, kit, f"{who}@media.test", PASSWORD,
                                            ClientInfo(ip="127.0.0.1"))  # fmt: skip
        tokens[who] = pair.access_token
    await accounts.close()

    async with running_app(settings, urls) as base_url:
        yield MediaServer(base_url, settings, fresh_database, flushed_redis,
                          storage_root, storage_url, tokens)  # fmt: skip


@asynccontextmanager
async def another_process(server: MediaServer) -> AsyncIterator[str]:
    """A second API process over the same stores (as a second host or a restart would be):
    its own app, so nothing held in the first one's memory; yields its base URL."""
    urls = store_urls(server.database_url, server.redis_url, server.storage_url,
                      server.settings.data_dir)  # fmt: skip
    async with running_app(server.settings, urls) as base_url:
        yield base_url


@asynccontextmanager
async def running_app(settings: Settings, urls: StoreUrls) -> AsyncIterator[str]:
    services = build_services(settings, urls)
    app = create_app(services, ["media"])
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the media test server did not start")
        await _pause()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


async def _pause() -> None:
    import anyio

    await anyio.sleep(0.05)  # polling the server's start, with a deadline


__all__ = ["SECRET", "MediaServer", "media_server"]
