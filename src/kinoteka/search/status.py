"""Where the sync stands (`kinoteka sync status`) and whether the index equals the catalog
(`kinoteka sync verify`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from kinoteka.infra.search import MAX_PAGE_SIZE, Document, SearchQuery
from kinoteka.search import repository
from kinoteka.search.parts import LOAD_ORDER, SyncParts
from kinoteka.search.repository.documents import build_documents
from kinoteka.search.state import SyncCheckpoint

DRAINING_WITHIN = dt.timedelta(seconds=60)
"""A backlog is draining when a batch was acknowledged this recently."""


@dataclass
class SyncStatus:
    checkpoint: SyncCheckpoint
    state_store: str
    queued: int
    oldest_queued: dt.datetime | None
    lag_seconds: float
    index_counts: dict[str, int]
    version: int
    draining: bool = False
    """Changes are queued and batches are being acknowledged."""
    drain_rate: float | None = None
    """Changes applied per second, while draining."""
    eta_seconds: float | None = None
    """Seconds until the queued changes are applied at that rate, while draining."""


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


async def sync_status(parts: SyncParts) -> SyncStatus:
    checkpoint = await parts.store.load()
    async with parts.db.engine.connect() as connection:
        queue = await repository.queue_stats(connection)
    counts = {d.name: await parts.index.count(d.name) for d in parts.indexes.all()}
    last = checkpoint.last_batch_at
    draining = bool(queue.queued) and last is not None and queue.now - last <= DRAINING_WITHIN
    rate = checkpoint.drain_rate if draining else None
    return SyncStatus(
        checkpoint=checkpoint,
        state_store=parts.store.describe(),
        queued=queue.queued,
        oldest_queued=queue.oldest,
        lag_seconds=(queue.now - queue.oldest).total_seconds() if queue.oldest else 0.0,
        index_counts=counts,
        version=await parts.index.version(),
        draining=draining,
        drain_rate=rate,
        eta_seconds=queue.queued / rate if rate else None,
    )


async def verify(parts: SyncParts, sample: int = 100) -> VerifyReport:
    """Compare counts and a random sample of documents between catalog and index."""
    report = VerifyReport()
    await parts.index.refresh()
    async with parts.db.engine.connect() as connection:
        report.queued = await repository.queued_count(connection)
        for kind in LOAD_ORDER:
            name = parts.indexes.for_kind(kind).name
            catalog = await repository.catalog_count(connection, kind)
            report.counts[name] = (catalog, await parts.index.count(name))
            ids = await repository.sample_ids(connection, kind, sample)
            expected = await build_documents(connection, kind, ids)
            report.sampled += len(expected)
            indexed = await _indexed(parts, name, [document["id"] for document in expected])
            report.mismatched[name] = [
                document["id"] for document in expected if indexed.get(document["id"]) != document
            ]
    return report


async def _indexed(parts: SyncParts, name: str, ids: list[str]) -> dict[str, Document]:
    """The documents of `ids` the index holds, by id: one search per page, not one get each."""
    found: dict[str, Document] = {}
    for start in range(0, len(ids), MAX_PAGE_SIZE):
        page = ids[start : start + MAX_PAGE_SIZE]
        hits = await parts.index.search(
            SearchQuery(name, filters={"id": page}, limit=MAX_PAGE_SIZE)
        )
        found.update((document["id"], document) for document in hits.documents)
    return found
