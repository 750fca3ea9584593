"""The clients a running app shares (built lazily, closed on shutdown) and their FastAPI deps.

`Services` holds the settings, the database and the cache, and opens every other client on
first use through the `Providers` the composition root (`kinoteka.clients.build_services`)
gives it, so that this module imports no context. A client is opened once, as an `Opened`:
the client, how to close it, optionally a health check and the HTTP routes it serves itself.

The next clients (bus, tasks, analytics store, broker) join the same way: a field on
`Providers`, a `cached_property` on `Services` calling `_open`, the factory in
`kinoteka.clients`, and the name in `ClientName` so a mount can declare it `uses` it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Annotated, Generic, Literal, TypeVar

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from kinoteka.infra.analytics import AnalyticsStore
from kinoteka.infra.bus import EventBus
from kinoteka.infra.cache import Cache
from kinoteka.infra.db import Database
from kinoteka.infra.footprint import StoreUrls
from kinoteka.infra.search import SearchIndex
from kinoteka.infra.storage import ObjectStorage
from kinoteka.infra.tasks import TaskQueue
from kinoteka.settings import Settings

if TYPE_CHECKING:  # the kits' types only; they are built by the providers the root hands in
    from kinoteka.auth.kit import AuthKit
    from kinoteka.notify.kit import NotifyKit
    from kinoteka.ugc.kit import UgcKit

HealthCheck = Callable[[], Awaitable[None]]
ClientName = Literal[
    "search", "storage", "auth", "tasks", "notify", "bus", "analytics_store", "ugc"
]
T = TypeVar("T")


@dataclass(frozen=True)
class Opened(Generic[T]):
    client: T
    close: Callable[[], Awaitable[None]]
    ping: HealthCheck | None = None
    """Reported by `/health` under the client's name once it is opened."""
    routes: APIRouter | None = None
    """Routes the client serves itself (the local storage's signed downloads)."""


Provider = Callable[["Services"], Opened[T]]


@dataclass(frozen=True)
class Providers:
    """How each shared client is opened; nothing connects until it is used."""

    search: Provider[SearchIndex]
    storage: Provider[ObjectStorage]
    auth: Provider[AuthKit]
    tasks: Provider[TaskQueue]
    notify: Provider[NotifyKit]
    bus: Provider[EventBus]
    analytics_store: Provider[AnalyticsStore]
    ugc: Provider[UgcKit]


@dataclass(eq=False)
class Services:
    settings: Settings
    urls: StoreUrls
    db: Database
    cache: Cache
    providers: Providers
    health_checks: dict[str, HealthCheck] = field(default_factory=dict)
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    routes: dict[ClientName, APIRouter] = field(default_factory=dict)

    def _open(self, name: ClientName, provider: Provider[T]) -> T:
        opened = provider(self)
        self.closers.append(opened.close)
        if opened.ping is not None:
            self.health_checks[name] = opened.ping
        if opened.routes is not None:
            self.routes[name] = opened.routes
        return opened.client

    @cached_property
    def search(self) -> SearchIndex:
        return self._open("search", self.providers.search)

    @cached_property
    def storage(self) -> ObjectStorage:
        return self._open("storage", self.providers.storage)

    @cached_property
    def auth(self) -> AuthKit:
        return self._open("auth", self.providers.auth)

    @cached_property
    def tasks(self) -> TaskQueue:
        """The sender of background tasks (Celery on the Redis URL)."""
        return self._open("tasks", self.providers.tasks)

    @cached_property
    def notify(self) -> NotifyKit:
        return self._open("notify", self.providers.notify)

    @cached_property
    def bus(self) -> EventBus:
        return self._open("bus", self.providers.bus)

    @cached_property
    def analytics_store(self) -> AnalyticsStore:
        return self._open("analytics_store", self.providers.analytics_store)

    @cached_property
    def ugc(self) -> UgcKit:
        return self._open("ugc", self.providers.ugc)

    def open(self, name: ClientName) -> None:
        """Open the client `name` now (still without connecting), by the name a mount uses."""
        getattr(self, name)

    async def close(self) -> None:
        for close in reversed(self.closers):
            await close()
        await self.cache.close()
        await self.db.close()


async def get_services(request: Request) -> Services:
    # async although it awaits nothing: FastAPI runs a plain `def` dependency in its thread
    # pool, a hand-off per request that costs more than the lookup.
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
