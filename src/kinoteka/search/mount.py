"""How search joins the app: the shared index client (`services.search`) and, under
`kinoteka up`, the follower keeping the index in step with the catalog in the background.

Other contexts (the content API) read through `attach_search(services)`; to invalidate a cache
over search results they compare `await services.search.version()` with the version the cache
was filled under: it moves on every acknowledged write batch and every rebuild.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI

from kinoteka.app import ContextMount
from kinoteka.infra.search import SearchIndex
from kinoteka.search.service import catalog_sync, open_index
from kinoteka.services import Services

log = structlog.get_logger(__name__)


def attach_search(services: Services) -> SearchIndex:
    """The shared search index client, opened on first use and closed with the services."""
    if services.search is None:
        index = open_index(services.urls.search_url, services.settings.search)
        services.search = index
        services.closers.append(index.close)
        services.health_checks["search"] = index.ping
    return services.search


def install_search(app: FastAPI, services: Services) -> None:
    attach_search(services)


@asynccontextmanager
async def search_lifespan(services: Services) -> AsyncIterator[None]:
    await attach_search(services).ensure_indexes()
    yield


@asynccontextmanager
async def follower(services: Services) -> AsyncIterator[None]:
    """Run the sync follower (checkpoint in PostgreSQL) beside the API until shutdown."""
    index = attach_search(services)
    sync = catalog_sync(services.db, index, services.urls.search_url, services.settings.search)
    stop = asyncio.Event()

    async def run() -> None:
        try:
            await sync.follow(stop)
        except Exception:
            log.exception("sync.follower_failed")
            raise

    task = asyncio.create_task(run(), name="search-follower")
    try:
        yield
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, timeout=10)
        except TimeoutError:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def search_mount() -> ContextMount:
    return ContextMount(
        name="search", install=install_search, lifespan=search_lifespan, background=follower
    )
