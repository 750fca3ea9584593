"""The Celery adapter of the tasks port: the app, its reliability settings, the worker.

Reliability: `acks_late` with `reject_on_worker_lost`, so a task whose worker dies is
delivered again; the Redis broker's `visibility_timeout` redelivers a task whose whole worker
(parent included) vanished; `worker_prefetch_multiplier=1`, so a long transcode does not hold
back queued tasks another worker could run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from celery import Celery

from kinoteka.infra.tasks.port import QUEUES, TaskSpec, WorkerRuntime, broker_url


def celery_app(
    redis_url: str,
    *,
    visibility_timeout: int,
    runtime: WorkerRuntime | None = None,
    tasks: Mapping[str, TaskSpec] | None = None,
) -> Celery:
    """A Celery app on the Redis broker; with `runtime`, `tasks` are registered to run here."""
    app = Celery("kinoteka", broker=broker_url(redis_url), set_as_current=False)
    app.conf.update(
        broker_transport_options={"visibility_timeout": visibility_timeout},
        broker_connection_retry_on_startup=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        task_default_queue="transcoding",
        task_serializer="json",
        accept_content=["json"],
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_send_task_events=False,
        enable_utc=True,
    )
    for spec in (tasks or {}).values():
        _register(app, spec, runtime)
    return app


def _register(app: Celery, spec: TaskSpec, runtime: WorkerRuntime | None) -> None:
    function = spec.function

    def run(**kwargs: Any) -> None:
        if runtime is None:
            raise RuntimeError(f"task {spec.name} runs only in a worker built with a runtime")
        function(runtime, **kwargs)

    run.__name__ = function.__name__
    run.__qualname__ = function.__qualname__
    run.__doc__ = function.__doc__
    app.task(
        name=spec.name,
        queue=spec.queue,
        soft_time_limit=spec.soft_time_limit,
        acks_late=True,
        reject_on_worker_lost=True,
        ignore_result=True,
        typing=False,
    )(run)


class CeleryQueue:
    def __init__(self, app: Celery) -> None:
        self.app = app

    def send(self, name: str, kwargs: Mapping[str, Any], *, queue: str) -> None:
        self.app.send_task(name, kwargs=dict(kwargs), queue=queue)

    def close(self) -> None:
        self.app.close()


def worker_argv(queues: Sequence[str], *, hostname: str) -> list[str]:
    """The `celery worker` arguments running `queues` with their summed concurrency."""
    unknown = [queue for queue in queues if queue not in QUEUES]
    if unknown:
        raise ValueError(f"unknown queue(s) {', '.join(unknown)}; known: {', '.join(QUEUES)}")
    concurrency = sum(QUEUES[queue] for queue in queues)
    return [
        "worker",
        "--queues", ",".join(queues),
        "--concurrency", str(concurrency),
        "--pool", "prefork",
        "--hostname", hostname,
        "--without-gossip",
        "--without-mingle",
        "--loglevel", "INFO",
    ]  # fmt: skip


def run_worker(app: Celery, queues: Sequence[str], *, hostname: str) -> None:
    """Run a worker in this process until it is stopped (SIGTERM: warm shutdown)."""
    app.worker_main(worker_argv(queues, hostname=hostname))
