"""How media joins the app: the tus upload endpoint, playback, the signed media route.

Shares the storage client with the catalog (`services.storage`) and adds the task sender
(`services.tasks`), both created on first use and closed with the services.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import structlog
from fastapi import FastAPI

from kinoteka.app import ContextMount
from kinoteka.infra import storage as storage_port
from kinoteka.infra import tasks as tasks_port
from kinoteka.infra.storage import ObjectStorage
from kinoteka.infra.tasks import TaskQueue
from kinoteka.services import Services

log = structlog.get_logger(__name__)


def attach_storage(services: Services) -> ObjectStorage:
    """The shared storage client (the same one the catalog attaches)."""
    if services.storage is None:
        storage = storage_port.from_url(
            services.urls.storage_url, secret=services.settings.secret_key.get_secret_value()
        )
        services.storage = storage
        services.closers.append(storage.close)
        services.health_checks["storage"] = storage.ping
    return services.storage


def attach_tasks(services: Services) -> TaskQueue:
    """The task sender on the Redis broker (connects on the first send)."""
    if services.tasks is None:
        queue = tasks_port.from_url(
            services.urls.redis_url, visibility_timeout=services.settings.media.visibility_timeout
        )
        services.tasks = queue

        async def close() -> None:
            await anyio.to_thread.run_sync(queue.close)

        services.closers.append(close)
    return services.tasks


def install_media(app: FastAPI, services: Services) -> None:
    from kinoteka.media.admin_panel import static_router
    from kinoteka.media.api import MediaServiceError, media_error_handler, router
    from kinoteka.media.playback import playback_router
    from kinoteka.media.upload import build_router

    attach_storage(services)
    app.include_router(router)
    app.include_router(build_router())
    app.include_router(playback_router())
    app.include_router(static_router())
    app.add_exception_handler(MediaServiceError, media_error_handler)


EXPIRY_SWEEP_SECONDS = 3600


@asynccontextmanager
async def media_lifespan(services: Services) -> AsyncIterator[None]:
    from kinoteka.media.upload import remove_expired_uploads

    await attach_storage(services).prepare()
    await anyio.Path(services.settings.data_dir / "uploads").mkdir(parents=True, exist_ok=True)

    async def sweep_expired() -> None:
        while True:
            try:
                await remove_expired_uploads(services)
            except Exception:  # the next sweep tries again; uploads keep working
                log.warning("media.upload_sweep_failed", exc_info=True)
            await anyio.sleep(EXPIRY_SWEEP_SECONDS)

    async with anyio.create_task_group() as group:
        group.start_soon(sweep_expired)
        try:
            yield
        finally:
            group.cancel_scope.cancel()


def media_mount() -> ContextMount:
    return ContextMount("media", install_media, lifespan=media_lifespan)
