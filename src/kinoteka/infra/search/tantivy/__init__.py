"""Tantivy adapter: each index is a versioned directory on local disk behind a pointer file.

Layout under the root (`tantivy:///root`): `<index>/CURRENT` names the live version directory
(`<index>/v<ns>/`), switched atomically (temp file + `os.replace`) by `rebuild`; `VERSION` holds
the write counter (`files.py`). One process writes an index at a time (Tantivy's writer lock,
`writer.py`); any number of processes read it, reopening when `CURRENT` changes and reloading
when `VERSION` moves. Each version directory records the field layout it was built with
(`schema.py`): one built for an older layout keeps answering, reported by `outdated()`, until
a rebuild replaces it. Queries are compiled in `query.py`.

Documents go in as JSON (`IndexWriter.add_json`, parsed by Tantivy itself): an `EncodedDocument`
passes through with only its `_source` (the stored original) appended, so a full load does no
per-document work in Python beyond that.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import anyio.to_thread
import structlog
import tantivy

from kinoteka.infra.search.port import (
    MAX_PAGE_SIZE,
    Document,
    IndexDefinition,
    SearchError,
    SearchHits,
    SearchQuery,
    Upsert,
)
from kinoteka.infra.search.tantivy.files import LAYOUT_FILE, IndexFiles
from kinoteka.infra.search.tantivy.query import compile_query, sort_field
from kinoteka.infra.search.tantivy.schema import (
    DocumentEncoder,
    add_json,
    build_schema,
    exact_analyzer,
    layout_fingerprint,
    register_tokenizers,
    sort_normalizer,
    stored_document,
    text_analyzer,
)
from kinoteka.infra.search.tantivy.writer import WRITER_HEAP_MIB, Writers

__all__ = ["LAYOUT_FILE", "WRITER_HEAP_MIB", "TantivyIndex"]

log = structlog.get_logger(__name__)
T = TypeVar("T")
LOOP_HITS = MAX_PAGE_SIZE
"""Pages of up to this many hits are read on the event loop's thread (see `search`)."""


@dataclass
class _Reader:
    directory: str
    index: tantivy.Index
    seen_version: int


class TantivyIndex:
    """The `SearchIndex` port over Tantivy directories (see the module docstring)."""

    def __init__(
        self,
        root: Path,
        definitions: Sequence[IndexDefinition],
        *,
        writer_heap_mib: int = WRITER_HEAP_MIB,
    ) -> None:
        self.root = root
        self.files = IndexFiles(root)
        self.writer_heap = writer_heap_mib * 2**20
        self.definitions: Mapping[str, IndexDefinition] = {d.name: d for d in definitions}
        self._schemas = {d.name: build_schema(d) for d in definitions}
        self._layouts = {d.name: layout_fingerprint(d) for d in definitions}
        self._encoders = {d.name: DocumentEncoder(d) for d in definitions}
        self._analyzer = text_analyzer()
        self._exact_analyzer = exact_analyzer()
        self._sort_normalizer = sort_normalizer()
        self._readers: dict[str, _Reader] = {}
        self._read_pool: ThreadPoolExecutor | None = None
        self.writers = Writers(
            lambda index, directory: self._open(index, directory).writer(self.writer_heap, 1),
            self.files.current,
            self.files.bump_version,
        )

    @classmethod
    def from_url(
        cls, url: str, definitions: Sequence[IndexDefinition], *, writer_heap_mib: int
    ) -> TantivyIndex:
        parts = urlsplit(url)
        path = unquote(parts.netloc + parts.path)
        if not path:
            raise SearchError(f"tantivy URL {url!r} names no directory")
        return cls(Path(path), definitions, writer_heap_mib=writer_heap_mib)

    # -- files -------------------------------------------------------------------------------

    def _definition(self, index: str) -> IndexDefinition:
        try:
            return self.definitions[index]
        except KeyError:
            raise SearchError(f"unknown index {index!r}") from None

    def _open(self, index: str, directory: str) -> tantivy.Index:
        opened = tantivy.Index.open(str(self.files.path(index, directory)))
        return register_tokenizers(
            opened, self._analyzer, self._sort_normalizer, self._exact_analyzer
        )

    def _create(self, index: str) -> str:
        self._definition(index)
        directory = self.files.new_version(index, self._layouts[index])
        path = self.files.path(index, directory)
        created = tantivy.Index(self._schemas[index], path=str(path))
        register_tokenizers(created, self._analyzer, self._sort_normalizer, self._exact_analyzer)
        return directory

    # -- sync halves (run in a worker thread) ------------------------------------------------

    def _ensure(self) -> list[str]:
        created = []
        for name in self.definitions:
            if self.files.exists(name):
                continue
            directory = self._create(name)
            with self.writers.lock:
                self.files.switch(name, directory)
            created.append(name)
        if created:
            self.files.bump_version()
        return created

    def _outdated(self) -> list[str]:
        return [
            name
            for name in self.definitions
            if self.files.exists(name)
            and self.files.layout(name, self.files.current(name)) != self._layouts[name]
        ]

    def _bulk(
        self,
        index: str,
        upserts: Sequence[Upsert],
        deletes: Sequence[str],
        commit: bool,
        new: bool,
    ) -> None:
        encode = self._encoders[self._definition(index).name]
        self.writers.write(index, encode, upserts, deletes, commit, new)

    def _clear(self, index: str) -> None:
        self._definition(index)
        self.writers.clear(index)

    def _reader(self, index: str) -> _Reader:
        """The index's reader, up to date with `VERSION`: reloaded when it moved, reopened when
        `CURRENT` names another directory (read only then: every switch bumps `VERSION`)."""
        version = self.files.read_version()
        reader = self._readers.get(index)
        if reader is not None and reader.seen_version == version:
            return reader
        directory = self.files.current(index)
        if reader is None or reader.directory != directory:
            try:
                opened = self._open(index, directory)
            except ValueError:
                # the pointer moved on and the old version was dropped between the two reads
                directory = self.files.current(index)
                opened = self._open(index, directory)
            reader = _Reader(directory, opened, version)
            self._readers[index] = reader
        else:
            reader.index.reload()
            reader.seen_version = version
        return reader

    def _get(self, reader: _Reader, index: str, document_id: str) -> Document | None:
        searcher = reader.index.searcher()
        term = tantivy.Query.term_query(reader.index.schema, "id", document_id)
        hits = searcher.search(term, 1).hits
        if not hits:
            return None
        return stored_document(self._definition(index), searcher, hits[0][1])

    def _plan(
        self, searcher: tantivy.Searcher, schema: tantivy.Schema, query: SearchQuery
    ) -> Callable[[], tantivy.SearchResult]:
        """The search of `query` with `searcher`, compiled, as a call to run."""
        definition = self._definition(query.index)
        compiled = compile_query(
            definition, schema, query, searcher, self._analyzer, self._exact_analyzer
        )
        order_by: str | None = None
        order = tantivy.Order.Asc
        weight_by: str | None = None
        if query.sort is not None:
            order_by = sort_field(definition, query.sort.field)
            order = tantivy.Order.Desc if query.sort.descending else tantivy.Order.Asc
        elif query.text and definition.weight_field is not None:
            weight_by = definition.weight_field  # score * log2(2 + value), as the port says
        # Tantivy collects offset + limit hits up front: an offset past every document would
        # ask for an allocation of that size (and abort the process), so it is clamped (the
        # page is empty either way: `_hits`).
        offset = query.offset if query.offset < searcher.num_docs else 0
        return partial(
            searcher.search, compiled, query.limit, count=True, order_by_field=order_by,
            offset=offset, order=order, weight_by_field=weight_by,
        )  # fmt: skip

    def _hits(
        self, searcher: tantivy.Searcher, query: SearchQuery, result: tantivy.SearchResult
    ) -> SearchHits:
        """The documents of a search's page and the total, read with the searcher that found
        them (a reload in between would move the addresses)."""
        definition = self._definition(query.index)
        hits = [] if query.offset >= searcher.num_docs else result.hits
        documents = [
            stored_document(definition, searcher, address, query.source) for _, address in hits
        ]
        total: int = getattr(result, "count", None) or 0  # not in the bundled stub
        return SearchHits(total=total, documents=documents)

    def _search(self, query: SearchQuery) -> SearchHits:
        """A search start to end in the calling thread (`search` splits it between threads)."""
        reader = self._reader(query.index)
        searcher = reader.index.searcher()
        return self._hits(searcher, query, self._plan(searcher, reader.index.schema, query)())

    def _rebuild_start(self, index: str) -> tuple[str, tantivy.IndexWriter]:
        directory = self._create(index)
        opened = self._open(index, directory)
        return directory, opened.writer(self.writer_heap * 2, 2)

    def _rebuild_write(
        self, index: str, writer: tantivy.IndexWriter, documents: Sequence[Upsert]
    ) -> None:
        encode = self._encoders[self._definition(index).name]
        for document in documents:
            add_json(writer, encode(document)[1])

    def _rebuild_switch(self, index: str, directory: str, writer: tantivy.IndexWriter) -> None:
        writer.commit()
        writer.wait_merging_threads()
        with self.writers.lock:
            self.writers.release(index)
            old = self.files.current(index)
            self.files.switch(index, directory)
            self.files.bump_version()
        shutil.rmtree(self.files.path(index, old), ignore_errors=True)
        log.info("search.rebuild.switched", index=index, old=old, new=directory)

    # -- the port ----------------------------------------------------------------------------

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        return await anyio.to_thread.run_sync(function, *args)

    async def _read(self, function: Callable[..., T], *args: Any) -> T:
        """Run a search (or a reader's reopening) on the pool of one thread per core: it is CPU
        work in Tantivy with the GIL released, more threads would only share the cores, and
        the pool's hand-off costs the event loop less than anyio's. Writes keep to `_run`: a
        long one must not hold up searches."""
        if self._read_pool is None:
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
            self._read_pool = ThreadPoolExecutor(
                cores or os.cpu_count() or 1, thread_name_prefix="tantivy-read"
            )
        return await asyncio.get_running_loop().run_in_executor(self._read_pool, function, *args)

    async def ensure_indexes(self) -> list[str]:
        return await self._run(self._ensure)

    async def outdated(self) -> list[str]:
        return await self._run(self._outdated)

    async def bulk(
        self,
        index: str,
        upserts: Sequence[Upsert] = (),
        deletes: Sequence[str] = (),
        *,
        commit: bool = True,
        new: bool = False,
    ) -> None:
        if upserts or deletes or (commit and index in self.writers.uncommitted):
            await self._run(self._bulk, index, upserts, deletes, commit, new)

    async def clear(self, index: str) -> None:
        await self._run(self._clear, index)

    # Reading: only Tantivy's search itself goes to a worker thread. `Searcher.doc`,
    # `doc_freq` and file reads each release the GIL, and a worker taking it back waits for
    # the event loop's thread to let go (the 5 ms switch interval when it is busy rendering):
    # a page of 24 hits read in a worker took ~100 ms of such waits under load. On the loop's
    # thread they cost what they are (~0.1 ms to compile a query, ~10 us a hit), so the
    # query is compiled and a page of hits read there, the search (the GIL released for all
    # of it) runs in a worker, and reopening or reloading a moved index too.

    async def _fresh_reader(self, index: str) -> _Reader:
        self._definition(index)
        reader = self._readers.get(index)
        if reader is None or reader.seen_version != self.files.read_version():
            reader = await self._read(self._reader, index)
        return reader

    async def get(self, index: str, document_id: str) -> Document | None:
        # one term looked up and one document read: less than a hand-off to a worker
        return self._get(await self._fresh_reader(index), index, document_id)

    async def count(self, index: str) -> int:
        return (await self._fresh_reader(index)).index.searcher().num_docs

    async def search(self, query: SearchQuery) -> SearchHits:
        reader = await self._fresh_reader(query.index)
        searcher = reader.index.searcher()
        result = await self._read(self._plan(searcher, reader.index.schema, query))
        if query.limit > LOOP_HITS:  # a batch reader's page: read in the worker
            return await self._read(self._hits, searcher, query, result)
        return self._hits(searcher, query, result)

    async def refresh(self) -> None:
        def reload_all() -> None:
            for name in list(self._readers):
                self._reader(name)

        await self._run(reload_all)

    async def rebuild(self, index: str, batches: AsyncIterator[Sequence[Upsert]]) -> int:
        directory, writer = await self._run(self._rebuild_start, index)
        loaded = 0
        try:
            async for batch in batches:
                await self._run(self._rebuild_write, index, writer, batch)
                loaded += len(batch)
            await self._run(self._rebuild_switch, index, directory, writer)
        except BaseException:
            shutil.rmtree(self.files.path(index, directory), ignore_errors=True)
            raise
        return loaded

    async def version(self) -> int:
        # A read of a few bytes the kernel keeps cached, asked once per page and per API
        # answer: cheaper done here than the hand-off to a thread and back.
        return self.files.read_version()

    async def ping(self) -> None:
        if not self.root.is_dir():
            raise SearchError(f"no search index directory at {self.root}")

    async def close(self) -> None:
        await self._run(self.writers.release_all)
        self._readers.clear()
        if self._read_pool is not None:
            self._read_pool.shutdown(wait=False)
            self._read_pool = None
