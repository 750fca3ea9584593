"""What a bus message carries: up to `MAX_EVENTS_PER_MESSAGE` events of one topic, as JSON
lines (one `BusRecord` object per line, without the fields at their zero default: see
`schemas.ZERO_DEFAULTS`).

One message is one batch, not one event: the collector publishes a request's events in a few
messages, and the loader hands a message's lines to ClickHouse as they are (`JSONEachRow`),
never parsing them in Python. A message of one line is the format older versions published
(one event per message), so events already queued from them load the same way; so do lines
that spell out every field, as they did before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from kinoteka.analytics.schemas import ZERO_DEFAULTS, BusRecord

MAX_EVENTS_PER_MESSAGE = 1000


def line(record: BusRecord | Mapping[str, Any]) -> bytes:
    """`record` as one JSON line: the bytes pydantic's `dump_json` writes (fields in order,
    UUIDs as strings, UTC as `Z`) less the fields at their zero default, by orjson at a third
    of the cost. Fields given as a mapping are written as they are: `schemas.player_fields`
    leaves those out already (the collector writes a line per event)."""
    if isinstance(record, BusRecord):
        fields = {
            name: value
            for name, value in record.__dict__.items()
            if name not in ZERO_DEFAULTS or value != ZERO_DEFAULTS[name]
        }
        return orjson.dumps(fields, option=orjson.OPT_UTC_Z)
    return orjson.dumps(record, option=orjson.OPT_UTC_Z)


def encode(
    records: Sequence[BusRecord | Mapping[str, Any]], topic_of: Mapping[str, str]
) -> list[tuple[str, bytes]]:
    """`(topic, body)` messages for `records`, grouped by their type's topic in order."""
    by_topic: dict[str, list[bytes]] = {}
    for record in records:
        kind = record.type if isinstance(record, BusRecord) else record["type"]
        by_topic.setdefault(topic_of[kind], []).append(line(record))
    return [
        (topic, b"\n".join(lines[start : start + MAX_EVENTS_PER_MESSAGE]))
        for topic, lines in by_topic.items()
        for start in range(0, len(lines), MAX_EVENTS_PER_MESSAGE)
    ]


def lines_of(body: bytes) -> list[bytes]:
    """A message's events, one JSON line each (blank lines ignored)."""
    return [line for line in body.split(b"\n") if line.strip()]


def decode(body: bytes) -> list[BusRecord]:
    """A message's events as records (for readers other than the loader, and tests)."""
    return [BusRecord.model_validate_json(line) for line in lines_of(body)]
