"""The ClickHouse side: database `tracking_user_events`, its tables, and rows from bus records.

Every table is a ReplacingMergeTree keyed by `event_id`: an event loaded twice (a loader killed
between insert and ack, a client resending its batch) is one row after merges, and every query
reads with FINAL so it counts each event once before merges too. Inserts also carry a
deduplication token (a hash of the block's lines), so a block re-inserted as-is after a crash
is dropped at once.

The loader inserts the bus's JSON lines as they are (`insert_lines`, ClickHouse's
`JSONEachRow`): a `BusRecord`'s fields a table lacks are ignored. `row()` gives the same row
as a list of values, for inserting records built in Python.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from kinoteka.analytics.schemas import BusRecord
from kinoteka.analytics.topics import PAGE_TABLES, PLAYER_TABLES
from kinoteka.infra.analytics import AnalyticsStore

_PLAYER_COLUMNS = """
    event_id UUID,
    user_id UUID,
    film_id UUID,
    playback_id Nullable(UUID),
    position Float64,
    client_at DateTime64(3, 'UTC'),
    server_at DateTime64(3, 'UTC'),
    schema_version UInt8"""

_PAGE_COLUMNS = """
    event_id UUID,
    user_id Nullable(UUID),
    object_id Nullable(UUID),
    query String,
    page_number Nullable(UInt32),
    page_size Nullable(UInt32),
    server_at DateTime64(3, 'UTC'),
    schema_version UInt8"""

_PLAYER_EXTRA = {
    "clicks_on_video_pauses": "",
    "clicks_on_video_full_views": ",\n    duration Float64",
    "video_quality_change_clicks": ",\n    from_quality LowCardinality(String),"
    "\n    to_quality LowCardinality(String),\n    height Nullable(UInt32),"
    "\n    bitrate Nullable(UInt64),\n    auto Bool",
    "player_events": ",\n    type LowCardinality(String),\n    duration Nullable(Float64),"
    "\n    from_position Nullable(Float64),\n    message String,\n    fatal Bool",
}

# Inserts with the same token within this many recent blocks are dropped (non-replicated).
_SETTINGS = "SETTINGS non_replicated_deduplication_window = 1000"

COLUMNS: dict[str, tuple[str, ...]] = {}


def _names(ddl: str) -> tuple[str, ...]:
    return tuple(line.strip().split()[0] for line in ddl.strip().rstrip(",").split(",\n"))


def table_statements(database: str) -> list[str]:
    """CREATE DATABASE and the tables, each IF NOT EXISTS: safe on every start."""
    statements = [f"CREATE DATABASE IF NOT EXISTS {database}"]
    for table in sorted(set(PLAYER_TABLES.values())):
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {database}.{table} ({_PLAYER_COLUMNS}"
            f"{_PLAYER_EXTRA[table]}\n) ENGINE = ReplacingMergeTree"
            " PARTITION BY toYYYYMM(client_at) ORDER BY (film_id, event_id) " + _SETTINGS
        )
    for table in sorted(PAGE_TABLES.values()):
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {database}.{table} ({_PAGE_COLUMNS}\n)"
            " ENGINE = ReplacingMergeTree PARTITION BY toYYYYMM(server_at) ORDER BY event_id "
            + _SETTINGS
        )
    return statements


for _table in set(PLAYER_TABLES.values()):
    COLUMNS[_table] = _names(_PLAYER_COLUMNS + _PLAYER_EXTRA[_table])
for _table in PAGE_TABLES.values():
    COLUMNS[_table] = _names(_PAGE_COLUMNS)


async def create_tables(store: AnalyticsStore, database: str) -> None:
    for statement in table_statements(database):
        await store.command(statement)


def row(table: str, record: BusRecord) -> list[Any]:
    values = [getattr(record, name) for name in COLUMNS[table]]
    if "client_at" in COLUMNS[table] and record.client_at is None:
        values[COLUMNS[table].index("client_at")] = record.server_at
    return values


def dedup_token(table: str, lines: Sequence[bytes]) -> str:
    """The SHA-256 of the table's name and of each line followed by a newline."""
    digest = hashlib.sha256(table.encode())
    if lines:
        # One pass over the joined block: a call per line cost more than the hashing.
        digest.update(b"\n".join(lines))
        digest.update(b"\n")
    return digest.hexdigest()


async def insert_lines(
    store: AnalyticsStore, database: str, table: str, lines: Sequence[bytes], token: str
) -> int:
    """Insert JSON lines (bus records) into `table` with their `dedup_token(table, lines)`;
    raises `AnalyticsRowsRejected` naming the lines ClickHouse refused once the others are in."""
    return await store.insert_json(f"{database}.{table}", lines, dedup_token=token)
