"""The notification port's types, apart from `from_url` so adapters import no factory."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Message:
    recipient: str
    kind: str
    subject: str
    body: str
    data: dict[str, str] = field(default_factory=dict)


class Notifier(Protocol):
    async def send(self, message: Message) -> None: ...
