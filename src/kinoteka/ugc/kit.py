"""What the UGC context runs on: its document store and its write rate limiter."""

from __future__ import annotations

from dataclasses import dataclass

from kinoteka.infra import documents as documents_port
from kinoteka.infra import ratelimit
from kinoteka.infra.db import Database
from kinoteka.infra.documents import DocumentStore
from kinoteka.infra.footprint import StoreUrls
from kinoteka.infra.ratelimit import RateLimiter
from kinoteka.services import Services
from kinoteka.ugc.settings import UgcSettings


@dataclass
class UgcKit:
    settings: UgcSettings
    store: DocumentStore
    limiter: RateLimiter

    async def close(self) -> None:
        await self.limiter.close()
        await self.store.close()


def build_ugc_kit(settings: UgcSettings, urls: StoreUrls, db: Database) -> UgcKit:
    """The store of `settings.store_url`, else the platform's PostgreSQL (its engine shared);
    nothing connects until used."""
    store = documents_port.from_url(settings.store_url or urls.database_url, database=db)
    limiter = ratelimit.from_url(urls.redis_url, namespace="kinoteka:ugc")
    return UgcKit(settings=settings, store=store, limiter=limiter)


def get_ugc(services: Services) -> UgcKit:
    """The process's UGC kit (`services.ugc`, opened on first use)."""
    return services.ugc
