"""The web pages over the shared 999-film catalog (synced into a Tantivy index) and auth."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from kinoteka.analytics.topics import PLAYER_TOPICS
from kinoteka.app import create_app
from kinoteka.auth.settings import AuthSettings, PasswordHashSettings
from kinoteka.clients import build_services
from kinoteka.infra import db as db_port
from kinoteka.infra.footprint import StoreUrls
from kinoteka.infra.search import SearchIndex
from kinoteka.search.service import catalog_sync, open_index
from kinoteka.search.settings import SearchSettings
from kinoteka.services import Services
from kinoteka.settings import Environment, load_settings
from kinoteka.web.settings import WebSettings

BASE_URL = "https://web.test"
PASSWORD = "correct horse 42"
FAST_HASH = PasswordHashSettings(memory_kib=256, time_cost=1, parallelism=1)


@pytest.fixture(scope="session")
async def web_index(
    movies_database: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[str, SearchIndex]]:
    """The shared catalog synced into a Tantivy index, once per test session."""
    root = tmp_path_factory.mktemp("web-index")
    url = f"tantivy://{root / 'index'}"
    settings = SearchSettings()
    index = open_index(url, settings)
    database = db_port.from_url(movies_database, pool_size=2)
    try:
        await catalog_sync(
            database, index, url, settings, state_file=root / "state.yaml"
        ).run_once()
    finally:
        await database.close()
    yield url, index
    await index.close()


def web_services(
    database_url: str,
    redis_url: str,
    index: tuple[str, SearchIndex],
    data_dir: Path,
    *,
    env: Environment = Environment.TEST,
    oauth_providers: dict[str, Any] | None = None,
    **web: Any,
) -> Services:
    auth = AuthSettings(
        password_hash=FAST_HASH,
        redis_prefix=f"t{uuid.uuid4().hex[:10]}",
        oauth_providers=oauth_providers or {},
    )
    settings = load_settings(
        env=env, data_dir=data_dir, secret_key="web-tests-secret", auth=auth,
        web=WebSettings(**web),
    )  # fmt: skip
    search_url, search = index
    urls = StoreUrls(database_url, redis_url, search_url, f"file://{data_dir / 'storage'}")
    services = build_services(settings, urls)
    services.search = search
    return services


@asynccontextmanager
async def web_client(
    services: Services, contexts: Sequence[str] = ("web", "auth"), app: FastAPI | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app with its lifespan running (the preset index is not closed by it)."""
    app = app or create_app(services, list(contexts))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url=BASE_URL, follow_redirects=False
        ) as client:
            yield client


async def bus_types(redis_url: str) -> list[str]:
    """The types of the player events the collector put on the bus (Redis streams here)."""
    client = Redis.from_url(redis_url)
    try:
        found: list[str] = []
        for topic in set(PLAYER_TOPICS.values()):
            for _, fields in await client.xrange(topic):
                for body in fields.values():  # a message holds JSON lines, one event each
                    found.extend(orjson.loads(line)["type"] for line in body.splitlines())
        return found
    finally:
        await client.aclose()
