"""The tasks port's types: queues, task declarations, the sender protocol (see the package)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # kept light: `kinoteka worker --help` reads QUEUES without the settings
    from kinoteka.infra.footprint import StoreUrls
    from kinoteka.settings import Settings


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
