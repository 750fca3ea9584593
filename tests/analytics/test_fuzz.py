"""Schemathesis against the analytics API's own OpenAPI schema, with a valid token: no 5xx."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings

from kinoteka.analytics.warehouse import create_tables
from kinoteka.app import create_app
from kinoteka.clients import build_services
from kinoteka.infra.analytics import AnalyticsStore
from kinoteka.infra.footprint import StoreUrls
from kinoteka.services import Services
from tests.analytics.conftest import analytics_settings, token_for
from tests.conftest import TEMPLATE, create_database, drop_database, free_port


def _services(database_url: str, redis_url: str, analytics_db: str) -> Services:
    return build_services(
        analytics_settings(analytics_db), StoreUrls(database_url, redis_url, "", "")
    )


def _in_a_loop_of_its_own(work: Any) -> Any:
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, work()).result()


@pytest.fixture(scope="module")
def analytics_server(
    embedded_postgres: str, embedded_redis: str, chdb_store: AnalyticsStore
) -> Iterator[tuple[str, dict[str, str]]]:
    """The analytics API served by uvicorn in a thread, and a token holding analytics.view."""
    name = f"fuzz_{uuid.uuid4().hex[:8]}"
    database_url = create_database(embedded_postgres, name, template=TEMPLATE)
    analytics_db = f"f_{uuid.uuid4().hex[:10]}"

    async def prepare() -> dict[str, str]:
        signer = _services(database_url, embedded_redis, analytics_db)
        try:
            await create_tables(chdb_store, analytics_db)
            return await token_for(signer, "analytics.view")
        finally:
            await signer.close()

    headers: dict[str, str] = _in_a_loop_of_its_own(prepare)
    services = _services(database_url, embedded_redis, analytics_db)
    services.analytics_store = chdb_store
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(services, ["analytics"]), port=port, log_level="warning",
                       lifespan="off")
    )  # fmt: skip
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base}/openapi.json", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.05)  # polling the server coming up, with a deadline
    yield base, headers
    server.should_exit = True
    thread.join(10)
    drop_database(embedded_postgres, name)


def _openapi() -> dict[str, Any]:
    """The schema, from an app that is built but never started (nothing connects)."""
    urls = StoreUrls("postgresql://unused/unused", "redis://127.0.0.1:1", "", "")
    app = create_app(build_services(analytics_settings("unused"), urls), ["analytics"])
    openapi: dict[str, Any] = app.openapi()
    return openapi


schema = schemathesis.openapi.from_dict(_openapi())


@schema.parametrize()
@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_input_makes_a_server_error(
    case: Any, analytics_server: tuple[str, dict[str, str]]
) -> None:
    base, headers = analytics_server
    response = case.call(base_url=base, headers=headers)
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text}"
