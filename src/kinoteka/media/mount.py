"""How media joins the app: the tus upload endpoint, playback, the signed media route, the
admin control's scripts; it uses the shared storage and the task sender (`services.tasks`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import structlog
from fastapi import FastAPI

from kinoteka.infra.outage import StoreUnavailable
from kinoteka.mounting import ContextMount
from kinoteka.services import Services

log = structlog.get_logger(__name__)

EXPIRY_SWEEP_SECONDS = 3600


def install_media(app: FastAPI, services: Services) -> None:
    from kinoteka.media.admin_panel import static_router
    from kinoteka.media.api import MediaServiceError, media_error_handler, router
    from kinoteka.media.playback import playback_router
    from kinoteka.media.upload import build_router

    app.include_router(router)
    app.include_router(build_router())
    app.include_router(playback_router())
    app.include_router(static_router())
    app.add_exception_handler(MediaServiceError, media_error_handler)


@asynccontextmanager
async def media_lifespan(services: Services) -> AsyncIterator[None]:
    from kinoteka.media.upload import remove_expired_uploads

    await services.storage.prepare()
    await anyio.Path(services.settings.data_dir / "uploads").mkdir(parents=True, exist_ok=True)

    async def sweep_expired() -> None:
        while True:
            try:
                await remove_expired_uploads(services)
            except StoreUnavailable as error:  # an outage: one line, no traceback
                log.warning("media.upload_sweep_failed", store=error.store, error=str(error))
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
    return ContextMount("media", install_media, lifespan=media_lifespan, uses=("storage", "tasks"))
