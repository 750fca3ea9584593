"""What every step of the sync works with: the database, the index, the checkpoint, retries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import sqlalchemy.exc
from sqlalchemy.ext.asyncio import AsyncConnection

from kinoteka.infra.db import Database
from kinoteka.infra.outage import StoreUnavailable
from kinoteka.infra.search import SearchIndex, SearchUnavailable
from kinoteka.search.backoff import Backoff
from kinoteka.search.documents import DocumentKind, SearchIndexes
from kinoteka.search.settings import SearchSettings
from kinoteka.search.state import StateStore, SyncCheckpoint

T = TypeVar("T")

RETRYABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    sqlalchemy.exc.DBAPIError,
    StoreUnavailable,  # the database port's DatabaseUnavailable: refused, hung, dropped
    SearchUnavailable,
)
PERMANENT_DB_ERRORS = (
    sqlalchemy.exc.ProgrammingError,
    sqlalchemy.exc.IntegrityError,
    sqlalchemy.exc.DataError,
    sqlalchemy.exc.NotSupportedError,
)
LOAD_ORDER = (DocumentKind.FILM, DocumentKind.GENRE, DocumentKind.PERSON)


def is_transient(error: BaseException) -> bool:
    """An outage worth waiting out, not a bug: lost connections, refused connects, timeouts."""
    if isinstance(error, sqlalchemy.exc.DBAPIError):
        return error.connection_invalidated or not isinstance(error, PERMANENT_DB_ERRORS)
    return True


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class SyncParts:
    """The sync's collaborators and its checkpoint (replaced when a load starts over)."""

    db: Database
    index: SearchIndex
    index_url: str
    store: StateStore
    settings: SearchSettings
    checkpoint: SyncCheckpoint = field(default_factory=SyncCheckpoint)

    def __post_init__(self) -> None:
        self.indexes = SearchIndexes.named(self.settings.indexes)
        self._retry = Backoff.from_settings(self.settings.backoff)(RETRYABLE, is_transient)

    async def call(self, step: Callable[[], Awaitable[T]]) -> T:
        """Run `step`, waiting out outages with backoff."""
        return await self._retry(step)()

    async def save(self, connection: AsyncConnection) -> None:
        """Save the checkpoint in `connection`'s transaction and commit it."""
        await self.store.save(self.checkpoint, connection)
        await connection.commit()

    async def save_alone(self) -> None:
        async with self.db.engine.connect() as connection:
            await self.save(connection)
