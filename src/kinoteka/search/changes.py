"""The change queue and its safety net.

Triggers on `content.*` append changed ids (fanned out to the films that embed a person or a
genre) to `search.change` and NOTIFY; a batch reads queue rows, builds the documents of the ids
that still exist (one query per kind), upserts them and deletes the rest, and only after the
index acknowledged removes exactly the rows it read (remembering them in `search.applied`) and
saves the checkpoint. A row committed late by a long transaction is still in the queue for the
next batch.

The safety pass queues what the `modified` columns say changed since its last pass (with an
overlap for long transactions), except what the queue already carried: a change to the same
entity recorded at or after that `modified`, still queued or acknowledged. After a bulk write
it therefore queues nothing the triggers delivered, however many rows the overlap re-reads.
"""

from __future__ import annotations

import datetime as dt
import functools
import time
import uuid
from dataclasses import dataclass

import structlog

from kinoteka.infra.search import EncodedDocument
from kinoteka.search import repository
from kinoteka.search.documents import DocumentKind
from kinoteka.search.parts import LOAD_ORDER, SyncParts, now
from kinoteka.search.repository.documents import encoded_documents

log = structlog.get_logger(__name__)

RATE_SMOOTHING = 0.3  # weight of the latest drain in the drain rate `sync status` shows


@dataclass
class PassReport:
    loaded: int = 0
    upserted: int = 0
    deleted: int = 0
    batches: int = 0


class ChangeQueue:
    """Applies queued changes to the index, batch by batch (see the module docstring)."""

    def __init__(self, parts: SyncParts) -> None:
        self.parts = parts

    async def drain(self, report: PassReport | None = None) -> PassReport:
        """Apply queued changes batch by batch until the queue is empty."""
        report = report or PassReport()
        started, applied = time.monotonic(), 0
        while True:
            batch = functools.partial(self._batch, report, started, applied)
            read = await self.parts.call(batch)
            applied += read
            if read < self.parts.settings.batch_size:
                return report

    async def _batch(self, report: PassReport, started: float, applied: int) -> int:
        parts = self.parts
        async with repository.exclusive(parts.db.engine) as connection:
            changes = await repository.read_changes(connection, parts.settings.batch_size)
            if not changes:
                await connection.commit()
                return 0
            wanted: dict[DocumentKind, dict[uuid.UUID, None]] = {kind: {} for kind in LOAD_ORDER}
            for change in changes:
                wanted[change.kind][change.entity_id] = None
            writes: list[tuple[str, list[EncodedDocument], list[str]]] = []
            for kind, ids in wanted.items():
                if not ids:
                    continue
                documents = await encoded_documents(connection, kind, list(ids))
                found = {document.id for document in documents}
                gone = [str(i) for i in ids if str(i) not in found]
                writes.append((parts.indexes.for_kind(kind).name, documents, gone))
            await connection.commit()
            for name, documents, gone in writes:
                await parts.index.bulk(name, documents, gone)
                report.upserted += len(documents)
                report.deleted += len(gone)
            # Acknowledged: forget exactly the rows read (later ones stay), then checkpoint.
            await repository.acknowledge_changes(connection, changes)
            checkpoint = parts.checkpoint
            checkpoint.last_batch_at = now()
            checkpoint.documents += sum(len(d) + len(g) for _, d, g in writes)
            elapsed = time.monotonic() - started
            if elapsed > 0:
                rate = (applied + len(changes)) / elapsed
                previous = checkpoint.drain_rate
                checkpoint.drain_rate = (
                    rate if previous is None else previous + RATE_SMOOTHING * (rate - previous)
                )
            await parts.save(connection)
            report.batches += 1
            log.info(
                "sync.batch",
                changes=len(changes),
                upserted=sum(len(d) for _, d, _ in writes),
                deleted=sum(len(g) for _, _, g in writes),
            )
            return len(changes)

    def safety_due(self) -> bool:
        last = self.parts.checkpoint.safety_at
        interval = self.parts.settings.safety_interval
        return last is None or (now() - last).total_seconds() >= interval

    async def safety_pass(self) -> int:
        """Queue the changes since the last pass (with overlap) the triggers did not deliver;
        how many."""
        parts = self.parts
        checkpoint = parts.checkpoint
        floor = checkpoint.loaded_at
        overlap = dt.timedelta(seconds=parts.settings.overlap)
        async with repository.exclusive(parts.db.engine) as connection:
            current = await repository.database_now(connection)
            queued = 0
            for table in repository.SAFETY_TABLES:
                lower = checkpoint.safety_cursor.get(table, floor or current) - overlap
                if floor is not None:
                    lower = max(lower, floor)
                queued += await repository.queue_missed_changes(connection, table, lower)
                checkpoint.safety_cursor[table] = current
            # The next pass reads back to `current - overlap`: older acknowledgements are moot.
            await repository.forget_applied_before(connection, current - overlap)
            checkpoint.safety_at = current
            await parts.save(connection)
        if queued:
            log.info("sync.safety_pass", queued=queued)
        return queued
