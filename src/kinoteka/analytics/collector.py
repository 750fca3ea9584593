"""The collector's use case: check a batch event by event, keep the refused, publish the rest."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from kinoteka.analytics import messages, repository
from kinoteka.analytics.repository import failed_event_key, jsonable, text_for_postgres
from kinoteka.analytics.schemas import (
    BatchAnswer,
    BusRecord,
    EventBatch,
    PlayerEvent,
    RefusedEvent,
    derived_event_id,
    player_fields,
)
from kinoteka.analytics.topics import PLAYER_TOPICS, PlayerEventType
from kinoteka.infra.bus import BusError, EventBus

log = structlog.get_logger(__name__)

FUTURE_TOLERANCE = dt.timedelta(hours=1)  # client clocks run ahead; further is an error
_player_events: TypeAdapter[list[Any]] = TypeAdapter(list[PlayerEvent])
_TAG_ERRORS = {"union_tag_invalid", "union_tag_not_found"}
KNOWN_TYPES = {kind.value for kind in PlayerEventType}
TYPE_REASON = "type: must be one of " + ", ".join(kind.value for kind in PlayerEventType)
_TOPIC_OF = {kind.value: topic for kind, topic in PLAYER_TOPICS.items()}


@dataclass(frozen=True)
class Heartbeat:
    """An accepted `progress` event, handed to the read model that keeps resume points
    (ugc's watch progress, through the web pages): analytics keeps no copy of its own."""

    film_id: uuid.UUID
    position: float
    duration: float | None
    at: dt.datetime
    """The player's clock (UTC): the latest heartbeat wins."""


HeartbeatSink = Callable[[list[Heartbeat]], Awaitable[None]]


class BusUnavailable(Exception):
    """The bus did not take the batch; nothing of it was counted, the client may resend it."""


class BatchTooLarge(Exception):
    def __init__(self, count: int, limit: int) -> None:
        super().__init__(f"a batch holds at most {limit} events, this one {count}")


def describe(error: ValidationError) -> str:
    """`film_id: Input should be a valid UUID; at: Field required` (one line)."""
    parts = []
    for item in error.errors()[:5]:
        location = ".".join(str(p) for p in item["loc"] if not isinstance(p, int))
        message = item["msg"].removeprefix("Value error, ")
        parts.append(f"{location}: {message}" if location else message)
    return "; ".join(parts)[:500]


def _event_id_of(raw: Any) -> str | None:
    if isinstance(raw, dict):
        value = raw.get("event_id")
        if isinstance(value, str):
            return value[:64]
    return None


def validate_events(events: list[dict[str, Any]]) -> list[tuple[int, Any, str]]:
    """`(index, event, "")` for each valid event and `(index, None, reason)` for each refused
    one, in order: the whole list in one pydantic pass, and a second over the valid ones only
    when some were refused (pydantic stops a list at nothing but reports every item)."""
    try:
        return [(i, event, "") for i, event in enumerate(_player_events.validate_python(events))]
    except ValidationError as error:
        failures: dict[int, list[Any]] = {}
        for item in error.errors():
            failures.setdefault(int(item["loc"][0]), []).append(item)
    good = [i for i in range(len(events)) if i not in failures]
    valid = dict(zip(good, _player_events.validate_python([events[i] for i in good]), strict=True))
    answer: list[tuple[int, Any, str]] = []
    for index in range(len(events)):
        if index in valid:
            answer.append((index, valid[index], ""))
            continue
        items = failures[index]
        if any(item["type"] in _TAG_ERRORS for item in items):
            answer.append((index, None, TYPE_REASON))
            continue
        parts = []
        for item in items[:5]:
            location = ".".join(str(p) for p in item["loc"][1:] if not isinstance(p, int))
            message = item["msg"].removeprefix("Value error, ")
            parts.append(f"{location}: {message}" if location else message)
        answer.append((index, None, "; ".join(parts)[:500]))
    return answer


async def publish(
    bus: EventBus, records: Sequence[BusRecord | Mapping[str, Any]], topic_of: dict[str, str]
) -> None:
    """`records` (or their fields) on their topics, a message per topic (and per
    `MAX_EVENTS_PER_MESSAGE`), all in one `publish_many`."""
    await bus.publish_many(messages.encode(records, topic_of))


async def collect(
    session: AsyncSession,
    bus: EventBus,
    user_id: uuid.UUID,
    body: Any,
    *,
    max_events: int,
    source: str = "api/v1/events",
    now: dt.datetime | None = None,
    on_progress: HeartbeatSink | None = None,
) -> BatchAnswer:
    """Publish the valid events of `body`; refused ones are stored with their reason; the
    checked `progress` events go to `on_progress` when given, even when the bus refuses.

    Flushes, never commits. Raises `BatchTooLarge` before looking at events, and
    `BusUnavailable` when the bus refuses (the refused events are flushed all the same).
    """
    server_at = now or dt.datetime.now(dt.UTC)
    try:
        batch = EventBatch.model_validate(body)
    except ValidationError as error:
        reason = describe(error)
        await repository.add_failed_events(
            session, [_failed_row(user_id, None, source, -1, None, f"batch: {reason}", body)]
        )
        await session.flush()
        return BatchAnswer(accepted=0, refused=[RefusedEvent(index=-1, reason=reason)])
    if len(batch.events) > max_events:
        raise BatchTooLarge(len(batch.events), max_events)

    # Plain fields, not `BusRecord`s: building a model per event cost more than checking it.
    records: list[dict[str, Any]] = []
    refused: list[RefusedEvent] = []
    seen: set[uuid.UUID] = set()
    latest = server_at + FUTURE_TOLERANCE
    for index, event, reason in validate_events(batch.events):
        raw = batch.events[index]
        if event is None:
            refused.append(RefusedEvent(index=index, event_id=_event_id_of(raw), reason=reason))
            continue
        event_id = event.event_id or derived_event_id(user_id, batch.playback_id, raw)
        if event.at > latest:
            refused.append(
                RefusedEvent(index=index, event_id=str(event_id), reason="at: in the future")
            )
            continue
        if event_id in seen:
            refused.append(
                RefusedEvent(
                    index=index, event_id=str(event_id), reason="event_id: repeated in the batch"
                )
            )
            continue
        seen.add(event_id)
        records.append(
            player_fields(
                event,
                event_id=event_id,
                user_id=user_id,
                playback_id=batch.playback_id,
                server_at=server_at,
            )
        )

    if refused:
        # A batch resent after a 503 names the same refusals: they are kept once.
        await repository.add_failed_events(
            session,
            [
                _failed_row(
                    user_id,
                    batch.playback_id,
                    source,
                    item.index,
                    item.event_id,
                    item.reason,
                    batch.events[item.index],
                )
                for item in refused
            ],
        )
        await session.flush()
        log.info("analytics.refused", user_id=str(user_id), refused=len(refused))
    if records:
        try:
            await publish(bus, records, _TOPIC_OF)
        except BusError as error:
            log.warning("analytics.bus_unavailable", error=str(error))
            # The resume point does not wait on the bus: a tab closed during an outage keeps it.
            await _hand_progress(records, on_progress)
            raise BusUnavailable(str(error)) from error
        await _hand_progress(records, on_progress)
    return BatchAnswer(accepted=len(records), refused=refused)


def _failed_row(
    user_id: uuid.UUID,
    playback_id: uuid.UUID | None,
    source: str,
    index: int,
    event_id: str | None,
    reason: str,
    raw: Any,
) -> dict[str, Any]:
    """The `analytics.failed_event` row of a refused event (or batch: `index` -1)."""
    kept_reason = text_for_postgres(reason) or ""
    payload = jsonable(raw)
    return dict(
        user_id=user_id,
        source=source,
        batch_index=index,
        event_id=text_for_postgres(event_id),
        reason=kept_reason,
        payload=payload,
        dedup_key=failed_event_key(user_id, playback_id, kept_reason, payload),
    )


async def _hand_progress(records: list[dict[str, Any]], on_progress: HeartbeatSink | None) -> None:
    """The batch's checked `progress` events to `on_progress` (last write wins by client time,
    so handing them again with a resent batch changes nothing)."""
    if on_progress is None:
        return
    beats = [
        # `player_fields` leaves out a zero position and a missing duration.
        Heartbeat(r["film_id"], r.get("position", 0.0), r.get("duration"), r["client_at"])
        for r in records
        if r["type"] == PlayerEventType.PROGRESS
    ]
    if beats:
        await on_progress(beats)
