"""The loader: batches by size and by time, each event counted once whatever happens."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator

import orjson
import pytest
from redis.asyncio import Redis

from kinoteka.analytics.loader import Loader, RefusedRow
from kinoteka.analytics.messages import MAX_EVENTS_PER_MESSAGE, line, lines_of
from kinoteka.analytics.topics import (
    PAGE_TOPICS,
    PLAYER_TOPICS,
    TOPIC_TABLES,
    PageKind,
    PlayerEventType,
)
from kinoteka.analytics.warehouse import COLUMNS
from kinoteka.infra import bus as bus_port
from kinoteka.infra.analytics import AnalyticsStore
from kinoteka.infra.bus import EventBus
from tests.analytics.factories import TOPIC_OF, page_view, player, send

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
    for _ in range(25):  # one event per message: a batch gathers messages up to its size
        await send(bus, [player("pause")])
    assert [await loader.run_once(wait=2) for _ in range(3)] == [10, 10, 5]
    assert await counted(chdb_store, database_name, "clicks_on_video_pauses") == (25, 25)
    assert await loader.run_once(wait=0.1) == 0


async def test_the_next_batch_is_gathered_while_the_last_loads_and_never_takes_it_back(
    bus: EventBus, chdb_store: AnalyticsStore, database_name: str
) -> None:
    # Reclaiming everything pending at every gather: the batch in flight is pending too.
    loader = await make_loader(
        bus, chdb_store, database_name, batch_size=10, max_wait=0.3, reclaim_idle=0.0
    )
    for _ in range(35):
        await send(bus, [player("pause")])
    assert await loader.run_until_idle(0.3) == 35
    assert loader.stats.batches == 4
    assert loader.stats.reclaimed == 0
    assert await counted(chdb_store, database_name, "clicks_on_video_pauses") == (35, 35)


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


async def test_a_message_carries_a_batch_of_one_topic(
    bus: EventBus, flushed_redis: str, chdb_store: AnalyticsStore, database_name: str
) -> None:
    loader = await make_loader(bus, chdb_store, database_name, batch_size=5000, max_wait=0.2)
    await send(bus, [player("pause") for _ in range(MAX_EVENTS_PER_MESSAGE + 5)])
    await send(bus, [player("quality_change") for _ in range(3)])
    client = Redis.from_url(flushed_redis)
    try:
        pauses = await client.xrange(PLAYER_TOPICS[PlayerEventType.PAUSE])
        changes = await client.xrange(PLAYER_TOPICS[PlayerEventType.QUALITY_CHANGE])
    finally:
        await client.aclose()
    assert [len(lines_of(fields[b"b"])) for _, fields in pauses] == [MAX_EVENTS_PER_MESSAGE, 5]
    assert [len(lines_of(fields[b"b"])) for _, fields in changes] == [3]
    assert await loader.run_until_idle(0.3) == MAX_EVENTS_PER_MESSAGE + 8
    assert await counted(chdb_store, database_name, "clicks_on_video_pauses") == (1005, 1005)
    assert await counted(chdb_store, database_name, "video_quality_change_clicks") == (3, 3)


async def test_single_event_messages_of_older_versions_still_load(
    bus: EventBus, chdb_store: AnalyticsStore, database_name: str
) -> None:
    loader = await make_loader(bus, chdb_store, database_name, batch_size=100, max_wait=0.2)
    old = [player("full_view"), player("full_view")]
    # What the collector published before messages carried batches: one event, one message.
    await bus.publish(
        PLAYER_TOPICS[PlayerEventType.FULL_VIEW],
        [orjson.dumps(record.model_dump(mode="json")) for record in old],
    )
    assert await loader.run_until_idle(0.3) == 2
    rows = await chdb_store.query(
        f"SELECT event_id, duration, client_at FROM {database_name}.clicks_on_video_full_views"
        " FINAL"
    )
    found = sorted((r[0], r[1], r[2].replace(tzinfo=dt.UTC)) for r in rows)
    assert found == sorted((e.event_id, e.duration, e.client_at) for e in old)


async def test_rows_clickhouse_refuses_are_kept_and_the_rest_load(
    bus: EventBus, chdb_store: AnalyticsStore, database_name: str
) -> None:
    kept: list[RefusedRow] = []

    async def keep(rows: list[RefusedRow]) -> None:
        kept.extend(rows)

    loader = await make_loader(bus, chdb_store, database_name, batch_size=100, max_wait=0.2)
    loader.on_refused = keep
    good = [player("pause") for _ in range(6)]
    lines = [r.model_dump_json().encode() for r in good]
    bad_uuid = lines[2].replace(str(good[2].film_id).encode(), b"not-a-uuid")
    topic = PLAYER_TOPICS[PlayerEventType.PAUSE]
    await bus.publish(topic, [b"\n".join([lines[0], lines[1], bad_uuid, lines[3], b"[1, 2"])])
    await bus.publish(topic, [b"\n".join(lines[4:])])
    await bus.publish("tracking.unknown", [lines[0]])
    assert await loader.run_until_idle(0.3) == 5
    assert await counted(chdb_store, database_name, "clicks_on_video_pauses") == (5, 5)
    assert loader.stats.malformed == 2  # the unknown topic is not subscribed: never read
    assert sorted((row.index, row.line[:12]) for row in kept) == [
        (2, bad_uuid[:12]), (4, b"[1, 2"),
    ]  # fmt: skip
    assert all(row.topic == topic and row.reason for row in kept)
    assert "uuid" in next(row.reason for row in kept if row.index == 2).lower()
    assert await loader.run_until_idle(0.3) == 0  # acknowledged, not retried


@pytest.mark.parametrize("kind", ["quality_change", "pause", "get_film_by_id"])
async def test_a_line_without_its_zero_defaults_loads_the_row_of_one_spelling_them_out(
    bus: EventBus, chdb_store: AnalyticsStore, database_name: str, kind: str
) -> None:
    loader = await make_loader(bus, chdb_store, database_name, batch_size=100, max_wait=0.2)
    fields: dict[str, object] = {
        "user_id": uuid.uuid4(), "playback_id": None, "from_quality": "", "auto": False
    }  # fmt: skip
    if kind.startswith("get_"):
        short, full = page_view(kind, **fields), page_view(kind, **fields)
    else:
        fields |= {"film_id": uuid.uuid4(), "position": 0.0}
        short, full = player(kind, **fields), player(kind, **fields)
    spelt_out = full.model_dump_json().encode()
    assert len(line(short)) < len(spelt_out) * 0.7
    topic = TOPIC_OF[kind]
    await bus.publish(topic, [line(short), spelt_out])
    assert await loader.run_until_idle(0.3) == 2
    table = TOPIC_TABLES[topic]
    columns = ", ".join(name for name in COLUMNS[table] if name != "event_id")
    rows = await chdb_store.query(
        f"SELECT {columns} FROM {database_name}.{table} FINAL WHERE event_id IN"
        " ({short:UUID}, {full:UUID})",
        {"short": short.event_id, "full": full.event_id},
    )
    assert len(rows) == 2
    assert rows[0] == rows[1]
