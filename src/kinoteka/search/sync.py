"""`CatalogSync`: keeps the search indexes equal to the catalog, step by step.

The steps live by topic: `load.py` (the full load, read ahead of the index), `changes.py` (the
change queue and the `modified` safety net), `follower.py` (passes woken by NOTIFY),
`status.py` (status and verification). Every step that writes runs under one advisory lock
(`repository.exclusive`), so a rebuild pauses the follower and the queue carries what changed
meanwhile.
"""

from __future__ import annotations

import asyncio

import structlog

from kinoteka.infra.db import Database
from kinoteka.infra.search import SearchIndex
from kinoteka.search import repository
from kinoteka.search.changes import ChangeQueue, PassReport
from kinoteka.search.documents import DocumentKind
from kinoteka.search.follower import CHANNEL, Follower
from kinoteka.search.load import FullLoad, document_pages
from kinoteka.search.parts import LOAD_ORDER, RETRYABLE, SyncParts, is_transient
from kinoteka.search.settings import SearchSettings
from kinoteka.search.state import StateStore, SyncCheckpoint
from kinoteka.search.status import SyncStatus, VerifyReport, sync_status, verify

__all__ = [
    "CHANNEL",
    "LOAD_ORDER",
    "RETRYABLE",
    "CatalogSync",
    "PassReport",
    "SyncStatus",
    "VerifyReport",
    "is_transient",
]

log = structlog.get_logger(__name__)


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
        self.parts = SyncParts(db, index, index_url, store, settings)
        self.changes = ChangeQueue(self.parts)
        self.loader = FullLoad(self.parts)
        self._prepared = False

    @property
    def checkpoint(self) -> SyncCheckpoint:
        return self.parts.checkpoint

    @property
    def index(self) -> SearchIndex:
        return self.parts.index

    @property
    def settings(self) -> SearchSettings:
        return self.parts.settings

    async def prepare(self) -> None:
        """Create missing indexes and read the checkpoint (a new index starts a full load);
        rebuild an index whose layout is older than its definition while it keeps answering."""
        parts = self.parts

        async def step() -> list[str]:
            created = await parts.index.ensure_indexes()
            checkpoint = await parts.store.load()
            if created or checkpoint.index_url != parts.index_url:
                if checkpoint.loaded_at is not None:
                    log.info("sync.reset", reason="new index", created=created)
                checkpoint = SyncCheckpoint(index_url=parts.index_url)
            parts.checkpoint = checkpoint
            return [name for name in await parts.index.outdated() if name not in created]

        outdated = await parts.call(step)
        if outdated:
            log.warning("sync.layout.rebuild", indexes=outdated)
            kinds = [k for k in LOAD_ORDER if parts.indexes.for_kind(k).name in outdated]
            await self._rebuild(kinds)
        self._prepared = True

    async def run_once(self, *, safety: bool = True) -> PassReport:
        """Load what was never loaded, apply every queued change, run the safety pass."""
        if not self._prepared:
            await self.prepare()
        report = PassReport()
        if not self.checkpoint.loaded:
            report.loaded = await self.loader.run()
        await self.changes.drain(report)
        if safety and self.changes.safety_due():
            await self.parts.call(self.changes.safety_pass)
            await self.changes.drain(report)
        return report

    async def full_load(self) -> int:
        return await self.loader.run()

    async def drain(self, report: PassReport | None = None) -> PassReport:
        return await self.changes.drain(report)

    async def safety_pass(self) -> int:
        return await self.changes.safety_pass()

    async def follow(self, stop: asyncio.Event | None = None) -> None:
        """Run passes until `stop` (see `follower.Follower`)."""

        def reset() -> None:
            self._prepared = False  # re-check the indexes: one may have been lost

        await Follower(self.parts, self.run_once, reset).follow(stop)

    async def rebuild(self) -> dict[str, int]:
        """Rebuild every index into a new version and switch to it; searches keep answering."""
        if not self._prepared:
            await self.prepare()
        return await self._rebuild(list(LOAD_ORDER))

    async def _rebuild(self, kinds: list[DocumentKind]) -> dict[str, int]:
        parts = self.parts
        loaded: dict[str, int] = {}
        async with repository.exclusive(parts.db.engine):
            for kind in kinds:
                definition = parts.indexes.for_kind(kind)
                pages = document_pages(parts.db, kind, parts.settings.load_batch_size)
                loaded[definition.name] = await parts.index.rebuild(definition.name, pages)
        return loaded

    async def status(self) -> SyncStatus:
        return await sync_status(self.parts)

    async def verify(self, sample: int = 100) -> VerifyReport:
        """Compare counts and a random sample of documents between catalog and index."""
        return await verify(self.parts, sample)
