"""The bus message format: a record's line is what pydantic writes, and reads back the same."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from kinoteka.analytics.messages import decode, line
from kinoteka.analytics.schemas import BusRecord

_PYDANTIC = TypeAdapter(BusRecord)
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
def test_a_line_is_what_pydantic_writes(record: BusRecord) -> None:
    assert line(record) == _PYDANTIC.dump_json(record)
    assert decode(line(record)) == [record]
