"""Schemathesis over every operation of every context, as `kinoteka up` mounts them: no 5xx.

The whole app runs in uvicorn (lifespans on, rate limits on) over a small catalog, and each
case carries the bearer token of an account holding every permission, so the fuzzer reaches
past authentication. The operations come from the app's own OpenAPI document: a context
mounted later is fuzzed without touching this file.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from kinoteka.analytics.settings import AnalyticsSettings
from kinoteka.app import create_app
from kinoteka.auth import service as auth_service
from kinoteka.auth.deps import get_auth_kit
from kinoteka.auth.devices import ClientInfo
from kinoteka.auth.models import User
from kinoteka.auth.sessions import start_session
from kinoteka.auth.settings import AuthSettings, PasswordHashSettings
from kinoteka.clients import build_services
from kinoteka.infra import db as db_port
from kinoteka.infra.footprint import StoreUrls
from kinoteka.search.service import catalog_sync, open_index
from kinoteka.search.settings import SearchSettings
from kinoteka.settings import Environment, Settings, load_settings
from tests.conftest import TEMPLATE, create_database, drop_database, free_port
from tests.search.conftest import seed_small_catalog

pytestmark = pytest.mark.slow

EMAIL = "fuzz-root@example.com"
PASSWORD = "fuzzing is fun 42"
FAST_HASH = PasswordHashSettings(memory_kib=256, time_cost=1, parallelism=1)


def platform_settings(data_dir: Path, prefix: str, chdb_dir: Path | None = None) -> Settings:
    # chDB holds one data directory per process: the platform shares the session's, under a
    # ClickHouse database of its own.
    analytics = (
        AnalyticsSettings(store_url=f"chdb://{chdb_dir}", database=prefix)
        if chdb_dir is not None
        else AnalyticsSettings()
    )
    return load_settings(
        env=Environment.TEST,
        data_dir=data_dir,
        secret_key="fuzz-secret-key-fuzz-secret-key-0123",
        auth=AuthSettings(password_hash=FAST_HASH, redis_prefix=prefix),
        analytics=analytics,
    )


def platform_urls(database_url: str, redis_url: str, data_dir: Path) -> StoreUrls:
    return StoreUrls(
        database_url=database_url,
        redis_url=redis_url,
        search_url=f"tantivy://{data_dir / 'search'}",
        storage_url=f"file://{data_dir / 'storage'}",
    )


@dataclass
class Platform:
    base_url: str
    settings: Settings
    urls: StoreUrls
    user_id: uuid.UUID
    token: str = ""

    def mint_token(self) -> str:
        """A fresh session for the all-permissions account, made in-process (no login, so
        the fuzzer's own login attempts cannot rate-limit the test out of its token)."""

        async def mint() -> str:
            services = build_services(self.settings, self.urls)
            kit = get_auth_kit(services)
            try:
                async with services.db.session() as session:
                    user = await session.get(User, self.user_id)
                    assert user is not None
                    pair = await start_session(session, kit, user, ClientInfo(ip="127.0.0.1"))
                return pair.access_token
            finally:
                await services.close()

        self.token = asyncio.run(mint())
        return self.token

    def bearer(self) -> dict[str, str]:
        """The token, renewed when a fuzzed logout or revocation has voided it."""
        headers = {"Authorization": f"Bearer {self.token}"}
        if self.token:
            probe = httpx.get(f"{self.base_url}/api/v1/auth/me", headers=headers, timeout=10)
            if probe.status_code != 401:
                return headers
        return {"Authorization": f"Bearer {self.mint_token()}"}


@pytest.fixture(scope="module")
def platform(
    embedded_postgres: str, embedded_redis: str, data_root: Path, chdb_dir: Path
) -> Iterator[Platform]:
    name = f"fuzz_{uuid.uuid4().hex[:10]}"
    database_url = create_database(embedded_postgres, name, template=TEMPLATE)
    seed_small_catalog(database_url)
    data_dir = data_root / name
    settings = platform_settings(data_dir, prefix=name, chdb_dir=chdb_dir)
    urls = platform_urls(database_url, embedded_redis, data_dir)

    async def prepare() -> uuid.UUID:
        db = db_port.from_url(database_url, pool_size=2)
        index = open_index(urls.search_url, SearchSettings())
        try:
            await catalog_sync(
                db, index, urls.search_url, SearchSettings(), state_file=data_dir / "state.yaml"
            ).run_once()
        finally:
            await index.close()
            await db.close()
        services = build_services(settings, urls)
        try:
            async with services.db.session() as session:
                user = await auth_service.create_user(
                    session, get_auth_kit(services), EMAIL, PASSWORD, roles=["super_user"]
                )
                return user.id
        finally:
            await services.close()

    user_id = asyncio.run(prepare())
    port = free_port()
    app = create_app(build_services(settings, urls))  # every context, as `kinoteka up`
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "the app did not start"
        assert time.monotonic() < deadline, "the app did not start in 30 s"
        time.sleep(0.05)
    yield Platform(base, settings, urls, user_id)
    server.should_exit = True
    thread.join(15)
    drop_database(embedded_postgres, name)


def _platform_openapi() -> dict[str, Any]:
    """The whole app's schema, from an app that is built but never started."""
    data_dir = Path("/nonexistent")
    urls = platform_urls("postgresql://unused/unused", "redis://127.0.0.1:1", data_dir)
    openapi: dict[str, Any] = create_app(
        build_services(platform_settings(data_dir, "unused"), urls)
    ).openapi()
    return openapi


# Server-Sent Event streams never end (their pings keep a read timeout from firing): each has
# its own tests (tests/notify, tests/web); every other operation is fuzzed here.
schema = schemathesis.openapi.from_dict(_platform_openapi()).exclude(path_regex=r"/stream$")


@schema.parametrize()
@settings(
    max_examples=12,  # ~35 operations: one to two minutes on two busy cores
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_input_makes_a_server_error(case: Any, platform: Platform) -> None:
    response = case.call(base_url=platform.base_url, headers=platform.bearer(), timeout=30)
    case.validate_response(response, checks=[not_a_server_error])
