"""A media worker process: the Celery worker of one queue, plus (on `transcoding`) the sweep
that re-sends jobs whose worker died, for brokers that would otherwise wait out a long
visibility timeout."""

from __future__ import annotations

import asyncio
import os
import socket
import threading

import structlog

from kinoteka.infra import tasks as tasks_port
from kinoteka.infra.footprint import StoreUrls
from kinoteka.infra.outage import StoreUnavailable
from kinoteka.infra.tasks import WorkerRuntime
from kinoteka.media import jobs
from kinoteka.settings import Settings

log = structlog.get_logger(__name__)


def run(settings: Settings, urls: StoreUrls, queues: list[str]) -> None:
    import kinoteka.media.tasks  # noqa: F401 - registers the media tasks

    runtime = WorkerRuntime(settings, urls)
    stop = threading.Event()
    sweeper = None
    if "transcoding" in queues:
        sweeper = threading.Thread(target=_sweep_loop, args=(runtime, stop), daemon=True)
        sweeper.start()
    hostname = f"{'+'.join(queues)}-{os.getpid()}@{socket.gethostname()}"
    try:
        tasks_port.run_worker(
            queues, runtime=runtime, visibility_timeout=settings.media.visibility_timeout,
            hostname=hostname,
        )  # fmt: skip
    finally:
        stop.set()
        if sweeper is not None:
            sweeper.join(timeout=10)


def _sweep_loop(runtime: WorkerRuntime, stop: threading.Event) -> None:
    async def once() -> int:
        async with jobs.open_env(runtime) as env:
            return await jobs.sweep(env)

    while not stop.wait(runtime.settings.media.sweep_interval):
        try:
            resent = asyncio.run(once())
        except StoreUnavailable as error:  # an outage: one line, the next sweep tries again
            log.warning("media.sweep_failed", store=error.store, error=str(error))
            continue
        except Exception:  # the next sweep tries again; the worker itself goes on
            log.warning("media.sweep_failed", exc_info=True)
            continue
        if resent:
            log.info("media.sweep", resent=resent)
