"""The bus port's types: what every event-log adapter implements (see the package docstring)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class BusError(Exception):
    """The bus could not take or give messages (down, unreachable, refused)."""


@dataclass(frozen=True)
class Delivery:
    """One message handed to a consumer: acknowledge it with `EventBus.ack` once handled."""

    topic: str
    id: str
    body: bytes


class EventBus(Protocol):
    async def publish(self, topic: str, bodies: Sequence[bytes]) -> None: ...

    async def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None: ...

    async def subscribe(self, topics: Sequence[str], group: str) -> None: ...

    async def receive(
        self,
        topics: Sequence[str],
        group: str,
        consumer: str,
        *,
        max_count: int,
        wait_seconds: float,
    ) -> list[Delivery]: ...

    async def ack(self, group: str, deliveries: Sequence[Delivery]) -> None: ...

    async def reclaim(
        self,
        topics: Sequence[str],
        group: str,
        consumer: str,
        *,
        min_idle_seconds: float,
        max_count: int,
    ) -> list[Delivery]: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...
