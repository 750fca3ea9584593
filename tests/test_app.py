"""The app factory: contexts, their lifespans, and what every app serves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

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
