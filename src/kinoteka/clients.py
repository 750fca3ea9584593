"""Every store client the app uses, built in one place: `build_services(settings, urls)`.

Part of the composition root with `app.py` and `cli.py`: it alone knows which context's
factory opens which client. Nothing connects here; each client opens on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio

from kinoteka.infra import analytics as analytics_port
from kinoteka.infra import bus as bus_port
from kinoteka.infra import cache as cache_port
from kinoteka.infra import db as db_port
from kinoteka.infra import storage as storage_port
from kinoteka.infra.analytics import AnalyticsStore
from kinoteka.infra.bus import EventBus
from kinoteka.infra.footprint import StoreUrls
from kinoteka.infra.search import SearchIndex
from kinoteka.infra.storage import ObjectStorage
from kinoteka.infra.tasks import TaskQueue
from kinoteka.services import Opened, Providers, Services
from kinoteka.settings import Settings

if TYPE_CHECKING:
    from kinoteka.auth.kit import AuthKit
    from kinoteka.notify.kit import NotifyKit
    from kinoteka.ugc.kit import UgcKit

# The contexts' factories are imported when their client is first opened, so that a command
# that opens none (`kinoteka --help`, `kinoteka db upgrade`) loads neither stack.


def open_search(services: Services) -> Opened[SearchIndex]:
    from kinoteka.search.service import open_index

    index = open_index(services.urls.search_url, services.settings.search)
    return Opened(index, close=index.close, ping=index.ping)


def open_storage(services: Services) -> Opened[ObjectStorage]:
    storage = storage_port.from_url(
        services.urls.storage_url, secret=services.settings.secret_key.get_secret_value()
    )
    return Opened(storage, close=storage.close, ping=storage.ping, routes=storage.router())


def open_auth_kit(services: Services) -> Opened[AuthKit]:
    from kinoteka.auth.kit import build_auth_kit

    kit = build_auth_kit(services.settings, services.db, services.cache, services.urls.redis_url)
    return Opened(kit, close=kit.close)


def open_tasks(services: Services) -> Opened[TaskQueue]:
    from kinoteka.infra import tasks as tasks_port

    queue = tasks_port.from_url(
        services.urls.redis_url, visibility_timeout=services.settings.media.visibility_timeout
    )

    async def close() -> None:
        await anyio.to_thread.run_sync(queue.close)

    return Opened(queue, close=close)


def open_notify_kit(services: Services) -> Opened[NotifyKit]:
    from kinoteka.notify.kit import build_notify_kit

    kit = build_notify_kit(services.settings, services.db, services.urls.redis_url)
    return Opened(kit, close=kit.close, ping=kit.broker.ping)


def open_bus(services: Services) -> Opened[EventBus]:
    settings = services.settings.analytics
    bus = bus_port.from_url(
        settings.bus_url or services.urls.redis_url, max_length=settings.stream_max_length
    )
    return Opened(bus, close=bus.close, ping=bus.ping)


def open_analytics_store(services: Services) -> Opened[AnalyticsStore]:
    settings = services.settings
    url = settings.analytics.store_url or f"chdb://{(settings.data_dir / 'clickhouse').resolve()}"
    store = analytics_port.from_url(url)
    return Opened(store, close=store.close, ping=store.ping)


def open_ugc_kit(services: Services) -> Opened[UgcKit]:
    from kinoteka.ugc.kit import build_ugc_kit

    settings = services.settings
    kit = build_ugc_kit(settings.ugc, services.urls, services.db, settings.cache)
    # On the platform's PostgreSQL the store is the database `/health` already reports.
    ping = kit.store.ping if settings.ugc.store_url else None
    return Opened(kit, close=kit.close, ping=ping)


PROVIDERS = Providers(
    search=open_search,
    storage=open_storage,
    auth=open_auth_kit,
    tasks=open_tasks,
    notify=open_notify_kit,
    bus=open_bus,
    analytics_store=open_analytics_store,
    ugc=open_ugc_kit,
)


def build_services(settings: Settings, urls: StoreUrls) -> Services:
    """Clients for every store; nothing connects until first used."""
    db = db_port.from_url(urls.database_url, settings=settings.database)
    cache = cache_port.from_url(urls.redis_url, settings.cache)
    services = Services(settings=settings, urls=urls, db=db, cache=cache, providers=PROVIDERS)
    services.health_checks["postgres"] = db.ping
    services.health_checks["redis"] = cache.ping
    return services
