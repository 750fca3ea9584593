"""The loader: bus -> ClickHouse in batches (by size and by time), acknowledged after insert.

A batch closes at `batch_size` events (at least: a message is never split) or `max_wait`
seconds after its first event, whichever comes first; its messages' JSON lines are inserted
as they are, one `INSERT … FORMAT JSONEachRow` per table (`messages`, `warehouse`), and only
then acknowledged on the bus. A loader killed between the two leaves its deliveries pending:
the next loader takes them over (`reclaim` after `reclaim_idle`) and inserts them again, and
ClickHouse counts them once (see `warehouse`). Rows ClickHouse refuses (and messages of a
topic with no table) go to `on_refused` with the reason (the failed-events store) and are
acknowledged with the rest, never retried forever; the batch's other rows load.

`run` and `run_until_idle` gather the next batch from the bus while the last one loads (the
insert runs in the store's thread, off the event loop), so reading the bus and inserting
overlap; at most two batches are in memory, and each is acknowledged only after its insert.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import math
import os
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import structlog

from kinoteka.analytics.messages import MAX_EVENTS_PER_MESSAGE, lines_of
from kinoteka.analytics.topics import ALL_TOPICS, TOPIC_TABLES
from kinoteka.analytics.warehouse import create_tables, dedup_token, insert_lines
from kinoteka.infra.analytics import AnalyticsRowsRejected, AnalyticsStore, AnalyticsStoreError
from kinoteka.infra.bus import BusError, Delivery, EventBus
from kinoteka.infra.outage import StoreUnavailable

log = structlog.get_logger(__name__)

RETRY_DELAY = 1.0
MAX_MESSAGES_PER_READ = 200
"""Messages asked for in one read: with the events-per-message estimate, bounds a batch."""


@dataclass(frozen=True)
class RefusedRow:
    """An event the loader could not load: its message, its line there, and why."""

    topic: str
    message_id: str
    index: int
    line: bytes
    reason: str


RefusedSink = Callable[[list[RefusedRow]], Awaitable[None]]


@dataclass
class _Block:
    """One table's lines in a batch, with the delivery each run of lines came from."""

    lines: list[bytes] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    token: str = ""

    def add(self, delivery: Delivery, lines: list[bytes]) -> None:
        self.starts.append(len(self.lines))
        self.deliveries.append(delivery)
        self.lines.extend(lines)

    def origin(self, index: int) -> tuple[Delivery, int]:
        at = bisect.bisect_right(self.starts, index) - 1
        return self.deliveries[at], index - self.starts[at]


@dataclass(frozen=True)
class _Batch:
    """Deliveries ready to load: each table's block, and the rows of topics with no table."""

    deliveries: Sequence[Delivery]
    blocks: dict[str, _Block]
    unrouted: list[RefusedRow]


def _sorted(deliveries: Sequence[Delivery]) -> _Batch:
    """Split messages into lines, table by table, each block with its deduplication token."""
    blocks: dict[str, _Block] = {}
    unrouted: list[RefusedRow] = []
    for delivery in deliveries:
        lines = lines_of(delivery.body)
        table = TOPIC_TABLES.get(delivery.topic)
        if table is None:
            reason = f"no table for topic {delivery.topic!r}"
            unrouted += [
                RefusedRow(delivery.topic, delivery.id, index, line, reason)
                for index, line in enumerate(lines)
            ]
            continue
        blocks.setdefault(table, _Block()).add(delivery, lines)
    for table, block in blocks.items():
        block.token = dedup_token(table, block.lines)
    return _Batch(deliveries, blocks, unrouted)


def _events_in(delivery: Delivery) -> int:
    return delivery.body.count(b"\n") + 1


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass
class LoaderStats:
    loaded: int = 0
    batches: int = 0
    malformed: int = 0
    """Events refused: rows ClickHouse would not take, messages of an unknown topic."""
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
        batch_size: int = 20_000,
        max_wait: float = 1.0,
        reclaim_idle: float = 30.0,
        on_refused: RefusedSink | None = None,
    ) -> None:
        self.bus = bus
        self.store = store
        self.database = database
        self.group = group
        self.consumer = consumer or consumer_name()
        self.batch_size = batch_size
        self.max_wait = max_wait
        self.reclaim_idle = reclaim_idle
        self.on_refused = on_refused
        self.stats = LoaderStats()
        self._last_reclaim = float("-inf")
        # Events per message lately: how many messages to ask for to fill a batch. Starting
        # at the most a message holds, the first read never overshoots.
        self._per_message = float(MAX_EVENTS_PER_MESSAGE)

    def _messages_for(self, events: int) -> int:
        wanted = math.ceil(max(self.batch_size - events, 1) / self._per_message)
        return max(1, min(MAX_MESSAGES_PER_READ, wanted))

    def _observe(self, deliveries: Sequence[Delivery]) -> int:
        events = sum(_events_in(delivery) for delivery in deliveries)
        if deliveries:
            self._per_message = max(1.0, events / len(deliveries))
        return events

    async def prepare(self) -> None:
        """Create the database and tables, and the consumer group (both idempotent)."""
        await create_tables(self.store, self.database)
        await self.bus.subscribe(ALL_TOPICS, self.group)

    async def _gather(self, wait: float, loading: Sequence[Delivery] = ()) -> list[Delivery]:
        """The next batch; `loading` is the batch in flight, which reclaim leaves alone."""
        deliveries: list[Delivery] = []
        events = 0
        now = time.monotonic()
        if now - self._last_reclaim >= self.reclaim_idle / 2:
            self._last_reclaim = now
            reclaimed = await self.bus.reclaim(
                ALL_TOPICS,
                self.group,
                self.consumer,
                min_idle_seconds=self.reclaim_idle,
                max_count=self._messages_for(0),
            )
            # Our own batch in flight is pending too: taking it again would load it twice.
            busy = {(delivery.topic, delivery.id) for delivery in loading}
            deliveries = [d for d in reclaimed if (d.topic, d.id) not in busy]
            self.stats.reclaimed += len(deliveries)
            events = self._observe(deliveries)
        deadline = None if not deliveries else time.monotonic() + self.max_wait
        first_wait = wait
        while events < self.batch_size:
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
                max_count=self._messages_for(events),
                wait_seconds=min(timeout, self.max_wait),
            )
            if got and deadline is None:
                deadline = time.monotonic() + self.max_wait
            deliveries.extend(got)
            events += self._observe(got)
            if not got and deadline is None:
                break  # nothing came within `wait`
        return deliveries

    async def load(self, deliveries: Sequence[Delivery]) -> int:
        """Insert `deliveries` table by table, hand refused rows to `on_refused`, then
        acknowledge them all; returns events loaded."""
        return await self._load(_sorted(deliveries))

    async def _load(self, batch: _Batch) -> int:
        started = time.monotonic()
        refused = list(batch.unrouted)
        loaded = 0
        for table, block in batch.blocks.items():
            try:
                loaded += await insert_lines(
                    self.store, self.database, table, block.lines, block.token
                )
            except AnalyticsRowsRejected as rejected:
                loaded += rejected.loaded
                for row in rejected.rejected:
                    delivery, index = block.origin(row.index)
                    refused.append(
                        RefusedRow(
                            delivery.topic, delivery.id, index, block.lines[row.index], row.reason
                        )
                    )
        if refused:
            log.warning(
                "analytics.rows_refused",
                refused=len(refused),
                first=refused[0].reason[:300],
                topic=refused[0].topic,
            )
            if self.on_refused is not None:
                await self.on_refused(refused)
        await self.bus.ack(self.group, batch.deliveries)
        self.stats.malformed += len(refused)
        self.stats.loaded += loaded
        self.stats.batches += 1
        self.stats.last_batch_seconds = time.monotonic() - started
        log.debug("analytics.batch_loaded", events=loaded, tables=len(batch.blocks))
        return loaded

    async def run_once(self, wait: float | None = None) -> int:
        """One batch: gather (waiting at most `wait` for the first event), load, ack."""
        deliveries = await self._gather(self.max_wait if wait is None else wait)
        if not deliveries:
            return 0
        return await self._load_until_done(_sorted(deliveries))

    async def _load_until_done(self, batch: _Batch) -> int:
        while True:
            try:
                return await self._load(batch)
            except (AnalyticsStoreError, BusError, StoreUnavailable) as error:
                # Not acknowledged: retried here, or reclaimed by another loader if we die.
                self.stats.errors.append(str(error)[:300])
                del self.stats.errors[:-20]
                log.warning("analytics.load_failed", error=str(error)[:300])
                await asyncio.sleep(RETRY_DELAY)

    async def _flow(self, wait: float, stop: asyncio.Event | None = None) -> int:
        """Batches until one gathers nothing within `wait` (or `stop` is set), each gathered
        while the one before it loads; returns events loaded."""
        total = 0
        batch = _sorted(await self._gather(wait))
        while batch.deliveries:
            loading = asyncio.ensure_future(self._load_until_done(batch))
            try:
                following = (
                    []
                    if stop is not None and stop.is_set()
                    else await self._gather(wait, batch.deliveries)
                )
            except BaseException:
                # Not acknowledged: reclaimed later, and counted once (see `warehouse`).
                loading.cancel()
                raise
            # Split and hashed while the insert runs, not between one insert and the next.
            next_batch = _sorted(following)
            total += await loading
            batch = next_batch
        return total

    async def run(self, stop: asyncio.Event) -> None:
        """Load until `stop` is set; a bus outage is waited out, not fatal."""
        while not stop.is_set():
            try:
                await self._flow(self.max_wait, stop)
            except BusError as error:
                log.warning("analytics.bus_unavailable", error=str(error)[:300])
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), RETRY_DELAY)

    async def run_until_idle(self, idle: float = 1.0) -> int:
        """Load until no event comes for `idle` seconds (pending ones reclaimed at once)."""
        return await self._flow(idle)
