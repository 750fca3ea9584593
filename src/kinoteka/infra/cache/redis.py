"""Redis adapter of the cache port (redis.asyncio), its errors translated to `CacheUnavailable`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from kinoteka.infra.cache.port import CacheSettings, CacheUnavailable


def client_options(settings: CacheSettings) -> dict[str, Any]:
    """Keyword arguments bounding every call of a redis-py client by `settings`.

    One immediate retry on a dropped connection (a pooled socket to a server that restarted),
    none on a timeout: a frozen server then costs one `socket_timeout`, not four with backoff.
    """
    return {
        "socket_timeout": settings.socket_timeout,
        "socket_connect_timeout": settings.connect_timeout,
        "retry": Retry(NoBackoff(), retries=1, supported_errors=(RedisConnectionError,)),
    }


@asynccontextmanager
async def translated() -> AsyncIterator[None]:
    """Redis connection errors and timeouts, raised as the port's `CacheUnavailable`."""
    try:
        yield
    except RedisTimeoutError as error:
        raise CacheUnavailable(f"redis did not answer in time: {error}") from error
    except (RedisConnectionError, OSError) as error:
        raise CacheUnavailable(f"redis is unreachable: {error}") from error


class RedisCache:
    def __init__(self, client: Redis) -> None:
        self.client = client

    @classmethod
    def from_url(cls, url: str, settings: CacheSettings | None = None) -> RedisCache:
        return cls(Redis.from_url(url, **client_options(settings or CacheSettings())))

    async def get(self, key: str) -> bytes | None:
        async with translated():
            value: bytes | str | None = await self.client.get(key)
        return value.encode() if isinstance(value, str) else value

    async def get_many(self, *keys: str) -> list[bytes | None]:
        """The values of `keys` in order (None where missing), in one MGET."""
        if not keys:
            return []
        async with translated():
            values: list[bytes | str | None] = await self.client.mget(keys)
        return [value.encode() if isinstance(value, str) else value for value in values]

    async def set(self, key: str, value: bytes | str, *, ttl: float | None = None) -> None:
        async with translated():
            if ttl is None:
                await self.client.set(key, value)
            else:
                await self.client.set(key, value, px=max(1, int(ttl * 1000)))

    async def delete(self, *keys: str) -> int:
        if not keys:
            return 0
        async with translated():
            removed: int = await self.client.delete(*keys)
        return removed

    async def exists(self, key: str) -> bool:
        async with translated():
            return bool(await self.client.exists(key))

    async def incr(self, key: str, amount: int = 1) -> int:
        async with translated():
            value: int = await self.client.incrby(key, amount)
        return value

    async def ping(self) -> None:
        async with translated():
            await self.client.ping()

    async def close(self) -> None:
        await self.client.aclose()
