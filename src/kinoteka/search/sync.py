"""The catalog -> index sync: full load, change-queue batches, the `modified` safety net, rebuild.

Triggers on `content.*` append changed ids (fanned out to the films that embed a person or a
genre) to `search.change` and NOTIFY; a batch reads queue rows, builds the documents of the ids
that still exist (one query per kind), upserts them and deletes the rest, and only after the
index acknowledged removes exactly the rows it read and saves the checkpoint. A row committed
late by a long transaction is still in the queue for the next batch. Every step runs under one
advisory lock, so a rebuild pauses the follower and the queue carries what changed meanwhile.

A full load starts each kind from an emptied index and adds its documents as new (no lookup of
one to replace, a third of Tantivy's work), in id order; before each commit the checkpoint
records how far the commit reaches (`load_pending`), so a load resumed after a crash replaces
the documents that commit may have written and adds the rest as new.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import functools
import gc
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy.exc
import structlog
from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, BIGINT
from sqlalchemy.ext.asyncio import AsyncConnection

from kinoteka.infra.db import Database, yield_cpu
from kinoteka.infra.search import (
    MAX_PAGE_SIZE,
    Document,
    EncodedDocument,
    SearchIndex,
    SearchQuery,
    SearchUnavailable,
)
from kinoteka.search.backoff import Backoff
from kinoteka.search.documents import (
    DocumentKind,
    SearchIndexes,
    build_documents,
    encoded_documents,
    encoded_page,
)
from kinoteka.search.settings import SearchSettings
from kinoteka.search.state import StateStore, SyncCheckpoint

log = structlog.get_logger(__name__)

CHANNEL = "kinoteka_search"
LOCK_KEY = 0x6B696E6F5F73  # "kino_s": one sync step at a time across processes
RETRYABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    sqlalchemy.exc.DBAPIError,
    SearchUnavailable,
)
PERMANENT_DB_ERRORS = (
    sqlalchemy.exc.ProgrammingError,
    sqlalchemy.exc.IntegrityError,
    sqlalchemy.exc.DataError,
    sqlalchemy.exc.NotSupportedError,
)


def is_transient(error: BaseException) -> bool:
    """An outage worth waiting out, not a bug: lost connections, refused connects, timeouts."""
    if isinstance(error, sqlalchemy.exc.DBAPIError):
        return error.connection_invalidated or not isinstance(error, PERMANENT_DB_ERRORS)
    return True


LOAD_ORDER = (DocumentKind.FILM, DocumentKind.GENRE, DocumentKind.PERSON)

# Safety net: per catalog table, the queue rows its recently modified rows stand for.
SAFETY_CAPTURE = {
    "film_work": "SELECT 'film', t.id FROM content.film_work t WHERE t.modified > :lower",
    "genre": (
        "SELECT 'genre', t.id FROM content.genre t WHERE t.modified > :lower UNION"
        " SELECT 'film', l.film_work_id FROM content.genre t"
        " JOIN content.genre_film_work l ON l.genre_id = t.id WHERE t.modified > :lower"
    ),
    "person": (
        "SELECT 'person', t.id FROM content.person t WHERE t.modified > :lower UNION"
        " SELECT 'film', l.film_work_id FROM content.person t"
        " JOIN content.person_film_work l ON l.person_id = t.id WHERE t.modified > :lower"
    ),
}
_DELETE_READ = text("DELETE FROM search.change WHERE seq = ANY(:seqs)").bindparams(
    bindparam("seqs", type_=ARRAY(BIGINT))
)


@dataclass
class PassReport:
    loaded: int = 0
    upserted: int = 0
    deleted: int = 0
    batches: int = 0


@dataclass
class SyncStatus:
    checkpoint: SyncCheckpoint
    state_store: str
    queued: int
    oldest_queued: dt.datetime | None
    lag_seconds: float
    index_counts: dict[str, int]
    version: int


@dataclass
class VerifyReport:
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Per index: (catalog, index)."""
    mismatched: dict[str, list[str]] = field(default_factory=dict)
    """Per index: ids whose document differs from (or is missing in) the index."""
    sampled: int = 0
    queued: int = 0

    @property
    def ok(self) -> bool:
        counts_equal = all(catalog == index for catalog, index in self.counts.values())
        return counts_equal and not any(self.mismatched.values())


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


BULK_GC_THRESHOLD = 50_000  # allocations between two young collections during a bulk load
_bulk_gc_lock = threading.Lock()
_bulk_gc_depth = 0
_bulk_gc_saved: tuple[int, int, int] | None = None


@contextmanager
def bulk_load_gc() -> Iterator[None]:
    """Collect reference cycles less often while a bulk load runs (process-wide, nestable).

    A page of documents lives through many young collections at the default threshold (700
    allocations), reaches the old generation and sets off full collections that rescan the
    whole heap: measured, about a fifth of a full load's CPU. Documents hold no cycles
    (reference counting frees them), so collecting less often costs only a later pickup of
    whatever cycles other code makes meanwhile.
    """
    global _bulk_gc_depth, _bulk_gc_saved
    with _bulk_gc_lock:
        if _bulk_gc_depth == 0:
            _bulk_gc_saved = gc.get_threshold()
            gc.set_threshold(max(BULK_GC_THRESHOLD, _bulk_gc_saved[0]), *_bulk_gc_saved[1:])
        _bulk_gc_depth += 1
    try:
        yield
    finally:
        with _bulk_gc_lock:
            _bulk_gc_depth -= 1
            if _bulk_gc_depth == 0 and _bulk_gc_saved is not None:
                gc.set_threshold(*_bulk_gc_saved)


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


@asynccontextmanager
async def page_reader(db: Database, *, nice: int | None = None) -> AsyncIterator[AsyncConnection]:
    """A connection for `connection_pages`; with `nice`, its backend yields the CPU
    (`yield_cpu`) and the connection is closed afterwards, not handed back to the pool."""
    async with db.engine.connect() as connection:
        await connection.execution_options(isolation_level="REPEATABLE READ")
        lowered = nice is not None and await yield_cpu(connection, nice)
        try:
            yield connection
        finally:
            if lowered:
                await connection.invalidate()


async def document_pages(
    db: Database, kind: DocumentKind, limit: int, after: str | None = None
) -> AsyncIterator[list[EncodedDocument]]:
    """Every document of `kind` in id order after `after`, `limit` per page (what a rebuild
    reads, on a connection of its own)."""
    async with page_reader(db) as connection:
        async for batch in connection_pages(connection, kind, limit, after):
            yield batch


LOAD_READER_NICE = 10  # the full load's database backend, on the embedded footprint


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


class CatalogSync:
    """Keeps the search indexes equal to the catalog (see the module docstring)."""

    def __init__(
        self,
        db: Database,
        index: SearchIndex,
        index_url: str,
        store: StateStore,
        settings: SearchSettings,
    ) -> None:
        self.db = db
        self.index = index
        self.index_url = index_url
        self.store = store
        self.settings = settings
        self.indexes = SearchIndexes.named(settings.indexes)
        self.retry = Backoff.from_settings(settings.backoff)(RETRYABLE, is_transient)
        self.checkpoint = SyncCheckpoint()
        self._prepared = False

    # -- plumbing ----------------------------------------------------------------------------

    @asynccontextmanager
    async def _exclusive(self) -> AsyncIterator[AsyncConnection]:
        """A connection holding the sync's advisory lock (waits for a running rebuild)."""
        async with self.db.engine.connect() as connection:
            await connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": LOCK_KEY})
            await connection.commit()
            try:
                yield connection
            finally:
                if not connection.invalidated:
                    await connection.rollback()
                    await connection.execute(
                        text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY}
                    )
                    await connection.commit()

    async def _call(self, step: Callable[[], Awaitable[Any]]) -> Any:
        return await self.retry(step)()

    async def prepare(self) -> None:
        """Create missing indexes and read the checkpoint; a new index starts a full load."""

        async def step() -> None:
            created = await self.index.ensure_indexes()
            checkpoint = await self.store.load()
            if created or checkpoint.index_url != self.index_url:
                if checkpoint.loaded_at is not None:
                    log.info("sync.reset", reason="new index", created=created)
                checkpoint = SyncCheckpoint(index_url=self.index_url)
            self.checkpoint = checkpoint

        await self._call(step)
        self._prepared = True

    async def _save(self, connection: AsyncConnection) -> None:
        await self.store.save(self.checkpoint, connection)
        await connection.commit()

    # -- one pass ----------------------------------------------------------------------------

    async def run_once(self, *, safety: bool = True) -> PassReport:
        """Load what was never loaded, apply every queued change, run the safety pass."""
        if not self._prepared:
            await self.prepare()
        report = PassReport()
        if not self.checkpoint.loaded:
            report.loaded = await self.full_load()
        await self.drain(report)
        if safety and self._safety_due():
            await self._call(self.safety_pass)
            await self.drain(report)
        return report

    def _safety_due(self) -> bool:
        last = self.checkpoint.safety_at
        return last is None or (_now() - last).total_seconds() >= self.settings.safety_interval

    async def full_load(self) -> int:
        """Load every document, resumably: the checkpoint keeps the last id acknowledged."""
        if self.checkpoint.loaded_at is None:
            await self._call(self._begin_load)
        before = self.checkpoint.documents  # what commits acknowledged, retries included
        with bulk_load_gc():
            while kinds := [k for k in LOAD_ORDER if k.value not in self.checkpoint.load_done]:
                await self._call(functools.partial(self._load_from_checkpoint, kinds))
        total = self.checkpoint.documents - before
        self.checkpoint.loaded = True
        await self._call(self._save_checkpoint)
        log.info("sync.loaded", documents=total)
        return total

    async def _save_checkpoint(self) -> None:
        async with self.db.engine.connect() as connection:
            await self._save(connection)

    async def _begin_load(self) -> None:
        async with self._exclusive() as connection:
            # Everything committed so far is read by the load; the queue starts empty here.
            loaded_at = await connection.scalar(text("SELECT now()"))
            await connection.execute(text("DELETE FROM search.change"))
            checkpoint = SyncCheckpoint(index_url=self.index_url, loaded_at=loaded_at)
            checkpoint.safety_at = loaded_at
            checkpoint.safety_cursor = dict.fromkeys(SAFETY_CAPTURE, loaded_at)
            self.checkpoint = checkpoint
            await self._save(connection)

    async def _load_from_checkpoint(self, kinds: list[DocumentKind]) -> None:
        """Stream the pages of `kinds` after the checkpoint into the index, committing every
        `load_commit_size` documents; the checkpoint moves past each commit, never further.

        One reader goes through the kinds in order, up to `load_prefetch_mib` ahead of the
        index: PostgreSQL builds pages while the index works (a commit included), and the next
        kind's pages while the index finishes the last one's. A failure anywhere ends the
        attempt: the index drops what it held uncommitted and the caller's retry starts again
        from the checkpoint. The attempt holds the sync's lock: nothing else writes meanwhile.
        """
        async with self._exclusive():
            starts = {kind: self.checkpoint.load_after.get(kind.value) for kind in kinds}
            pages = ReadAhead(self.settings.load_prefetch_mib * 2**20)
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
        name = self.indexes.for_kind(kind).name
        after = self.checkpoint.load_after.get(kind.value)
        pending = self.checkpoint.load_pending.get(kind.value)
        if after is None and pending is None:
            await self.index.clear(name)  # stale documents, or a start that crashed
        held = 0
        while (batch := await pages.get()) is not _END:
            if isinstance(batch, BaseException):
                raise batch
            commit = held + len(batch) >= self.settings.load_commit_size
            if commit:
                await self._committing(kind, batch[-1].id)
            new = pending is None or batch[0].id > pending
            await self.index.bulk(name, batch, commit=commit, new=new)
            held += len(batch)
            after = batch[-1].id
            if commit:
                await self._committed(kind, after, held, done=False)
                held = 0
        if held:
            await self._committing(kind, after or "")
        await self.index.bulk(name, commit=True)  # what the last pages left held
        await self._committed(kind, after, held, done=True)

    async def _committing(self, kind: DocumentKind, last: str) -> None:
        """About to commit documents of `kind` up to `last`: record it, so that a resumed load
        replaces what this commit may write instead of adding it twice."""
        pending = self.checkpoint.load_pending.get(kind.value)
        self.checkpoint.load_pending[kind.value] = max(last, pending) if pending else last
        await self._save_checkpoint()

    async def _read_pages(self, starts: dict[DocumentKind, str | None], pages: ReadAhead) -> None:
        """Each kind's pages after its start, then its end marker, kind after kind.

        The index is the load's bottleneck; on the embedded footprint PostgreSQL shares its
        machine, and Linux would give the backend reading the pages as much CPU as this whole
        process (measured on two cores: the index then ran on two thirds of one while the
        pages were read, and a core idled afterwards). The backend yields the CPU instead
        (`yield_cpu`): it reads on what the index leaves, and is then not reused.
        """
        size = self.settings.load_batch_size
        try:
            async with page_reader(self.db, nice=LOAD_READER_NICE) as connection:
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
        if after is not None:
            self.checkpoint.load_after[kind.value] = after
        if self.checkpoint.load_pending.get(kind.value, "") <= (after or ""):
            self.checkpoint.load_pending.pop(kind.value, None)
        self.checkpoint.documents += count
        if done and kind.value not in self.checkpoint.load_done:
            self.checkpoint.load_done.append(kind.value)
        self.checkpoint.last_batch_at = _now()
        await self._save_checkpoint()
        log.info("sync.load.batch", index=self.indexes.for_kind(kind).name, loaded=count)

    async def drain(self, report: PassReport | None = None) -> PassReport:
        """Apply queued changes batch by batch until the queue is empty."""
        report = report or PassReport()
        while True:
            read: int = await self._call(lambda: self._batch(report))
            if read < self.settings.batch_size:
                return report

    async def _batch(self, report: PassReport) -> int:
        async with self._exclusive() as connection:
            rows = (
                await connection.execute(
                    text("SELECT seq, entity, entity_id FROM search.change ORDER BY seq LIMIT :n"),
                    {"n": self.settings.batch_size},
                )
            ).all()
            if not rows:
                await connection.commit()
                return 0
            wanted: dict[DocumentKind, dict[uuid.UUID, None]] = {kind: {} for kind in LOAD_ORDER}
            for _, entity, entity_id in rows:
                wanted[DocumentKind(entity)][entity_id] = None
            writes: list[tuple[str, list[EncodedDocument], list[str]]] = []
            for kind, ids in wanted.items():
                if not ids:
                    continue
                documents = await encoded_documents(connection, kind, list(ids))
                found = {document.id for document in documents}
                gone = [str(i) for i in ids if str(i) not in found]
                writes.append((self.indexes.for_kind(kind).name, documents, gone))
            await connection.commit()
            for name, documents, gone in writes:
                await self.index.bulk(name, documents, gone)
                report.upserted += len(documents)
                report.deleted += len(gone)
            # Acknowledged: forget exactly the rows read (later ones stay), then checkpoint.
            await connection.execute(_DELETE_READ, {"seqs": [row[0] for row in rows]})
            self.checkpoint.last_batch_at = _now()
            self.checkpoint.documents += sum(len(d) + len(g) for _, d, g in writes)
            await self._save(connection)
            report.batches += 1
            log.info(
                "sync.batch",
                changes=len(rows),
                upserted=sum(len(d) for _, d, _ in writes),
                deleted=sum(len(g) for _, _, g in writes),
            )
            return len(rows)

    async def safety_pass(self) -> None:
        """Queue what the `modified` columns say changed since the last pass (with overlap)."""
        checkpoint = self.checkpoint
        floor = checkpoint.loaded_at
        overlap = dt.timedelta(seconds=self.settings.overlap)
        async with self._exclusive() as connection:
            now = await connection.scalar(text("SELECT now()"))
            queued = 0
            for table, select in SAFETY_CAPTURE.items():
                cursor = checkpoint.safety_cursor.get(table, floor or now)
                lower = cursor - overlap
                if floor is not None:
                    lower = max(lower, floor)
                result = await connection.execute(
                    text(f"INSERT INTO search.change (entity, entity_id) {select}"),
                    {"lower": lower},
                )
                queued += result.rowcount or 0
                checkpoint.safety_cursor[table] = now
            checkpoint.safety_at = now
            await self._save(connection)
        if queued:
            log.info("sync.safety_pass", queued=queued)

    # -- follow ------------------------------------------------------------------------------

    async def follow(self, stop: asyncio.Event | None = None) -> None:
        """Run passes forever: woken by NOTIFY, at least every `poll_interval` seconds.

        Outages are waited out inside a pass (backoff); any other failure of a pass is logged
        with its traceback and the pass retried after a growing pause, so one bad document
        does not stop the follower for good.
        """
        stop = stop or asyncio.Event()
        wake = asyncio.Event()
        listener = asyncio.create_task(self._listen(wake, stop))
        pause = Backoff.from_settings(self.settings.backoff)
        failures = 0
        try:
            while not stop.is_set():
                wake.clear()
                timeout = self.settings.poll_interval
                try:
                    await self.run_once()
                    failures = 0
                except Exception:
                    self._prepared = False  # re-check the indexes: one may have been lost
                    failures += 1
                    timeout = pause.delay(failures)
                    log.exception("sync.pass_failed", failures=failures, retry_in=timeout)
                    wake.clear()
                waiters = [asyncio.create_task(wake.wait()), asyncio.create_task(stop.wait())]
                await asyncio.wait(waiters, timeout=timeout, return_when="FIRST_COMPLETED")
                for waiter in waiters:
                    waiter.cancel()
        finally:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)

    async def _listen(self, wake: asyncio.Event, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self._call(lambda: self._listen_until_lost(wake, stop))

    async def _listen_until_lost(self, wake: asyncio.Event, stop: asyncio.Event) -> None:
        async with self.db.listen(CHANNEL, wake.set) as lost:
            wake.set()  # anything queued while not listening is picked up now
            log.info("sync.listening", channel=CHANNEL)
            waiters = [asyncio.create_task(lost.wait()), asyncio.create_task(stop.wait())]
            try:
                await asyncio.wait(waiters, return_when="FIRST_COMPLETED")
            finally:
                for waiter in waiters:
                    waiter.cancel()
        if lost.is_set() and not stop.is_set():
            raise ConnectionError("the LISTEN connection was lost")

    # -- rebuild, status, verify --------------------------------------------------------------

    async def rebuild(self) -> dict[str, int]:
        """Rebuild every index into a new version and switch to it; searches keep answering."""
        if not self._prepared:
            await self.prepare()
        loaded: dict[str, int] = {}
        async with self._exclusive():
            with bulk_load_gc():
                for kind in LOAD_ORDER:
                    definition = self.indexes.for_kind(kind)
                    pages = document_pages(self.db, kind, self.settings.load_batch_size)
                    loaded[definition.name] = await self.index.rebuild(definition.name, pages)
        return loaded

    async def status(self) -> SyncStatus:
        checkpoint = await self.store.load()
        async with self.db.engine.connect() as connection:
            row = (
                await connection.execute(
                    text("SELECT count(*), min(recorded), now() FROM search.change")
                )
            ).one()
        queued, oldest, now = row
        counts = {d.name: await self.index.count(d.name) for d in self.indexes.all()}
        return SyncStatus(
            checkpoint=checkpoint,
            state_store=self.store.describe(),
            queued=queued,
            oldest_queued=oldest,
            lag_seconds=(now - oldest).total_seconds() if oldest is not None else 0.0,
            index_counts=counts,
            version=await self.index.version(),
        )

    async def verify(self, sample: int = 100) -> VerifyReport:
        """Compare counts and a random sample of documents between catalog and index."""
        report = VerifyReport()
        await self.index.refresh()
        tables = {
            DocumentKind.FILM: "film_work",
            DocumentKind.GENRE: "genre",
            DocumentKind.PERSON: "person",
        }
        async with self.db.engine.connect() as connection:
            report.queued = await connection.scalar(text("SELECT count(*) FROM search.change"))
            for kind, table in tables.items():
                name = self.indexes.for_kind(kind).name
                catalog = await connection.scalar(text(f"SELECT count(*) FROM content.{table}"))  # noqa: S608
                report.counts[name] = (catalog, await self.index.count(name))
                ids = (
                    await connection.scalars(
                        text(f"SELECT id FROM content.{table} ORDER BY random() LIMIT :n"),  # noqa: S608
                        {"n": sample},
                    )
                ).all()
                expected = await build_documents(connection, kind, list(ids))
                report.sampled += len(expected)
                indexed = await self._indexed(name, [document["id"] for document in expected])
                report.mismatched[name] = [
                    document["id"]
                    for document in expected
                    if indexed.get(document["id"]) != document
                ]
        return report

    async def _indexed(self, name: str, ids: list[str]) -> dict[str, Document]:
        """The documents of `ids` the index holds, by id: one search per page, not one get each."""
        found: dict[str, Document] = {}
        for start in range(0, len(ids), MAX_PAGE_SIZE):
            page = ids[start : start + MAX_PAGE_SIZE]
            hits = await self.index.search(
                SearchQuery(name, filters={"id": page}, limit=MAX_PAGE_SIZE)
            )
            found.update((document["id"], document) for document in hits.documents)
        return found
