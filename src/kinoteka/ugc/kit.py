"""What the UGC context runs on: its document store and its write rate limiter."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kinoteka.infra import documents as documents_port
from kinoteka.infra import ratelimit
from kinoteka.infra.cache import CacheSettings
from kinoteka.infra.db import Database
from kinoteka.infra.footprint import StoreUrls
from kinoteka.infra.ratelimit import RateLimiter
from kinoteka.services import Services
from kinoteka.ugc.errors import TooManyWrites
from kinoteka.ugc.settings import UgcSettings
from kinoteka.ugc.stats_cache import StatsCachingStore

KNOWN_FILMS_TTL = 60.0
KNOWN_FILMS_MAX = 100_000


@dataclass
class KnownFilms:
    """Films the catalog recently said exist, so that each write need not ask again; a film
    deleted meanwhile is refused again within `KNOWN_FILMS_TTL` seconds."""

    until: dict[uuid.UUID, float] = field(default_factory=dict)

    def __contains__(self, film_id: uuid.UUID) -> bool:
        return self.until.get(film_id, 0.0) > time.monotonic()

    def add(self, film_id: uuid.UUID) -> None:
        if len(self.until) >= KNOWN_FILMS_MAX:
            self.until.clear()
        self.until[film_id] = time.monotonic() + KNOWN_FILMS_TTL


@dataclass
class UgcKit:
    settings: UgcSettings
    store: StatsCachingStore
    """The document store, with the films' counters cached (`stats_cache.py`)."""
    limiter: RateLimiter
    lookups: async_sessionmaker[AsyncSession]
    """Sessions for the catalog reads a write needs (does the film exist), in autocommit: one
    round trip per lookup, no BEGIN/COMMIT around a lone SELECT."""
    known_films: KnownFilms = field(default_factory=KnownFilms)

    async def check_write_rate(self, user_id: uuid.UUID) -> None:
        """Count one write of the account; `TooManyWrites` past `settings.write_rate`."""
        decision = await self.limiter.hit(self.settings.write_rate, "ugc-write", str(user_id))
        if not decision.allowed:
            raise TooManyWrites(decision.retry_after)

    async def close(self) -> None:
        await self.limiter.close()
        await self.store.close()


def build_ugc_kit(
    settings: UgcSettings, urls: StoreUrls, db: Database, cache: CacheSettings
) -> UgcKit:
    """The store of `settings.store_url`, else the platform's PostgreSQL (its engine shared),
    and the write limiter on the platform's Redis with its timeouts (`cache`); nothing
    connects until used."""
    store = StatsCachingStore(
        documents_port.from_url(settings.store_url or urls.database_url, database=db),
        ttl=settings.summary_cache_seconds,
    )
    limiter = ratelimit.from_url(urls.redis_url, namespace="kinoteka:ugc", settings=cache)
    lookups = async_sessionmaker(db.engine.execution_options(isolation_level="AUTOCOMMIT"))
    return UgcKit(settings=settings, store=store, limiter=limiter, lookups=lookups)


def get_ugc(services: Services) -> UgcKit:
    """The process's UGC kit (`services.ugc`, opened on first use)."""
    return services.ugc
