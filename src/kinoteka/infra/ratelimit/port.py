"""The rate-limit port's types, apart from `from_url` so the adapter imports no factory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    retry_after: int = 0
    """Whole seconds until a hit would be allowed again (0 when allowed)."""


class RateLimiter(Protocol):
    async def hit(self, rule: str, *identity: str) -> RateDecision: ...

    async def reset(self, rule: str, *identity: str) -> None: ...

    async def close(self) -> None: ...
