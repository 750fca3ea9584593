"""How the catalog joins the app: `catalog` serves the read API, `admin` the back office.

Both use the shared object storage (`services.storage`, opened by the app, which also serves
the storage's own signed route when it has one) and the poster links; `kinoteka up` mounts
both, `kinoteka serve admin` runs the panel alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from kinoteka.catalog.api import install_movies_api, posters_router
from kinoteka.mounting import ContextMount
from kinoteka.services import Services


def install_poster_links(app: FastAPI) -> None:
    """The poster links, once per app (both catalog and admin show posters)."""
    if getattr(app.state, "catalog_poster_links", False):
        return
    app.state.catalog_poster_links = True
    app.include_router(posters_router)


@asynccontextmanager
async def storage_lifespan(services: Services) -> AsyncIterator[None]:
    await services.storage.prepare()
    yield


def install_catalog(app: FastAPI, services: Services) -> None:
    install_movies_api(app)
    install_poster_links(app)


def install_admin_panel(app: FastAPI, services: Services) -> None:
    from kinoteka.catalog.admin import install_admin

    install_poster_links(app)
    install_admin(app, services)


def catalog_mount() -> ContextMount:
    return ContextMount("catalog", install_catalog, lifespan=storage_lifespan, uses=("storage",))


def admin_mount() -> ContextMount:
    return ContextMount("admin", install_admin_panel, lifespan=storage_lifespan, uses=("storage",))
