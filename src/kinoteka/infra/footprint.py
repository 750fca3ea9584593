"""Resolve where each store lives: a configured server, or the embedded twin started here.

`Footprint` starts the embedded PostgreSQL and Redis for the URLs left unset (or attaches to the
ones already running on the data directory, e.g. `kinoteka up`'s), keeps their data under the
data directory, and lets go of them on exit: only the last process holding a server stops it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING

from kinoteka.infra.cache.embedded import EmbeddedRedis
from kinoteka.infra.db.embedded import EmbeddedPostgres

if TYPE_CHECKING:  # handed in by the caller; infra imports nothing above it at run time
    from kinoteka.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class StoreUrls:
    """Where each store answers, once the footprint is up."""

    database_url: str
    redis_url: str
    search_url: str
    storage_url: str
    embedded: dict[str, str] = field(default_factory=dict)


class Footprint:
    """Starts what the settings leave to us; `with Footprint(settings) as urls: …`."""

    def __init__(self, settings: Settings, *, database: bool = True, redis: bool = True) -> None:
        self.settings = settings
        self._want_database = database
        self._want_redis = redis
        self._postgres: EmbeddedPostgres | None = None
        self._redis: EmbeddedRedis | None = None

    def start(self) -> StoreUrls:
        settings = self.settings
        data_dir = settings.data_dir
        embedded: dict[str, str] = {}
        database_url = settings.database_url or ""
        redis_url = settings.redis_url or ""
        try:
            if self._want_database and not database_url:
                self._postgres = EmbeddedPostgres(data_dir / "postgres")
                database_url = self._postgres.start()
                embedded["postgres"] = str(data_dir / "postgres")
            if self._want_redis and not redis_url:
                self._redis = EmbeddedRedis(data_dir / "redis")
                redis_url = self._redis.start()
                embedded["redis"] = str(data_dir / "redis")
        except BaseException:
            self.stop()
            raise
        search_url = settings.search_url or f"tantivy://{data_dir / 'search'}"
        storage_url = settings.storage_url or f"file://{data_dir / 'storage'}"
        return StoreUrls(database_url, redis_url, search_url, storage_url, embedded)

    def stop(self) -> None:
        if self._redis is not None:
            self._redis.stop()
            self._redis = None
        if self._postgres is not None:
            self._postgres.stop()
            self._postgres = None

    def __enter__(self) -> StoreUrls:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
