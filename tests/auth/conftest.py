"""Auth fixtures: services over a fresh database and Redis, cheap Argon2 for speed."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import APIRouter

from kinoteka.app import create_app
from kinoteka.auth.deps import get_auth_kit
from kinoteka.auth.kit import AuthKit
from kinoteka.auth.settings import AuthSettings, PasswordHashSettings
from kinoteka.clients import build_services
from kinoteka.infra.footprint import StoreUrls
from kinoteka.services import Services
from kinoteka.settings import Settings

# Cheap hashing keeps the suite fast; test_passwords checks the defaults are OWASP's.
FAST_HASH = PasswordHashSettings(memory_kib=256, time_cost=1, parallelism=1)
PASSWORD = "correct horse 42"


def make_settings(*, trusted_proxies: list[str] | None = None, **auth: Any) -> Settings:
    auth.setdefault("password_hash", FAST_HASH)
    auth.setdefault("redis_prefix", f"t{uuid.uuid4().hex[:10]}")
    return Settings(
        auth=AuthSettings(**auth),
        secret_key="test-secret-for-keys",
        trusted_proxies=trusted_proxies or [],
    )


async def make_services(
    database_url: str, redis_url: str, *, trusted_proxies: list[str] | None = None, **auth: Any
) -> Services:
    settings = make_settings(trusted_proxies=trusted_proxies, **auth)
    urls = StoreUrls(database_url=database_url, redis_url=redis_url, search_url="", storage_url="")
    services = build_services(settings, urls)
    get_auth_kit(services)
    return services


@pytest.fixture
async def services(fresh_database: str, flushed_redis: str) -> AsyncIterator[Services]:
    built = await make_services(fresh_database, flushed_redis)
    yield built
    await built.close()


@pytest.fixture
def kit(services: Services) -> AuthKit:
    assert services.auth is not None
    return services.auth


def new_email() -> str:
    return f"user-{uuid.uuid4().hex[:8]}@Example.COM"


@pytest.fixture(params=["embedded", "server"])
def any_redis(request: pytest.FixtureRequest) -> str:
    """The embedded Redis or the server's db 15; every test's keys carry its own prefix."""
    if request.param == "embedded":
        url: str = request.getfixturevalue("embedded_redis")
        return url
    server: str = request.getfixturevalue("server_redis")
    return server


@asynccontextmanager
async def app_client(services: Services, *routers: APIRouter) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(services, ["auth"])
    for router in routers:
        app.include_router(router)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
