"""The app factory: contexts, their lifespans, and what every app serves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from kinoteka import app as app_module
from kinoteka.app import create_app
from kinoteka.clients import build_services
from kinoteka.infra.footprint import StoreUrls
from kinoteka.mounting import ContextMount
from kinoteka.services import Services
from kinoteka.settings import load_settings


async def test_a_lifespan_shared_by_two_contexts_runs_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    entries: list[str] = []

    @asynccontextmanager
    async def shared(services: Services) -> AsyncIterator[None]:
        entries.append("shared")
        yield

    @asynccontextmanager
    async def own(services: Services) -> AsyncIterator[None]:
        entries.append("own")
        yield

    def install(app: FastAPI, services: Services) -> None:
        return None

    mounts = [
        ContextMount("one", install, lifespan=shared),
        ContextMount("two", install, lifespan=shared, background=own),
    ]
    monkeypatch.setattr(app_module, "available_contexts", lambda: {m.name: m for m in mounts})
    urls = StoreUrls("postgresql://unused/unused", "redis://unused", "tantivy:///unused", "")
    services = build_services(load_settings(), urls)
    application = create_app(services, run_background=True)
    async with application.router.lifespan_context(application):
        pass
    assert entries == ["shared", "own"]


async def test_background_workers_stop_before_the_clients_close(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events: list[str] = []

    @asynccontextmanager
    async def worker(services: Services) -> AsyncIterator[None]:
        yield
        events.append("worker stopped")

    def install(app: FastAPI, services: Services) -> None:
        return None

    mounts = [ContextMount("one", install, background=worker)]
    monkeypatch.setattr(app_module, "available_contexts", lambda: {m.name: m for m in mounts})
    urls = StoreUrls("postgresql://unused/unused", "redis://unused", "tantivy:///unused", "")
    services = build_services(load_settings(), urls)
    closing = services.close

    async def close() -> None:
        events.append("services closed")
        await closing()

    monkeypatch.setattr(services, "close", close)
    application = create_app(services, run_background=True)
    async with application.router.lifespan_context(application):
        assert events == []
    assert events == ["worker stopped", "services closed"]


def _mounting(monkeypatch: pytest.MonkeyPatch, *mounts: ContextMount) -> None:
    monkeypatch.setattr(app_module, "available_contexts", lambda: {m.name: m for m in mounts})


def _install_nothing(app: FastAPI, services: Services) -> None:
    return None


def test_clients_open_only_for_the_contexts_that_use_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _mounting(
        monkeypatch,
        ContextMount("reader", _install_nothing, uses=("storage",)),
        ContextMount("other", _install_nothing),
    )
    urls = StoreUrls(
        "postgresql://unused/unused", "redis://unused", "tantivy:///unused", f"file://{tmp_path}"
    )
    services = build_services(load_settings(), urls)
    assert set(services.health_checks) == {"postgres", "redis"}
    create_app(services, ["other"])
    assert set(services.health_checks) == {"postgres", "redis"}
    create_app(services, ["reader"])
    assert set(services.health_checks) == {"postgres", "redis", "storage"}


async def test_the_app_serves_the_local_storages_signed_route_for_its_users(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _mounting(
        monkeypatch,
        ContextMount("reader", _install_nothing, uses=("storage",)),
        ContextMount("other", _install_nothing),
    )
    urls = StoreUrls(
        "postgresql://unused/unused", "redis://unused", "tantivy:///unused", f"file://{tmp_path}"
    )
    services = build_services(load_settings(), urls)
    await services.storage.prepare()
    await services.storage.put("posters/a.txt", b"hello", content_type="text/plain")
    signed = await services.storage.presigned_url("posters/a.txt", expires_in=60)
    for contexts, status in ((["reader"], 200), (["other"], 404)):
        app = create_app(services, contexts)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            response = await client.get(signed)
            assert response.status_code == status
            if status == 200:
                assert response.content == b"hello"
                tampered = await client.get(signed.replace("a.txt", "b.txt"))
                assert tampered.status_code == 403


async def test_the_request_id_is_one_header_bound_to_the_logs_and_made_when_unusable() -> None:
    from fastapi.responses import JSONResponse
    from structlog.contextvars import get_contextvars

    from kinoteka.app import RequestIdMiddleware

    inner = FastAPI()
    inner.add_middleware(RequestIdMiddleware)

    @inner.get("/named")
    async def named() -> JSONResponse:
        # As the error handlers do: the app names the id itself.
        bound = get_contextvars().get("request_id")
        return JSONResponse({"bound": bound}, headers={"X-Request-Id": str(bound)})

    transport = httpx.ASGITransport(app=inner)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        given = await client.get("/named", headers={"X-Request-Id": "req-7"})
        assert given.headers.get_list("x-request-id") == ["req-7"]
        assert given.json() == {"bound": "req-7"}
        too_long = await client.get("/named", headers={"X-Request-Id": "x" * 129})
        made = too_long.headers.get_list("x-request-id")
        assert len(made) == 1
        assert len(made[0]) == 32
        assert int(made[0], 16) >= 0  # hexadecimal
        assert too_long.json() == {"bound": made[0]}
        other = await client.get("/named")
        assert other.headers["x-request-id"] not in ("", made[0])
    assert "request_id" not in get_contextvars()
