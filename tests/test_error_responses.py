"""The app's last word on errors: outages are JSON 503s, anything else a JSON 500 with its id."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from sqlalchemy.exc import OperationalError

from kinoteka.app import create_app
from kinoteka.clients import build_services
from kinoteka.infra.cache import CacheUnavailable
from kinoteka.infra.db import DatabaseUnavailable, outage
from kinoteka.infra.footprint import StoreUrls
from kinoteka.settings import load_settings

failing = APIRouter()


@failing.get("/bug")
async def bug() -> None:
    raise RuntimeError("a bug, with a secret in its message")


@failing.get("/redis-down")
async def redis_down() -> None:
    raise CacheUnavailable("redis is unreachable: connection refused")


@failing.get("/untranslated-outage")
async def untranslated_outage() -> None:
    # What `fetch_rows` raises for a lost connection, outside any unit of work.
    raise OperationalError("select 1", None, Exception("connection was closed"))


@failing.get("/disk-error")
async def disk_error() -> None:
    raise PermissionError(13, "Permission denied")


def bare_app() -> FastAPI:
    """An app over stores that are never contacted, with routes that fail on purpose."""
    urls = StoreUrls("postgresql://unused/unused", "redis://unused", "tantivy:///unused", "")
    app = create_app(build_services(load_settings(), urls), [])
    app.include_router(failing)
    return app


@pytest.fixture
async def client() -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=bare_app(), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://kinoteka.test")


async def test_unhandled_exception_is_a_json_500_with_the_request_id(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/bug", headers={"X-Request-Id": "req-123"})
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {"detail": "internal server error", "request_id": "req-123"}
    assert answer.headers["x-request-id"] == "req-123"
    assert "secret" not in answer.text


async def test_store_unavailable_is_a_json_503_with_retry_after(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/redis-down")
    assert answer.status_code == 503
    assert answer.json() == {"detail": "redis unavailable, try again shortly", "store": "redis"}
    assert answer.headers["retry-after"] == "5"
    assert answer.headers["x-request-id"]


async def test_untranslated_driver_outage_is_still_a_postgres_503(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/untranslated-outage")
    assert answer.status_code == 503
    assert answer.json()["store"] == "postgres"


async def test_an_os_error_elsewhere_is_not_blamed_on_a_store(client: httpx.AsyncClient) -> None:
    answer = await client.get("/disk-error")
    assert answer.status_code == 500
    assert answer.json()["detail"] == "internal server error"


@pytest.mark.parametrize(
    ("error", "is_outage"),
    [
        (ConnectionRefusedError(111, "refused"), False),  # the engine translates its own
        (OperationalError("select 1", None, Exception("gone")), True),
        (ValueError("bad input"), False),
        (RuntimeError("bug"), False),
    ],
)
def test_outage_tells_outages_from_bugs(error: BaseException, is_outage: bool) -> None:
    found = outage(error)
    assert (found is not None) is is_outage
    if found is not None:
        assert isinstance(found, DatabaseUnavailable)
        assert found.store == "postgres"
        assert found.__cause__ is error
