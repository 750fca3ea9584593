"""Rate-limit port: count hits of a rule per identity and say when the next one is allowed.

Every adapter implements `RateLimiter`: `hit(rule, *identity)` records one hit and returns a
`RateDecision` (allowed, and seconds until a hit would be allowed again when it is not);
`reset(rule, *identity)` forgets the counts; `close()`. Rules use the `limits` notation
(`10/minute`, `5 per hour`). The one adapter is the `limits` library's moving window on Redis
(embedded or server); `from_url()` takes the same `redis://`, `rediss://`, `unix://` URLs as the
cache port, or `memory://` for a single process.
"""

from __future__ import annotations

from kinoteka.infra.ratelimit.port import (
    RateDecision,
    RateLimiter,
)

__all__ = [
    "RateDecision",
    "RateLimiter",
    "from_url",
]


def from_url(url: str, *, namespace: str = "kinoteka") -> RateLimiter:
    from kinoteka.infra.ratelimit.limits import LimitsRateLimiter

    return LimitsRateLimiter.from_url(url, namespace=namespace)
