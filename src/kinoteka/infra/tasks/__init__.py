"""Background tasks port: contexts declare tasks here, Celery (in `celery.py`) runs them.

A context declares a task with `@task(name, queue=…, soft_time_limit=…)` on a plain function
taking a `WorkerRuntime` first and keyword arguments (ids, never objects) after; it sends one
through a `TaskQueue` (`send(name, kwargs, queue=)`), built by `from_url(redis_url, …)`.
Adapters implement `TaskQueue`: `send` and `close`. Only this package imports Celery.

Queues and their worker concurrency are fixed in `QUEUES`: `transcoding` (2), `thumbnails` (4),
`indexing` (4).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # kept light: `kinoteka worker --help` reads QUEUES without the settings
    from kinoteka.infra.footprint import StoreUrls
    from kinoteka.settings import Settings

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

QUEUES: dict[str, int] = {"transcoding": 2, "thumbnails": 4, "indexing": 4}
"""Every queue and how many tasks of it one worker runs at once."""


@dataclass(frozen=True)
class WorkerRuntime:
    """What a task needs to reach the stores: the settings and where each store answers."""

    settings: Settings
    urls: StoreUrls


TaskFunction = Callable[..., None]


@dataclass(frozen=True)
class TaskSpec:
    name: str
    queue: str
    soft_time_limit: int
    function: TaskFunction


_REGISTRY: dict[str, TaskSpec] = {}


def task(name: str, *, queue: str, soft_time_limit: int) -> Callable[[TaskFunction], TaskFunction]:
    """Declare `function(runtime, **kwargs)` as the task `name` routed to `queue`."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}; known: {', '.join(QUEUES)}")

    def register(function: TaskFunction) -> TaskFunction:
        _REGISTRY[name] = TaskSpec(name, queue, soft_time_limit, function)
        return function

    return register


def registered_tasks() -> Mapping[str, TaskSpec]:
    return dict(_REGISTRY)


class TaskQueue(Protocol):
    def send(self, name: str, kwargs: Mapping[str, Any], *, queue: str) -> None:
        """Enqueue task `name`; returns once the broker has the message."""

    def close(self) -> None: ...


def broker_url(redis_url: str) -> str:
    """The Redis URL as Celery's broker URL (`unix:///x.sock` is `redis+socket:///x.sock`)."""
    if redis_url.startswith("unix://"):
        return "redis+socket://" + redis_url.removeprefix("unix://")
    return redis_url


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
