"""Resolve where each store lives: a configured server, or the embedded twin started here.

`Footprint` starts the embedded PostgreSQL and Redis for the URLs left unset (or attaches to the
ones already running on the data directory, e.g. `kinoteka up`'s), keeps their data under the
data directory, and lets go of them on exit: only the last process holding a server stops it.
With `mail=True` (only `kinoteka up` asks) and no SMTP server configured
(`KINOTEKA_NOTIFY__SMTP_*` unset), it also runs the mail sink on the default SMTP address,
keeping each message under `<data dir>/mail/`; other processes beside `up` send to it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING

from kinoteka.infra.cache.embedded import EmbeddedRedis
from kinoteka.infra.db.embedded import EmbeddedPostgres
from kinoteka.infra.mailsink import MailSink, answering

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
    mail: str | None = None
    """Where mail goes when this process decided it (`mail=True`): the sink's directory, or the
    server that already answered on the SMTP address."""


class Footprint:
    """Starts what the settings leave to us; `with Footprint(settings) as urls: …`."""

    def __init__(
        self, settings: Settings, *, database: bool = True, redis: bool = True, mail: bool = False
    ) -> None:
        self.settings = settings
        self._want_database = database
        self._want_redis = redis
        self._want_mail = mail
        self._postgres: EmbeddedPostgres | None = None
        self._redis: EmbeddedRedis | None = None
        self._mail: MailSink | None = None

    def start(self) -> StoreUrls:
        settings = self.settings
        data_dir = settings.data_dir
        embedded: dict[str, str] = {}
        database_url = settings.database_url or ""
        redis_url = settings.redis_url or ""
        try:
            if self._want_database and not database_url:
                self._postgres = EmbeddedPostgres(
                    data_dir / "postgres", start_timeout=settings.database.embedded_start_timeout
                )
                database_url = self._postgres.start()
                embedded["postgres"] = str(data_dir / "postgres")
            if self._want_redis and not redis_url:
                self._redis = EmbeddedRedis(data_dir / "redis")
                redis_url = self._redis.start()
                embedded["redis"] = str(data_dir / "redis")
            mail = self._start_mail(embedded) if self._want_mail else None
        except BaseException:
            self.stop()
            raise
        search_url = settings.search_url or f"tantivy://{data_dir / 'search'}"
        storage_url = settings.storage_url or f"file://{data_dir / 'storage'}"
        return StoreUrls(database_url, redis_url, search_url, storage_url, embedded, mail)

    def _start_mail(self, embedded: dict[str, str]) -> str | None:
        notify = self.settings.notify
        if any(name.startswith("smtp_") for name in notify.model_fields_set):
            return None  # a configured SMTP server takes the mail
        host, port = notify.smtp_host, notify.smtp_port
        if answering(host, port):
            # Another sink (another data directory's `up`) or a developer's mail catcher.
            return f"smtp://{host}:{port} (a server already answers there)"
        self._mail = MailSink(self.settings.data_dir / "mail", host, port)
        self._mail.start()
        embedded["mail"] = str(self._mail.directory)
        return str(self._mail.directory)

    def stop(self) -> None:
        if self._mail is not None:
            self._mail.stop()
            self._mail = None
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
