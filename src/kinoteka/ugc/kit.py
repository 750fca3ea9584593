"""What the UGC context runs on: its document store and its write rate limiter."""

from __future__ import annotations

from dataclasses import dataclass

from kinoteka.infra import documents as documents_port
from kinoteka.infra import ratelimit
from kinoteka.infra.documents import DocumentStore
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


def get_ugc(services: Services) -> UgcKit:
    """The process's UGC kit, built on first use (nothing connects until then)."""
    if services.ugc is None:
        settings = services.settings.ugc
        url = settings.store_url or services.urls.database_url
        store = documents_port.from_url(url, database=services.db)
        limiter = ratelimit.from_url(services.urls.redis_url, namespace="kinoteka:ugc")
        kit = UgcKit(settings=settings, store=store, limiter=limiter)
        services.ugc = kit
        services.closers.append(kit.close)
        if settings.store_url is not None:
            services.health_checks["ugc_store"] = store.ping
    return services.ugc
