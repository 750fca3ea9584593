"""The broker's types: what a publisher hands over and what a consumer's handler receives."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class RetryPolicy:
    """A failed message is retried after `base_delay * 2**(attempt-1)` seconds (capped at
    `max_delay`); after `max_attempts` deliveries it is parked in the dead-letter queue."""

    max_attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 300.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before delivery number `attempt + 1`, after `attempt` failed."""
        return float(min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))


@dataclass(frozen=True)
class Delivery:
    """One delivery of a message to a consumer group; `attempt` counts from 1."""

    message_id: str
    topic: str
    body: bytes
    attempt: int = 1
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    topic: str
    body: bytes
    attempts: int
    error: str
    failed_at: dt.datetime


Handler = Callable[[Delivery], Awaitable[None]]
"""Returns when the message is handled (it is acknowledged); raising schedules a retry."""


class Broker(Protocol):
    async def declare(self, topic: str, group: str) -> None: ...

    async def publish(
        self, topic: str, body: bytes, *, message_id: str, headers: Mapping[str, str] | None = None
    ) -> None: ...

    async def consume(
        self, topic: str, group: str, handler: Handler, *, retry: RetryPolicy | None = None
    ) -> None: ...

    async def dead_letters(
        self, topic: str, group: str, *, limit: int = 100
    ) -> list[DeadLetter]: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


class BrokerError(Exception):
    """The broker could not take or hand out a message."""
