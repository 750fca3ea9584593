"""The cache port's types, apart from `from_url` so the adapter imports no factory."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, Field

from kinoteka.infra.outage import StoreUnavailable


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
