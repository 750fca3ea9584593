"""How notify joins the app: its routers over the shared kit (`services.notify`), and under
`kinoteka up` the worker (consumers, outbox relay, broadcast scheduler) beside the API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from kinoteka.mounting import ContextMount
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


def notify_mount() -> ContextMount:
    return ContextMount(
        name="notify", install=install_notify, background=notify_worker, uses=("notify",)
    )
