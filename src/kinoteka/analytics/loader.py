"""The loader: bus -> ClickHouse in batches (by size and by time), acknowledged after insert.

A batch closes at `batch_size` events or `max_wait` seconds after its first event, whichever
comes first; it is inserted table by table and only then acknowledged on the bus. A loader
killed between the two leaves its deliveries pending: the next loader takes them over
(`reclaim` after `reclaim_idle`) and inserts them again, and ClickHouse counts them once (see
`warehouse`). A malformed message is logged and acknowledged, never retried forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import structlog
from pydantic import ValidationError

from kinoteka.analytics.schemas import BusRecord
from kinoteka.analytics.topics import ALL_TOPICS, TOPIC_TABLES
from kinoteka.analytics.warehouse import create_tables, insert_records
from kinoteka.infra.analytics import AnalyticsStore, AnalyticsStoreError
from kinoteka.infra.bus import BusError, Delivery, EventBus

log = structlog.get_logger(__name__)

RETRY_DELAY = 1.0


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass
class LoaderStats:
    loaded: int = 0
    batches: int = 0
    malformed: int = 0
    reclaimed: int = 0
    last_batch_seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


class Loader:
    def __init__(
        self,
        bus: EventBus,
        store: AnalyticsStore,
        database: str,
        *,
        group: str,
        consumer: str | None = None,
        batch_size: int = 5000,
        max_wait: float = 1.0,
        reclaim_idle: float = 30.0,
    ) -> None:
        self.bus = bus
        self.store = store
        self.database = database
        self.group = group
        self.consumer = consumer or consumer_name()
        self.batch_size = batch_size
        self.max_wait = max_wait
        self.reclaim_idle = reclaim_idle
        self.stats = LoaderStats()
        self._last_reclaim = float("-inf")

    async def prepare(self) -> None:
        """Create the database and tables, and the consumer group (both idempotent)."""
        await create_tables(self.store, self.database)
        await self.bus.subscribe(ALL_TOPICS, self.group)

    async def _gather(self, wait: float) -> list[Delivery]:
        deliveries: list[Delivery] = []
        now = time.monotonic()
        if now - self._last_reclaim >= self.reclaim_idle / 2:
            self._last_reclaim = now
            deliveries = await self.bus.reclaim(
                ALL_TOPICS,
                self.group,
                self.consumer,
                min_idle_seconds=self.reclaim_idle,
                max_count=self.batch_size,
            )
            self.stats.reclaimed += len(deliveries)
        deadline = None if not deliveries else time.monotonic() + self.max_wait
        first_wait = wait
        while len(deliveries) < self.batch_size:
            if deadline is None:
                timeout = first_wait
            else:
                timeout = deadline - time.monotonic()
                if timeout <= 0:
                    break
            got = await self.bus.receive(
                ALL_TOPICS,
                self.group,
                self.consumer,
                max_count=self.batch_size - len(deliveries),
                wait_seconds=min(timeout, self.max_wait),
            )
            if got and deadline is None:
                deadline = time.monotonic() + self.max_wait
            deliveries.extend(got)
            if not got and deadline is None:
                break  # nothing came within `wait`
        return deliveries

    async def load(self, deliveries: Sequence[Delivery]) -> int:
        """Insert `deliveries` table by table, then acknowledge them all; returns events loaded."""
        by_table: dict[str, list[BusRecord]] = {}
        for delivery in deliveries:
            table = TOPIC_TABLES.get(delivery.topic)
            try:
                if table is None:
                    raise ValueError(f"no table for topic {delivery.topic!r}")
                record = BusRecord.model_validate_json(delivery.body)
            except (ValidationError, ValueError) as error:
                self.stats.malformed += 1
                log.warning(
                    "analytics.malformed_message",
                    topic=delivery.topic,
                    id=delivery.id,
                    error=str(error)[:300],
                )
                continue
            by_table.setdefault(table, []).append(record)
        started = time.monotonic()
        for table, records in by_table.items():
            await insert_records(self.store, self.database, table, records)
        await self.bus.ack(self.group, deliveries)
        loaded = sum(len(records) for records in by_table.values())
        self.stats.loaded += loaded
        self.stats.batches += 1
        self.stats.last_batch_seconds = time.monotonic() - started
        log.debug("analytics.batch_loaded", events=loaded, tables=len(by_table))
        return loaded

    async def run_once(self, wait: float | None = None) -> int:
        """One batch: gather (waiting at most `wait` for the first event), load, ack."""
        deliveries = await self._gather(self.max_wait if wait is None else wait)
        if not deliveries:
            return 0
        while True:
            try:
                return await self.load(deliveries)
            except (AnalyticsStoreError, BusError) as error:
                # Not acknowledged: retried here, or reclaimed by another loader if we die.
                self.stats.errors.append(str(error)[:300])
                del self.stats.errors[:-20]
                log.warning("analytics.load_failed", error=str(error)[:300])
                await asyncio.sleep(RETRY_DELAY)

    async def run(self, stop: asyncio.Event) -> None:
        """Load until `stop` is set; a bus outage is waited out, not fatal."""
        while not stop.is_set():
            try:
                await self.run_once()
            except BusError as error:
                log.warning("analytics.bus_unavailable", error=str(error)[:300])
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), RETRY_DELAY)

    async def run_until_idle(self, idle: float = 1.0) -> int:
        """Load until no event comes for `idle` seconds (pending ones reclaimed at once)."""
        total = 0
        while loaded := await self.run_once(wait=idle):
            total += loaded
        return total
