"""The analytics store contract: chDB in-process, and a ClickHouse server when
`KINOTEKA_TEST_CLICKHOUSE_URL` (http://user:password@host:8123) is set. Same SQL on both."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import AsyncIterator

import orjson
import pytest

from kinoteka.infra import analytics as store_port
from kinoteka.infra.analytics import (
    AnalyticsRowsRejected,
    AnalyticsStore,
    AnalyticsStoreError,
    AnalyticsStoreUnavailable,
)
from kinoteka.infra.outage import StoreUnavailable


@pytest.fixture(params=["chdb", "server"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[AnalyticsStore]:
    if request.param == "chdb":
        # chDB keeps one data directory per process: the analytics tests' one.
        chdb: AnalyticsStore = request.getfixturevalue("chdb_store")
        yield chdb
        return
    url = os.environ.get("KINOTEKA_TEST_CLICKHOUSE_URL", "")
    if not url:
        pytest.skip("no ClickHouse server; set KINOTEKA_TEST_CLICKHOUSE_URL to run")
    server = store_port.from_url(url)
    yield server
    await server.close()


@pytest.fixture
async def database(store: AnalyticsStore) -> AsyncIterator[str]:
    name = f"c_{uuid.uuid4().hex[:10]}"
    await store.command(f"CREATE DATABASE {name}")
    yield name
    await store.command(f"DROP DATABASE IF EXISTS {name}")


async def test_rows_go_in_and_come_back_with_bound_parameters(
    store: AnalyticsStore, database: str
) -> None:
    await store.command(
        f"CREATE TABLE {database}.t (id UUID, n UInt32, at DateTime64(3, 'UTC'))"
        " ENGINE = MergeTree ORDER BY id"
    )
    at = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
    rows = [[uuid.uuid4(), n, at] for n in range(5)]
    await store.insert(f"{database}.t", rows, ["id", "n", "at"])
    found = await store.query(
        f"SELECT count(), sum(n) FROM {database}.t WHERE n >= {{low:UInt32}}", {"low": 2}
    )
    assert found == [(3, 9)]
    (first,) = await store.query(f"SELECT at FROM {database}.t LIMIT 1")
    assert first[0].replace(tzinfo=dt.UTC) == at


async def test_a_repeated_block_with_its_token_is_dropped(
    store: AnalyticsStore, database: str
) -> None:
    await store.command(
        f"CREATE TABLE {database}.t (id UUID) ENGINE = MergeTree ORDER BY id"
        " SETTINGS non_replicated_deduplication_window = 100"
    )
    rows = [[uuid.uuid4()] for _ in range(3)]
    for _ in range(2):
        await store.insert(f"{database}.t", rows, ["id"], dedup_token="block-1")
    await store.insert(f"{database}.t", rows, ["id"], dedup_token="block-2")
    assert await store.query(f"SELECT count() FROM {database}.t") == [(6,)]


async def test_errors_are_the_ports(store: AnalyticsStore, database: str) -> None:
    with pytest.raises(AnalyticsStoreError):
        await store.query(f"SELECT nothing FROM {database}.missing")
    await store.ping()


def test_unknown_schemes_are_refused() -> None:
    with pytest.raises(ValueError, match="unsupported analytics store URL scheme"):
        store_port.from_url("mysql://localhost")


async def test_json_lines_load_and_refused_lines_are_named(
    store: AnalyticsStore, database: str
) -> None:
    await store.command(
        f"CREATE TABLE {database}.t (id UUID, n UInt32, at DateTime64(3, 'UTC'))"
        " ENGINE = MergeTree ORDER BY id"
    )
    ids = [uuid.uuid4() for _ in range(6)]
    lines = [
        orjson.dumps({"id": str(i), "n": n, "at": "2026-12-01T12:00:00.250Z", "extra": True})
        for n, i in enumerate(ids)
    ]
    assert await store.insert_json(f"{database}.t", lines[:2]) == 2
    lines[3] = b'{"id": "nope", "n": 3}'
    lines[5] = b"{not json"
    with pytest.raises(AnalyticsRowsRejected) as refused:
        await store.insert_json(f"{database}.t", lines[2:], dedup_token="b")
    assert refused.value.loaded == 2
    assert [row.index for row in refused.value.rejected] == [1, 3]
    assert all(row.reason for row in refused.value.rejected)
    found = await store.query(f"SELECT id, at FROM {database}.t ORDER BY n")
    assert [row[0] for row in found] == [ids[0], ids[1], ids[2], ids[4]]
    at = dt.datetime(2026, 12, 1, 12, 0, 0, 250_000, tzinfo=dt.UTC)
    assert found[0][1].replace(tzinfo=dt.UTC) == at


async def test_json_blocks_past_the_parallel_parsers_segment_load_whole(
    store: AnalyticsStore, database: str
) -> None:
    # Small blocks are parsed in one thread, larger ones in ClickHouse's parallel parser.
    await store.command(
        f"CREATE TABLE {database}.t (n UInt32, s String) ENGINE = MergeTree ORDER BY n"
    )
    filler = "x" * 1000
    lines = [orjson.dumps({"n": n, "s": filler}) for n in range(12_000)]
    assert sum(len(line) + 1 for line in lines) > 11 * 1024 * 1024
    assert await store.insert_json(f"{database}.t", lines[:10]) == 10
    assert await store.insert_json(f"{database}.t", lines[10:]) == 11_990
    assert await store.query(f"SELECT count(), sum(n) FROM {database}.t") == [
        (12_000, sum(range(12_000)))
    ]


async def test_a_store_that_cannot_be_reached_is_unavailable() -> None:
    down = store_port.from_url("http://127.0.0.1:1")
    try:
        with pytest.raises(AnalyticsStoreUnavailable) as error:
            await down.ping()
        assert isinstance(error.value, StoreUnavailable)
    finally:
        await down.close()
