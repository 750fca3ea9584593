"""How notify joins the app: its routers, and under `kinoteka up` the worker (consumers,
outbox relay, broadcast scheduler) running beside the API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI

from kinoteka.app import ContextMount
from kinoteka.notify import api
from kinoteka.notify.kit import NotifyKit, build_notify_kit
from kinoteka.notify.worker import run_worker
from kinoteka.services import Services

log = structlog.get_logger(__name__)


class _Kits:
    """One kit per `Services`, opened on first use and closed with it."""

    def __init__(self) -> None:
        self._services: Services | None = None
        self._kit: NotifyKit | None = None

    def open(self, services: Services) -> NotifyKit:
        if self._kit is None or self._services is not services:
            kit = build_notify_kit(services.settings, services.db, services.urls.redis_url)
            services.closers.append(kit.close)
            services.health_checks["broker"] = kit.broker.ping
            self._services, self._kit = services, kit
        return self._kit


def notify_mount() -> ContextMount:
    kits = _Kits()

    def install(app: FastAPI, services: Services) -> None:
        api.install(app, kits.open(services))

    @asynccontextmanager
    async def worker(services: Services) -> AsyncIterator[None]:
        task = asyncio.create_task(run_worker(kits.open(services)), name="notify-worker")
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    return ContextMount(name="notify", install=install, background=worker)
