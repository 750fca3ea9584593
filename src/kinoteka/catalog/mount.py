"""How the catalog joins the app: `catalog` serves the read API, `admin` the back office.

Both share the object storage client (built on first install, closed with the services) and
the poster links; `kinoteka up` mounts both, `kinoteka serve admin` runs the panel alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from kinoteka.app import ContextMount
from kinoteka.catalog.api import install_movies_api, posters_router
from kinoteka.infra import storage as storage_port
from kinoteka.infra.storage import ObjectStorage
from kinoteka.infra.storage.local import LocalStorage
from kinoteka.infra.storage.serving import storage_router
from kinoteka.services import Services


def attach_storage(services: Services) -> ObjectStorage:
    """The shared storage client, created on first use (nothing connects yet)."""
    if services.storage is None:
        storage = storage_port.from_url(
            services.urls.storage_url, secret=services.settings.secret_key.get_secret_value()
        )
        services.storage = storage
        services.closers.append(storage.close)
        services.health_checks["storage"] = storage.ping
    return services.storage


def install_storage_routes(app: FastAPI, services: Services) -> None:
    """Poster links and, for the local adapter, its signed download route (once per app)."""
    if getattr(app.state, "catalog_storage_routes", False):
        return
    app.state.catalog_storage_routes = True
    storage = attach_storage(services)
    app.include_router(posters_router)
    if isinstance(storage, LocalStorage):
        app.include_router(storage_router(storage))


@asynccontextmanager
async def storage_lifespan(services: Services) -> AsyncIterator[None]:
    await attach_storage(services).prepare()
    yield


def install_catalog(app: FastAPI, services: Services) -> None:
    install_movies_api(app)
    install_storage_routes(app, services)


def install_admin_panel(app: FastAPI, services: Services) -> None:
    from kinoteka.catalog.admin import install_admin

    install_storage_routes(app, services)
    install_admin(app, services)


def catalog_mount() -> ContextMount:
    return ContextMount("catalog", install_catalog, lifespan=storage_lifespan)


def admin_mount() -> ContextMount:
    return ContextMount("admin", install_admin_panel, lifespan=storage_lifespan)
