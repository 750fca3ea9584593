"""Schemathesis against the content API's own OpenAPI schema: no input yields a 5xx."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings

from kinoteka.app import create_app
from kinoteka.clients import build_services
from kinoteka.infra.footprint import StoreUrls
from kinoteka.infra.search import SearchIndex
from kinoteka.settings import load_settings
from tests.conftest import free_port
from tests.content.conftest import content_services


@pytest.fixture(scope="module")
def content_server(
    movies_database: str, embedded_redis: str, movies_index: tuple[str, SearchIndex]
) -> Iterator[str]:
    """The public content API served by uvicorn in a thread of its own."""
    url, index = movies_index
    services = content_services(movies_database, embedded_redis, index, url, public=True)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(services, ["content"]), port=port, log_level="warning",
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
            time.sleep(0.05)
    yield base
    server.should_exit = True
    thread.join(10)


def _content_openapi() -> dict[str, Any]:
    """The schema, from an app that is built but never started (nothing connects)."""
    settings = load_settings(content={"public": True})
    urls = StoreUrls("postgresql://unused/unused", "redis://unused", "tantivy:///unused", "")
    openapi: dict[str, Any] = create_app(build_services(settings, urls), ["content"]).openapi()
    return openapi


schema = schemathesis.openapi.from_dict(_content_openapi())


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_input_makes_a_server_error(case: Any, content_server: str) -> None:
    response = case.call(base_url=content_server)
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text}"
