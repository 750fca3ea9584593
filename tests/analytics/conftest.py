"""Analytics fixtures: an app with the collector over a fresh database, Redis Streams and chDB
(the session's one `chdb_store`; each test gets its own ClickHouse database in it)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kinoteka.analytics.settings import AnalyticsSettings
from kinoteka.app import create_app
from kinoteka.auth.deps import get_auth_kit
from kinoteka.auth.tokens import sign_access_token
from kinoteka.clients import build_services
from kinoteka.infra.analytics import AnalyticsStore
from kinoteka.infra.footprint import StoreUrls
from kinoteka.services import Services
from kinoteka.settings import Settings


@pytest.fixture
def database_name() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


def analytics_settings(database: str, **overrides: Any) -> Settings:
    return Settings(
        secret_key="test-secret-for-keys",
        analytics=AnalyticsSettings(database=database, **overrides),
    )


@pytest.fixture
async def services(
    fresh_database: str,
    flushed_redis: str,
    chdb_store: AnalyticsStore,
    database_name: str,
    chdb_dir: Path,
) -> AsyncIterator[Services]:
    settings = analytics_settings(database_name, store_url=f"chdb://{chdb_dir}")
    urls = StoreUrls(fresh_database, flushed_redis, "", "")
    built = build_services(settings, urls)
    built.analytics_store = chdb_store  # the session's one chDB
    yield built
    await built.close()


async def token_for(
    services: Services,
    *permissions: str,
    user_id: uuid.UUID | None = None,
    now: float | None = None,
) -> dict[str, str]:
    kit = get_auth_kit(services)
    signer = await kit.keys.signer()
    token, _ = sign_access_token(
        signer,
        subject=user_id or uuid.uuid4(),
        session_id=uuid.uuid4(),
        roles=[],
        permissions=permissions,
        issuer=kit.settings.issuer,
        audience=kit.settings.audience,
        ttl_seconds=600,
        now=now,
    )
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(services, ["analytics"])
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://analytics.test"
        ) as http,
    ):
        yield http
