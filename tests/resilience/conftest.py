"""The app over stores the test controls: its own Redis process, PostgreSQL behind a proxy."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from kinoteka.app import create_app
from kinoteka.auth import service as auth_service
from kinoteka.auth.deps import get_auth_kit
from kinoteka.infra.cache import CacheSettings
from kinoteka.infra.db import DatabaseSettings
from kinoteka.services import Services
from tests.catalog.app_fixtures import BASE_URL, PASSWORD, catalog_services, catalog_settings
from tests.resilience.stores import PostgresProxy, RedisProcess
from tests.search.test_resilience import postgres_socket

ADMIN_EMAIL = "ops@example.com"
# Tight bounds, so an outage shows within a test's patience; the defaults are checked apart.
DATABASE = DatabaseSettings(connect_timeout=1, command_timeout=1, pool_timeout=1)


@pytest.fixture
def redis_process(data_root: Path, tmp_path: Path) -> Iterator[RedisProcess]:
    # Under the session's data root: a Unix socket path must stay short (108 bytes).
    server = RedisProcess(data_root / f"redis-{tmp_path.name[-20:]}")
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def postgres_proxy(fresh_database: str, tmp_path: Path) -> AsyncIterator[PostgresProxy]:
    url = make_url(fresh_database)
    directory = tmp_path / "pg"
    directory.mkdir()
    proxy = PostgresProxy(postgres_socket(Path(str(url.query["host"]))), directory)
    await proxy.start()
    yield proxy
    await proxy.cut()


@pytest.fixture
async def outage_services(
    fresh_database: str, postgres_proxy: PostgresProxy, redis_process: RedisProcess, tmp_path: Path
) -> Services:
    """Catalog, admin and auth over the proxied database and the dedicated Redis."""
    proxied = make_url(fresh_database).set(query={"host": str(postgres_proxy.path.parent)})
    settings = catalog_settings(tmp_path / "data", database=DATABASE, cache=CacheSettings())
    services = catalog_services(
        settings, proxied.render_as_string(hide_password=False), redis_process.url
    )
    kit = get_auth_kit(services)
    async with services.db.session() as session:
        await auth_service.create_user(session, kit, ADMIN_EMAIL, PASSWORD, roles=["super_user"])
    return services  # closed by the app's lifespan in `client`


@pytest.fixture
async def client(outage_services: Services) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(outage_services, ["catalog", "admin", "auth"])
    async with app.router.lifespan_context(app):
        # Server errors are answered, not raised into the test: the test checks the answer.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            yield client
