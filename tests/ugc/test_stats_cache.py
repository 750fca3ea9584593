"""The in-process cache of film counters: a process's own writes show at once, other
processes' after the time to live, and a read that raced a write never keeps what it read."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from kinoteka.infra import documents as documents_port
from kinoteka.infra.documents import Document, DocumentStore
from kinoteka.ugc import rate_film, rating_summary, remove_rating
from kinoteka.ugc.documents import FILM_STATS
from kinoteka.ugc.service import rendered_rating_summary
from kinoteka.ugc.stats_cache import StatsCachingStore


@pytest.fixture
async def raw(fresh_database: str) -> AsyncIterator[DocumentStore]:
    store = documents_port.from_url(fresh_database)
    yield store
    await store.close()


async def test_own_writes_show_at_once_and_others_after_the_ttl(raw: DocumentStore) -> None:
    film = uuid.uuid4()
    cached = StatsCachingStore(raw, ttl=60)
    assert (await rating_summary(cached, film)).count == 0
    elsewhere = uuid.uuid4()
    await rate_film(raw, elsewhere, film, 3)  # another process: not through this cache
    assert (await rating_summary(cached, film)).count == 0  # served from memory
    me = uuid.uuid4()
    await rate_film(cached, me, film, 9)
    summary = await rating_summary(cached, film)
    assert (summary.count, summary.average) == (2, 6.0)
    await remove_rating(cached, me, film)
    assert (await rating_summary(cached, film)).count == 1

    short = StatsCachingStore(raw, ttl=0.2)
    assert (await rating_summary(short, film)).count == 1
    await rate_film(raw, uuid.uuid4(), film, 5)
    deadline = time.monotonic() + 10
    while (await rating_summary(short, film)).count != 2:
        assert time.monotonic() < deadline, "another process's write never showed"
        await asyncio.sleep(0.05)


class HeldReads:
    """The store, with `get` of the counters held after it read until released."""

    def __init__(self, inner: DocumentStore) -> None:
        self.inner = inner
        self.read = asyncio.Event()
        self.release = asyncio.Event()
        self.reads = 0

    async def get(self, collection: str, key: str) -> Document | None:
        self.reads += 1
        found = await self.inner.get(collection, key)
        if collection == FILM_STATS and not self.release.is_set():
            self.read.set()
            await self.release.wait()
        return found

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


async def test_a_read_racing_a_write_is_not_kept(raw: DocumentStore) -> None:
    film = uuid.uuid4()
    held = HeldReads(raw)
    cached = StatsCachingStore(held, ttl=60)  # type: ignore[arg-type]
    reading = asyncio.create_task(rating_summary(cached, film))
    await held.read.wait()  # it has read "no ratings" and not returned yet
    await rate_film(cached, uuid.uuid4(), film, 7)
    held.release.set()
    assert (await reading).count == 0  # it answers what it read...
    assert (await rating_summary(cached, film)).count == 1  # ...but did not keep it
    reads = held.reads
    assert (await rating_summary(cached, film)).count == 1
    assert held.reads == reads  # this one was kept


async def test_no_ttl_no_cache(raw: DocumentStore) -> None:
    film = uuid.uuid4()
    cached = StatsCachingStore(raw, ttl=0)
    assert (await rating_summary(cached, film)).count == 0
    await rate_film(raw, uuid.uuid4(), film, 1)
    assert (await rating_summary(cached, film)).count == 1


async def test_a_view_is_made_once_per_entry_and_dropped_with_it(raw: DocumentStore) -> None:
    film = uuid.uuid4()
    cached = StatsCachingStore(raw, ttl=60)
    made: list[int] = []

    def count(key: str, stats: Document | None) -> int:
        made.append(1)
        return 0 if stats is None else int(stats["count"])

    assert await cached.view(str(film), count) == 0
    assert await cached.view(str(film), count) == 0
    assert len(made) == 1  # the second from memory
    await rate_film(cached, uuid.uuid4(), film, 4)  # this process's write: seen at once
    assert await cached.view(str(film), count) == 1
    assert len(made) == 2
    rendered = await rendered_rating_summary(cached, film)
    summary = await rating_summary(cached, film)
    assert rendered.json == summary.model_dump_json().encode()
    assert (rendered.count, rendered.reviews) == (1, 0)
    assert await rendered_rating_summary(cached, film) is rendered

    uncached = StatsCachingStore(raw, ttl=0)
    assert await uncached.view(str(film), count) == 1
    await rate_film(raw, uuid.uuid4(), film, 6)
    assert await uncached.view(str(film), count) == 2


async def test_a_view_of_a_read_racing_a_write_is_not_kept(raw: DocumentStore) -> None:
    film = uuid.uuid4()
    held = HeldReads(raw)
    cached = StatsCachingStore(held, ttl=60)  # type: ignore[arg-type]
    reading = asyncio.create_task(rendered_rating_summary(cached, film))
    await held.read.wait()
    await rate_film(cached, uuid.uuid4(), film, 7)
    held.release.set()
    assert (await reading).count == 0
    assert (await rendered_rating_summary(cached, film)).count == 1
