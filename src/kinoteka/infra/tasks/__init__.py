"""Background tasks port: contexts declare tasks here, Celery (in `celery.py`) runs them.

A context declares a task with `@task(name, queue=…, soft_time_limit=…)` on a plain function
taking a `WorkerRuntime` first and keyword arguments (ids, never objects) after; it sends one
through a `TaskQueue` (`send(name, kwargs, queue=)`), built by `from_url(redis_url, …)`.
Adapters implement `TaskQueue`: `send` and `close`. Only this package imports Celery.

Queues and their worker concurrency are fixed in `QUEUES`: `transcoding` (2), `thumbnails` (4),
`indexing` (4).
"""

from __future__ import annotations

from kinoteka.infra.tasks.port import (
    QUEUES,
    TaskQueue,
    TaskSpec,
    WorkerRuntime,
    broker_url,
    registered_tasks,
    task,
)

__all__ = [
    "QUEUES",
    "TaskQueue",
    "TaskSpec",
    "WorkerRuntime",
    "broker_url",
    "from_url",
    "registered_tasks",
    "run_worker",
    "task",
]


def from_url(redis_url: str, *, visibility_timeout: int) -> TaskQueue:
    """A sender of tasks to the broker at `redis_url` (nothing connects until the first send)."""
    from kinoteka.infra.tasks.celery import CeleryQueue, celery_app

    return CeleryQueue(celery_app(redis_url, visibility_timeout=visibility_timeout))


def run_worker(
    queues: list[str], *, runtime: WorkerRuntime, visibility_timeout: int, hostname: str
) -> None:
    """Run the registered tasks of `queues` in this process until stopped (SIGTERM)."""
    from kinoteka.infra.tasks.celery import celery_app
    from kinoteka.infra.tasks.celery import run_worker as run

    app = celery_app(
        runtime.urls.redis_url,
        visibility_timeout=visibility_timeout,
        runtime=runtime,
        tasks=registered_tasks(),
    )
    run(app, queues, hostname=hostname)
