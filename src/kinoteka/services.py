"""The clients a running app shares (built once, closed on shutdown) and their FastAPI deps."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from kinoteka.auth.kit import AuthKit
from kinoteka.infra import cache as cache_port
from kinoteka.infra import db as db_port
from kinoteka.infra.cache import Cache
from kinoteka.infra.db import Database
from kinoteka.infra.footprint import StoreUrls
from kinoteka.infra.search import SearchIndex
from kinoteka.infra.storage import ObjectStorage
from kinoteka.settings import Settings

if TYPE_CHECKING:  # built by the ugc context on first use
    from kinoteka.ugc.kit import UgcKit

HealthCheck = Callable[[], Awaitable[None]]


@dataclass
class Services:
    settings: Settings
    urls: StoreUrls
    db: Database
    cache: Cache
    health_checks: dict[str, HealthCheck] = field(default_factory=dict)
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    storage: ObjectStorage | None = None
    auth: AuthKit | None = None
    search: SearchIndex | None = None
    ugc: UgcKit | None = None

    async def close(self) -> None:
        for close in reversed(self.closers):
            await close()
        await self.cache.close()
        await self.db.close()


def build_services(settings: Settings, urls: StoreUrls) -> Services:
    """Clients for every store; nothing connects until first used."""
    db = db_port.from_url(urls.database_url, settings=settings.database)
    cache = cache_port.from_url(urls.redis_url)
    services = Services(settings=settings, urls=urls, db=db, cache=cache)
    services.health_checks["postgres"] = db.ping
    services.health_checks["redis"] = cache.ping
    return services


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_session(services: ServicesDep) -> AsyncIterator[AsyncSession]:
    """A request-scoped session: committed when the handler succeeds, rolled back otherwise."""
    async with services.db.session() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


def get_cache(services: ServicesDep) -> Cache:
    return services.cache


CacheDep = Annotated[Cache, Depends(get_cache)]
