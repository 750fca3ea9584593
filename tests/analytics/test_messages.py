"""The bus message format: a record's line is what pydantic writes less the fields at their
zero default, and reads back the same."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, TypedDict

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from kinoteka.analytics.messages import decode, encode, line
from kinoteka.analytics.schemas import (
    ZERO_DEFAULTS,
    BusRecord,
    PlayerEvent,
    player_fields,
    player_record,
)

_PYDANTIC = TypeAdapter(BusRecord)


class _ServerFields(TypedDict):
    """What the collector adds to a player event: the keyword arguments of `player_fields`."""

    event_id: uuid.UUID
    user_id: uuid.UUID
    playback_id: uuid.UUID | None
    server_at: dt.datetime


_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
_float = st.floats(allow_nan=False, allow_infinity=False)
_moment = st.datetimes(min_value=dt.datetime(1970, 1, 2), timezones=st.sampled_from([dt.UTC, None]))
_records = st.builds(
    BusRecord,
    type=_text,
    user_id=st.none() | st.uuids(),
    film_id=st.none() | st.uuids(),
    object_id=st.none() | st.uuids(),
    playback_id=st.none() | st.uuids(),
    position=_float,
    duration=st.none() | _float,
    from_position=st.none() | _float,
    from_quality=_text,
    to_quality=_text,
    height=st.none() | st.integers(0, 10_000),
    bitrate=st.none() | st.integers(0, 10**12),
    auto=st.booleans(),
    message=_text,
    fatal=st.booleans(),
    query=_text,
    page_number=st.none() | st.integers(-(2**31), 2**31),
    page_size=st.none() | st.integers(0, 1000),
    client_at=st.none() | _moment,
    server_at=_moment,
)


@given(_records)
def test_a_line_is_what_pydantic_writes_less_the_zero_defaults(record: BusRecord) -> None:
    written = orjson.loads(_PYDANTIC.dump_json(record))
    kept = {
        name: value
        for name, value in written.items()
        if name not in ZERO_DEFAULTS or value != ZERO_DEFAULTS[name]
    }
    assert line(record) == orjson.dumps(kept)
    assert decode(line(record)) == [record]


def test_the_zero_defaults_are_the_optional_fields_at_null_zero_empty_or_false() -> None:
    # ClickHouse fills a field missing from a line with its type's zero: only those may go.
    assert ZERO_DEFAULTS == {
        "film_id": None, "object_id": None, "playback_id": None, "position": 0.0,
        "duration": None, "from_position": None, "from_quality": "", "to_quality": "",
        "height": None, "bitrate": None, "auto": False, "message": "", "fatal": False,
        "query": "", "page_number": None, "page_size": None, "client_at": None,
    }  # fmt: skip
    # The required fields and the schema version are always written.
    record = BusRecord(
        event_id=uuid.uuid4(), type="pause", user_id=None, server_at=dt.datetime.now(dt.UTC)
    )
    assert set(orjson.loads(line(record))) == {
        "event_id", "type", "user_id", "server_at", "schema_version"
    }  # fmt: skip


def test_a_line_spelling_out_every_field_reads_as_the_same_record() -> None:
    # What earlier versions published: still on the bus after an upgrade.
    record = BusRecord(
        event_id=uuid.uuid4(), type="pause", user_id=uuid.uuid4(), film_id=uuid.uuid4(),
        position=3.0, client_at=dt.datetime.now(dt.UTC), server_at=dt.datetime.now(dt.UTC),
    )  # fmt: skip
    assert decode(_PYDANTIC.dump_json(record)) == [record]


@pytest.mark.parametrize(
    "raw",
    [
        {"type": "play"},
        {"type": "pause"},
        {"type": "seek", "from_position": 3.5},
        {"type": "seek", "from_position": 0, "position": 0},
        {"type": "quality_change", "height": 720, "bitrate": 3_000_000, "auto": True},
        {"type": "quality_change", "from_quality": "480p", "to_quality": "1080p"},
        {"type": "progress", "duration": 6000.0},
        {"type": "progress"},
        {"type": "full_view", "duration": 5400.0},
        {"type": "error", "message": "décodeur en panne", "fatal": False},
        {"type": "error", "message": "", "fatal": True},
    ],
)
def test_a_player_events_fields_write_the_line_of_its_record(raw: dict[str, Any]) -> None:
    (event,) = TypeAdapter(list[PlayerEvent]).validate_python(
        [
            {
                "film_id": str(uuid.uuid4()),
                "position": 12.25,
                "at": "2026-12-01T20:15:00+03:00",
                **raw,
            }
        ]
    )
    given_ids: _ServerFields = {
        "event_id": uuid.uuid4(), "user_id": uuid.uuid4(), "playback_id": None,
        "server_at": dt.datetime.now(dt.UTC),
    }  # fmt: skip
    fields = player_fields(event, **given_ids)
    record = player_record(event, **given_ids)
    # The same bytes: the fields carry none of the zero defaults the record's line leaves out.
    assert line(fields) == line(record)
    assert decode(encode([fields], {raw["type"]: "t"})[0][1]) == [record]
