"""Bus records for the loader and dashboard tests, published the way the collector does."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from kinoteka.analytics.collector import publish
from kinoteka.analytics.schemas import BusRecord
from kinoteka.analytics.topics import PAGE_TOPICS, PLAYER_TOPICS
from kinoteka.infra.bus import EventBus

TOPIC_OF = {t.value: topic for t, topic in PLAYER_TOPICS.items()} | {
    k.value: topic for k, topic in PAGE_TOPICS.items()
}
AT = dt.datetime(2026, 12, 1, 20, 0, tzinfo=dt.UTC)


def player(kind: str, **fields: Any) -> BusRecord:
    values: dict[str, Any] = {
        "event_id": uuid.uuid4(),
        "type": kind,
        "user_id": uuid.uuid4(),
        "film_id": uuid.uuid4(),
        "position": 60.0,
        "client_at": AT,
        "server_at": AT + dt.timedelta(seconds=1),
    }
    if kind == "full_view":
        values["duration"] = 5400.0
    if kind == "quality_change":
        values["to_quality"] = "720p"
    values.update(fields)
    return BusRecord(**values)


def page_view(kind: str, **fields: Any) -> BusRecord:
    values: dict[str, Any] = {
        "event_id": uuid.uuid4(),
        "type": kind,
        "user_id": None,
        "server_at": AT,
    }
    values.update(fields)
    return BusRecord(**values)


async def send(bus: EventBus, records: Sequence[BusRecord]) -> None:
    await publish(bus, records, TOPIC_OF)
