"""Redis adapter of the cache port (redis.asyncio)."""

from __future__ import annotations

from redis.asyncio import Redis


class RedisCache:
    def __init__(self, client: Redis) -> None:
        self.client = client

    @classmethod
    def from_url(cls, url: str) -> RedisCache:
        return cls(Redis.from_url(url))

    async def get(self, key: str) -> bytes | None:
        value: bytes | str | None = await self.client.get(key)
        return value.encode() if isinstance(value, str) else value

    async def get_many(self, *keys: str) -> list[bytes | None]:
        """The values of `keys` in order (None where missing), in one MGET."""
        if not keys:
            return []
        values: list[bytes | str | None] = await self.client.mget(keys)
        return [value.encode() if isinstance(value, str) else value for value in values]

    async def set(self, key: str, value: bytes | str, *, ttl: float | None = None) -> None:
        if ttl is None:
            await self.client.set(key, value)
        else:
            await self.client.set(key, value, px=max(1, int(ttl * 1000)))

    async def delete(self, *keys: str) -> int:
        if not keys:
            return 0
        removed: int = await self.client.delete(*keys)
        return removed

    async def exists(self, key: str) -> bool:
        return bool(await self.client.exists(key))

    async def incr(self, key: str, amount: int = 1) -> int:
        value: int = await self.client.incrby(key, amount)
        return value

    async def ping(self) -> None:
        await self.client.ping()

    async def close(self) -> None:
        await self.client.aclose()
