"""`limits` adapter of the rate-limit port: moving windows in Redis (or in memory)."""

from __future__ import annotations

import math
import time
from functools import lru_cache
from urllib.parse import urlsplit

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from kinoteka.infra.ratelimit.port import RateDecision


def storage_uri(url: str) -> str:
    """The `limits` async storage URI of a redis://, rediss://, unix:// or memory:// URL."""
    parts = urlsplit(url)
    schemes = {
        "redis": "async+redis",
        "rediss": "async+rediss",
        "unix": "async+redis+unix",
        "memory": "async+memory",
    }
    if parts.scheme not in schemes:
        raise ValueError(f"unsupported rate-limit store URL scheme {parts.scheme!r}")
    # Plain text surgery: urlunsplit would drop the empty authority of unix:///path.
    return schemes[parts.scheme] + url[len(parts.scheme) :]


@lru_cache(maxsize=256)
def parse_rule(rule: str) -> RateLimitItem:
    return parse(rule)


class LimitsRateLimiter:
    def __init__(self, storage: Storage, namespace: str) -> None:
        self.storage = storage
        self.namespace = namespace
        self.strategy = MovingWindowRateLimiter(storage)

    @classmethod
    def from_url(cls, url: str, *, namespace: str = "kinoteka") -> LimitsRateLimiter:
        uri = storage_uri(url)
        storage: Storage
        if uri.startswith("async+memory"):
            storage = MemoryStorage()
        else:
            storage = RedisStorage(uri, implementation="redispy", key_prefix=f"{namespace}:limits")
        return cls(storage, namespace)

    async def hit(self, rule: str, *identity: str) -> RateDecision:
        item = parse_rule(rule)
        if await self.strategy.hit(item, *identity):
            return RateDecision(allowed=True)
        stats = await self.strategy.get_window_stats(item, *identity)
        return RateDecision(
            allowed=False, retry_after=max(1, math.ceil(stats.reset_time - time.time()))
        )

    async def reset(self, rule: str, *identity: str) -> None:
        await self.strategy.clear(parse_rule(rule), *identity)

    async def close(self) -> None:
        # The redis-py bridge owns a connection pool; dropping it closes the sockets.
        bridge = getattr(self.storage, "bridge", None)
        storage = getattr(bridge, "storage", None)
        if storage is not None:
            await storage.aclose()
