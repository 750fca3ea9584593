"""How search joins the app: the indexes made sure of at start-up and, under `kinoteka up`,
the follower keeping the index in step with the catalog in the background.

The index client itself is `services.search`, opened by the app for every context that uses
it; readers (the content API) invalidate a cache over search results by comparing
`await services.search.version()` with the version the cache was filled under: it moves on
every acknowledged write batch and every rebuild.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI

from kinoteka.mounting import ContextMount
from kinoteka.search.service import catalog_sync
from kinoteka.services import Services

log = structlog.get_logger(__name__)


def install_search(app: FastAPI, services: Services) -> None:
    """Search serves no routes of its own; its index is opened by the app (`uses`)."""


@asynccontextmanager
async def search_lifespan(services: Services) -> AsyncIterator[None]:
    await services.search.ensure_indexes()
    yield


@asynccontextmanager
async def follower(services: Services) -> AsyncIterator[None]:
    """Run the sync follower (checkpoint in PostgreSQL) beside the API until shutdown."""
    sync = catalog_sync(
        services.db, services.search, services.urls.search_url, services.settings.search
    )
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
        name="search",
        install=install_search,
        lifespan=search_lifespan,
        background=follower,
        uses=("search",),
    )
