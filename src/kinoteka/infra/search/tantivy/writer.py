"""Tantivy writers: one per index, held while batches keep coming and released when idle.

One process writes an index at a time (Tantivy's writer lock). A writer is kept while batches
keep coming, so merges run in its threads instead of inside the next commit, and released
after `WRITER_IDLE` seconds without one (a CLI run beside `kinoteka up` then gets its turn),
unless it holds `commit=False` batches, which dropping it would lose.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import structlog
import tantivy

from kinoteka.infra.search.port import SearchError, SearchUnavailable, Upsert
from kinoteka.infra.search.tantivy.schema import DocumentEncoder, add_json

log = structlog.get_logger(__name__)

WRITER_HEAP_MIB = 64  # the default memory of a writer; a rebuild's writer gets twice this
WRITER_IDLE = 2.0  # seconds without a batch before a writer's lock is given up


class Writers:
    """The writers of the indexes; `open_writer(index, directory)` opens one, `current(index)`
    names the live version, `bump_version()` moves the write counter after each commit."""

    def __init__(
        self,
        open_writer: Callable[[str, str], tantivy.IndexWriter],
        current: Callable[[str], str],
        bump_version: Callable[[], int],
    ) -> None:
        self.open_writer = open_writer
        self.current = current
        self.bump_version = bump_version
        self.lock = threading.Lock()
        self._writers: dict[str, tuple[str, tantivy.IndexWriter]] = {}
        self.uncommitted: set[str] = set()  # indexes whose writer holds `commit=False` batches
        self._last_write = 0.0
        self._idle_timer: threading.Timer | None = None

    def _writer(self, index: str) -> tantivy.IndexWriter:
        """The index's writer, reopened when a rebuild moved the pointer. Caller holds
        `self.lock`."""
        directory = self.current(index)
        held = self._writers.get(index)
        if held is not None and held[0] == directory:
            return held[1]
        if index in self.uncommitted:
            self.release(index)
            raise SearchUnavailable(
                f"index {index!r} was switched to a new version while batches were uncommitted"
            )
        self.release(index)
        try:
            writer = self.open_writer(index, directory)
        except ValueError as error:
            if "LockBusy" in str(error):
                message = f"index {index!r} is being written by another process"
                raise SearchUnavailable(message) from error
            raise SearchError(str(error)) from error
        self._writers[index] = (directory, writer)
        return writer

    def release(self, index: str) -> None:
        """Drop the index's writer (what it held uncommitted is rolled back). Caller holds
        `self.lock`."""
        held = self._writers.pop(index, None)
        self.uncommitted.discard(index)
        if held is None:
            return
        try:
            held[1].wait_merging_threads()
        except ValueError as error:  # a merge in a version a rebuild has dropped
            log.warning("search.writer.release_failed", index=index, error=str(error))

    def release_idle(self) -> None:
        """Drop writers idle for WRITER_IDLE seconds: other processes may then write.

        A writer holding uncommitted batches is kept: dropping it would lose them."""
        with self.lock:
            if time.monotonic() - self._last_write >= WRITER_IDLE:
                for index in list(self._writers):
                    if index not in self.uncommitted:
                        self.release(index)

    def write(
        self,
        index: str,
        encode: DocumentEncoder,
        upserts: Sequence[Upsert],
        deletes: Sequence[str],
        commit: bool,
        new: bool,
    ) -> None:
        with self.lock:
            writer = self._writer(index)
            try:
                for upsert in upserts:
                    document_id, fields = encode(upsert)
                    if not new:
                        writer.delete_documents_by_term("id", document_id)
                    add_json(writer, fields)
                for document_id in deletes:
                    writer.delete_documents_by_term("id", str(document_id))
                if commit:
                    writer.commit()
            except BaseException:
                writer.rollback()  # drops what earlier `commit=False` batches held too
                self.uncommitted.discard(index)
                raise
            if commit:
                self._committed(index)
            else:
                self._last_write = time.monotonic()
                self.uncommitted.add(index)

    def clear(self, index: str) -> None:
        with self.lock:
            writer = self._writer(index)
            try:
                writer.delete_all_documents()
                writer.commit()
            except BaseException:
                writer.rollback()
                self.uncommitted.discard(index)
                raise
            self._committed(index)

    def _committed(self, index: str) -> None:
        """After a commit of `index`'s writer: bump the version, restart the idle timer.
        Caller holds `self.lock`."""
        self._last_write = time.monotonic()
        self.uncommitted.discard(index)
        self.bump_version()
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        self._idle_timer = threading.Timer(WRITER_IDLE, self.release_idle)
        self._idle_timer.daemon = True
        self._idle_timer.start()

    def release_all(self) -> None:
        with self.lock:
            if self._idle_timer is not None:
                self._idle_timer.cancel()
            for index in list(self._writers):
                self.release(index)
