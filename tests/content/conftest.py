"""The content API over the shared 999-film catalog, synced into a Tantivy index."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from kinoteka.app import create_app
from kinoteka.clients import build_services
from kinoteka.infra import db as db_port
from kinoteka.infra.footprint import StoreUrls
from kinoteka.infra.search import SearchIndex
from kinoteka.search.service import catalog_sync, open_index
from kinoteka.search.settings import SearchSettings
from kinoteka.services import Services
from kinoteka.settings import load_settings


@pytest.fixture(scope="session", params=["tantivy", "elasticsearch"])
async def movies_index(
    request: pytest.FixtureRequest,
    movies_database: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[str, SearchIndex]]:
    """The catalog of `movies_database` synced into an index, on each search adapter."""
    root = tmp_path_factory.mktemp("content-index")
    if request.param == "tantivy":
        url = f"tantivy://{root / 'index'}"
    else:
        url = os.environ.get("KINOTEKA_TEST_ELASTICSEARCH_URL", "")
        if not url:
            pytest.skip("no Elasticsearch; set KINOTEKA_TEST_ELASTICSEARCH_URL to run")
    settings = SearchSettings()
    index = open_index(url, settings)
    database = db_port.from_url(movies_database, pool_size=2)
    try:
        # The real sync, its checkpoint in a file so the shared catalog database stays as it is.
        await catalog_sync(
            database, index, url, settings, state_file=root / "state.yaml"
        ).run_once()
    finally:
        await database.close()
    yield url, index
    await index.close()


def content_services(
    database_url: str,
    redis_url: str,
    search: SearchIndex,
    search_url: str,
    *,
    public: bool,
    **content: object,
) -> Services:
    """Services for the content API over `search`; `content` overrides its other settings."""
    settings = load_settings(content={"public": public, **content}, data_dir=Path("/nonexistent"))
    urls = StoreUrls(database_url, redis_url, search_url, "file:///nonexistent")
    services = build_services(settings, urls)
    services.search = search
    return services


@pytest.fixture
async def public_client(
    movies_database: str, flushed_redis: str, movies_index: tuple[str, SearchIndex]
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the content API with `KINOTEKA_CONTENT__PUBLIC=true`."""
    url, index = movies_index
    services = content_services(movies_database, flushed_redis, index, url, public=True)
    app = create_app(services, ["content"])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://content.test"
    ) as client:
        yield client
    await services.cache.close()
    await services.db.close()
