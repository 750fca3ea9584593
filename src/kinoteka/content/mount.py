"""How the content API joins an app: its routes, and the search index it reads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from kinoteka.app import ContextMount
from kinoteka.content import api
from kinoteka.infra import search as search_port
from kinoteka.search.documents import SearchIndexes
from kinoteka.services import Services


def install(app: FastAPI, services: Services) -> None:
    api.install(app)


@asynccontextmanager
async def lifespan(services: Services) -> AsyncIterator[None]:
    """Open the index unless another context (search) already did in this process."""
    if services.search is not None:
        yield
        return
    definitions = SearchIndexes.named(services.settings.search.indexes).all()
    index = search_port.from_url(services.urls.search_url, definitions)
    services.search = index
    services.health_checks.setdefault("search", index.ping)
    try:
        yield
    finally:
        services.search = None
        await index.close()


def content_mount() -> ContextMount:
    return ContextMount(name="content", install=install, lifespan=lifespan)
