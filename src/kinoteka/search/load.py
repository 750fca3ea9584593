"""The full load: every document, streamed into an emptied index, resumably, read ahead.

A full load starts each kind from an emptied index and adds its documents as new (no lookup of
one to replace, a third of Tantivy's work), in id order; before each commit the checkpoint
records how far the commit reaches (`load_pending`), so a load resumed after a crash replaces
the documents that commit may have written and adds the rest as new. One reader goes through
the kinds in order, up to `load_prefetch_mib` ahead of the index.
"""

from __future__ import annotations

import asyncio
import collections
import functools
from collections.abc import AsyncIterator

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from kinoteka.infra.db import Database
from kinoteka.infra.search import EncodedDocument
from kinoteka.search import repository
from kinoteka.search.documents import DocumentKind
from kinoteka.search.parts import LOAD_ORDER, SyncParts, now
from kinoteka.search.repository.documents import encoded_page
from kinoteka.search.state import SyncCheckpoint

log = structlog.get_logger(__name__)


async def connection_pages(
    connection: AsyncConnection, kind: DocumentKind, limit: int, after: str | None = None
) -> AsyncIterator[list[EncodedDocument]]:
    """Every document of `kind` in id order after `after`, `limit` per page, on `connection`
    (in REPEATABLE READ: see `page_reader`).

    One snapshot per page, committed after it: its end is looked up before its documents are
    read, and a page shorter than `limit` must mean the end of the table, not a concurrent delete.
    """
    while True:
        batch = await encoded_page(connection, kind, after, limit)
        await connection.commit()
        if batch:
            yield batch
        if len(batch) < limit:
            return
        after = batch[-1].id


async def document_pages(
    db: Database, kind: DocumentKind, limit: int, after: str | None = None
) -> AsyncIterator[list[EncodedDocument]]:
    """Every document of `kind` in id order after `after`, `limit` per page (what a rebuild
    reads, on a connection of its own)."""
    async with db.engine.connect() as connection:
        await connection.execution_options(isolation_level="REPEATABLE READ")
        async for batch in connection_pages(connection, kind, limit, after):
            yield batch


_END: list[EncodedDocument] = []  # the page reader's "end of this kind" (compared by identity)
_Page = list[EncodedDocument] | BaseException


class ReadAhead:
    """Pages read ahead of the index, up to `budget` characters of JSON: as far ahead as memory
    allows, whatever the page size (one page is always let in, however large)."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._pages: collections.deque[tuple[int, _Page]] = collections.deque()
        self._size = 0
        self._changed = asyncio.Condition()

    async def put(self, page: _Page) -> None:
        size = sum(len(document.json) for document in page) if isinstance(page, list) else 0
        async with self._changed:
            await self._changed.wait_for(
                lambda: not self._pages or self._size + size <= self.budget
            )
            self._pages.append((size, page))
            self._size += size
            self._changed.notify_all()

    async def get(self) -> _Page:
        async with self._changed:
            await self._changed.wait_for(lambda: bool(self._pages))
            size, page = self._pages.popleft()
            self._size -= size
            self._changed.notify_all()
            return page


class FullLoad:
    """Loads every document, resumably: the checkpoint keeps the last id acknowledged."""

    def __init__(self, parts: SyncParts) -> None:
        self.parts = parts

    async def run(self) -> int:
        parts = self.parts
        if parts.checkpoint.loaded_at is None:
            await parts.call(self._begin)
        before = parts.checkpoint.documents  # what commits acknowledged, retries included
        while kinds := [k for k in LOAD_ORDER if k.value not in parts.checkpoint.load_done]:
            await parts.call(functools.partial(self._from_checkpoint, kinds))
        total = parts.checkpoint.documents - before
        parts.checkpoint.loaded = True
        await parts.call(parts.save_alone)
        log.info("sync.loaded", documents=total)
        return total

    async def _begin(self) -> None:
        parts = self.parts
        async with repository.exclusive(parts.db.engine) as connection:
            # Everything committed so far is read by the load; the queue starts empty here.
            loaded_at = await repository.database_now(connection)
            await repository.empty_queue(connection)
            checkpoint = SyncCheckpoint(index_url=parts.index_url, loaded_at=loaded_at)
            checkpoint.safety_at = loaded_at
            checkpoint.safety_cursor = dict.fromkeys(repository.SAFETY_TABLES, loaded_at)
            parts.checkpoint = checkpoint
            await parts.save(connection)

    async def _from_checkpoint(self, kinds: list[DocumentKind]) -> None:
        """Stream the pages of `kinds` after the checkpoint into the index, committing every
        `load_commit_size` documents; the checkpoint moves past each commit, never further.

        PostgreSQL builds pages while the index works (a commit included), and the next kind's
        pages while the index finishes the last one's. A failure anywhere ends the attempt: the
        index drops what it held uncommitted and the caller's retry starts again from the
        checkpoint. The attempt holds the sync's lock: nothing else writes meanwhile.
        """
        parts = self.parts
        async with repository.exclusive(parts.db.engine):
            starts = {kind: parts.checkpoint.load_after.get(kind.value) for kind in kinds}
            pages = ReadAhead(parts.settings.load_prefetch_mib * 2**20)
            reader = asyncio.create_task(self._read_pages(starts, pages))
            try:
                for kind in kinds:
                    await self._load_pages(kind, pages)
            finally:
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)  # its connection back first

    async def _load_pages(self, kind: DocumentKind, pages: ReadAhead) -> None:
        """Index the pages of `kind` the reader hands over, up to its end marker.

        A kind's first attempt empties its index; pages then go in as new documents, except
        those a commit may have written before a crash (up to `load_pending`), which replace.
        """
        parts = self.parts
        name = parts.indexes.for_kind(kind).name
        after = parts.checkpoint.load_after.get(kind.value)
        pending = parts.checkpoint.load_pending.get(kind.value)
        if after is None and pending is None:
            await parts.index.clear(name)  # stale documents, or a start that crashed
        held = 0
        while (batch := await pages.get()) is not _END:
            if isinstance(batch, BaseException):
                raise batch
            commit = held + len(batch) >= parts.settings.load_commit_size
            if commit:
                await self._committing(kind, batch[-1].id)
            new = pending is None or batch[0].id > pending
            await parts.index.bulk(name, batch, commit=commit, new=new)
            held += len(batch)
            after = batch[-1].id
            if commit:
                await self._committed(kind, after, held, done=False)
                held = 0
        if held:
            await self._committing(kind, after or "")
        await parts.index.bulk(name, commit=True)  # what the last pages left held
        await self._committed(kind, after, held, done=True)

    async def _committing(self, kind: DocumentKind, last: str) -> None:
        """About to commit documents of `kind` up to `last`: record it, so that a resumed load
        replaces what this commit may write instead of adding it twice."""
        checkpoint = self.parts.checkpoint
        pending = checkpoint.load_pending.get(kind.value)
        checkpoint.load_pending[kind.value] = max(last, pending) if pending else last
        await self.parts.save_alone()

    async def _read_pages(self, starts: dict[DocumentKind, str | None], pages: ReadAhead) -> None:
        """Each kind's pages after its start, then its end marker, kind after kind."""
        size = self.parts.settings.load_batch_size
        try:
            async with self.parts.db.engine.connect() as connection:
                await connection.execution_options(isolation_level="REPEATABLE READ")
                for kind, after in starts.items():
                    async for batch in connection_pages(connection, kind, size, after):
                        await pages.put(batch)
                    await pages.put(_END)
        except asyncio.CancelledError:
            raise
        except BaseException as error:  # handed to the consumer, whose retry decides
            await pages.put(error)

    async def _committed(
        self, kind: DocumentKind, after: str | None, count: int, done: bool
    ) -> None:
        """The index acknowledged `count` more documents of `kind`, up to `after`: save it."""
        checkpoint = self.parts.checkpoint
        if after is not None:
            checkpoint.load_after[kind.value] = after
        if checkpoint.load_pending.get(kind.value, "") <= (after or ""):
            checkpoint.load_pending.pop(kind.value, None)
        checkpoint.documents += count
        if done and kind.value not in checkpoint.load_done:
            checkpoint.load_done.append(kind.value)
        checkpoint.last_batch_at = now()
        await self.parts.save_alone()
        log.info("sync.load.batch", index=self.parts.indexes.for_kind(kind).name, loaded=count)
