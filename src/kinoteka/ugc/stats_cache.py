"""A short-lived in-process cache of the per-film counters (`film_stats`), in front of the
document store: a film's rating summary is read far more often than it changes.

`StatsCachingStore` is the document store with `get(film_stats, …)` answered from memory for
up to `ttl` seconds, and `view(key, render)` answering what `render` makes of a film's counters
(the rating summary's JSON) from the same entry, made once per entry and dropped with it.
Every write to `film_stats` through it drops the film's entry when the write is done, and a
read that raced with a write does not store what it read, so within one process a summary
never lags a write that returned. Other processes (another `serve ugc`, the
`ugc recount` command) are seen within `ttl` (`KINOTEKA_UGC__SUMMARY_CACHE_SECONDS`; 0 turns
the cache off). Every other call passes straight through.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from kinoteka.infra.documents import Document, DocumentStore, Order
from kinoteka.ugc.documents import FILM_STATS

MAX_ENTRIES = 50_000

View = TypeVar("View")
Render = Callable[[str, Document | None], View]


@dataclass(slots=True)
class _Entry:
    expires: float
    document: Document | None
    """Never handed out: `get` gives a copy, a render must not change it."""
    views: dict[Callable[..., Any], Any] = field(default_factory=dict)


class StatsCachingStore:
    def __init__(self, inner: DocumentStore, *, ttl: float, max_entries: int = MAX_ENTRIES) -> None:
        self.inner = inner
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, _Entry] = {}
        # Per key, how many writes this process made; a read keeps what it read only when no
        # write to its key (and no clearing, `_epoch`) happened while it waited.
        self._writes: dict[str, int] = {}
        self._epoch = 0

    def _stamp(self, key: str) -> tuple[int, int]:
        return self._epoch, self._writes.get(key, 0)

    def _moved(self, key: str | None) -> None:
        """A write to `key` (None: to any key) is done: forget what was read before it."""
        if key is None or len(self._writes) >= self.max_entries:
            self._entries.clear()
            self._writes.clear()
            self._epoch += 1
            return
        self._entries.pop(key, None)
        self._writes[key] = self._writes.get(key, 0) + 1

    async def _entry(self, key: str) -> _Entry:
        """The film's entry: from memory while fresh, else read, and kept unless a write (or
        a clearing) happened while the read waited."""
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None and entry.expires > now:
            return entry
        before = self._stamp(key)
        entry = _Entry(now + self.ttl, await self.inner.get(FILM_STATS, key))
        if self._stamp(key) == before:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key] = entry
        return entry

    async def get(self, collection: str, key: str) -> Document | None:
        if collection != FILM_STATS or self.ttl <= 0:
            return await self.inner.get(collection, key)
        document = (await self._entry(key)).document
        return None if document is None else dict(document)

    async def view(self, key: str, render: Render[View]) -> View:
        """`render(key, counters)` of the film `key`, made once per cache entry (each `render`
        function its own) and as fresh as `get`'s answer. `render` must not change the
        counters it is given, and what it makes is shared: it should be immutable."""
        if self.ttl <= 0:
            return render(key, await self.inner.get(FILM_STATS, key))
        entry = await self._entry(key)
        if render in entry.views:
            return cast(View, entry.views[render])
        made = entry.views[render] = render(key, entry.document)
        return made

    async def insert(self, collection: str, key: str, document: Document) -> bool:
        try:
            return await self.inner.insert(collection, key, document)
        finally:
            if collection == FILM_STATS:
                self._moved(key)

    async def put(self, collection: str, key: str, document: Document) -> Document | None:
        try:
            return await self.inner.put(collection, key, document)
        finally:
            if collection == FILM_STATS:
                self._moved(key)

    async def put_if_newer(self, collection: str, key: str, document: Document, field: str) -> bool:
        try:
            return await self.inner.put_if_newer(collection, key, document, field)
        finally:
            if collection == FILM_STATS:
                self._moved(key)

    async def update(
        self, collection: str, key: str, changes: Mapping[str, Any]
    ) -> Document | None:
        try:
            return await self.inner.update(collection, key, changes)
        finally:
            if collection == FILM_STATS:
                self._moved(key)

    async def increment(
        self, collection: str, key: str, deltas: Mapping[str, int], *, create: bool = False
    ) -> Document | None:
        try:
            return await self.inner.increment(collection, key, deltas, create=create)
        finally:
            if collection == FILM_STATS:
                self._moved(key)

    async def delete(self, collection: str, key: str) -> Document | None:
        try:
            return await self.inner.delete(collection, key)
        finally:
            if collection == FILM_STATS:
                self._moved(key)

    async def delete_where(self, collection: str, where: Mapping[str, Any]) -> int:
        try:
            return await self.inner.delete_where(collection, where)
        finally:
            if collection == FILM_STATS:
                self._moved(None)

    async def find(
        self,
        collection: str,
        where: Mapping[str, Any],
        *,
        order_by: Order = (),
        limit: int = 50,
        offset: int = 0,
    ) -> list[Document]:
        return await self.inner.find(
            collection, where, order_by=order_by, limit=limit, offset=offset
        )

    async def keys(
        self, collection: str, *, after: str | None = None, limit: int = 1000
    ) -> list[str]:
        return await self.inner.keys(collection, after=after, limit=limit)

    async def count(self, collection: str, where: Mapping[str, Any]) -> int:
        return await self.inner.count(collection, where)

    async def prepare(self, indexes: Mapping[str, Sequence[Order]]) -> None:
        await self.inner.prepare(indexes)

    async def ping(self) -> None:
        await self.inner.ping()

    async def close(self) -> None:
        await self.inner.close()
