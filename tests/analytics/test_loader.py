"""The loader: batches by size and by time, each event counted once whatever happens."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from kinoteka.analytics.loader import Loader
from kinoteka.analytics.topics import PAGE_TOPICS, PageKind
from kinoteka.analytics.warehouse import COLUMNS
from kinoteka.infra import bus as bus_port
from kinoteka.infra.analytics import AnalyticsStore
from kinoteka.infra.bus import EventBus
from tests.analytics.factories import page_view, player, send

GROUP = "loader-test"


@pytest.fixture
async def bus(flushed_redis: str) -> AsyncIterator[EventBus]:
    opened = bus_port.from_url(flushed_redis)
    yield opened
    await opened.close()


async def make_loader(
    bus: EventBus, store: AnalyticsStore, database: str, **options: float
) -> Loader:
    loader = Loader(bus, store, database, group=GROUP, consumer="one", **options)  # type: ignore[arg-type]
    await loader.prepare()
    return loader


async def counted(store: AnalyticsStore, database: str, table: str) -> tuple[int, int]:
    """(rows stored, events counted once)."""
    raw = await store.query(f"SELECT count() FROM {database}.{table}")
    final = await store.query(f"SELECT count() FROM {database}.{table} FINAL")
    return int(raw[0][0]), int(final[0][0])


async def test_first_start_creates_the_ten_seed_tables(
    bus: EventBus, chdb_store: AnalyticsStore, database_name: str
) -> None:
    await make_loader(bus, chdb_store, database_name)
    await make_loader(bus, chdb_store, database_name)  # and a second start changes nothing
    tables = {
        row[0]
        for row in await chdb_store.query(
            "SELECT name FROM system.tables WHERE database = {db:String}", {"db": database_name}
        )
    }
    seed = {
        "video_quality_change_clicks", "clicks_on_video_pauses", "clicks_on_video_full_views",
        "get_films_page_views", "get_film_by_id_page_views",
        "search_films_by_keyword_page_views", "get_genres_page_views",
        "get_genre_by_id_page_views", "get_person_by_id_page_views",
        "search_persons_by_keyword_page_views",
    }  # fmt: skip
    assert seed <= tables
    assert tables == set(COLUMNS)


async def test_batches_close_at_their_size(
    bus: EventBus, chdb_store: AnalyticsStore, database_name: str
) -> None:
    loader = await make_loader(bus, chdb_store, database_name, batch_size=10, max_wait=0.3)
    await send(bus, [player("pause") for _ in range(25)])
    assert [await loader.run_once(wait=2) for _ in range(3)] == [10, 10, 5]
    assert await counted(chdb_store, database_name, "clicks_on_video_pauses") == (25, 25)
    assert await loader.run_once(wait=0.1) == 0


async def test_batches_close_after_their_time(
    bus: EventBus, chdb_store: AnalyticsStore, database_name: str
) -> None:
    loader = await make_loader(bus, chdb_store, database_name, batch_size=1000, max_wait=0.3)
    await send(bus, [page_view(PageKind.FILM_BY_ID.value) for _ in range(3)])
    started = time.monotonic()
    assert await loader.run_once(wait=2) == 3
    assert time.monotonic() - started < 2.5
    assert await counted(chdb_store, database_name, "get_film_by_id_page_views") == (3, 3)


async def test_a_resent_event_is_counted_once(
    bus: EventBus, chdb_store: AnalyticsStore, database_name: str
) -> None:
    loader = await make_loader(bus, chdb_store, database_name, batch_size=100, max_wait=0.2)
    first = player("full_view")
    resent = first.model_copy(update={"server_at": first.server_at.replace(second=30)})
    await send(bus, [first, player("full_view")])
    await loader.run_until_idle(0.3)
    await send(bus, [resent])  # a client resending its batch: same event_id, later arrival
    await loader.run_until_idle(0.3)
    assert await counted(chdb_store, database_name, "clicks_on_video_full_views") == (3, 2)


async def test_a_malformed_message_is_skipped_not_retried(
    bus: EventBus, chdb_store: AnalyticsStore, database_name: str
) -> None:
    loader = await make_loader(bus, chdb_store, database_name, batch_size=100, max_wait=0.2)
    topic = PAGE_TOPICS[PageKind.GENRES]
    await bus.publish(
        topic, [b"{not json", page_view(PageKind.GENRES.value).model_dump_json().encode()]
    )
    assert await loader.run_until_idle(0.3) == 1
    assert loader.stats.malformed == 1
    assert await loader.run_until_idle(0.3) == 0
    assert await counted(chdb_store, database_name, "get_genres_page_views") == (1, 1)
