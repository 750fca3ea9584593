"""How notify joins the app: its routers over the shared kit (`services.notify`), its
announcements page in the back office (`/admin/notify`), and under `kinoteka up` the worker
(consumers, outbox relay, broadcast scheduler) beside the API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI

from kinoteka.mounting import AdminSection, ContextMount
from kinoteka.notify import api
from kinoteka.notify.worker import run_worker
from kinoteka.services import Services


def install_notify(app: FastAPI, services: Services) -> None:
    api.install(app)


@asynccontextmanager
async def notify_worker(services: Services) -> AsyncIterator[None]:
    task = asyncio.create_task(run_worker(services.notify), name="notify-worker")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def notify_admin(services: Services) -> Sequence[AdminSection]:
    # SQLAdmin loads only where the admin is mounted.
    from kinoteka.notify.admin import announcement_sections

    return announcement_sections(services)


def notify_mount() -> ContextMount:
    return ContextMount(
        name="notify", install=install_notify, background=notify_worker, uses=("notify",),
        admin=notify_admin,
    )  # fmt: skip
