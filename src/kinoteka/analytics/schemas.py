"""Event schemas, version 1: what the player and the pages send, and what goes on the bus.

A collector batch is `{"schema_version": 1, "playback_id": "<uuid>", "events": [...]}` (the
shape the web player already posts). Each event has `type`, `film_id`, `position` (seconds
into the film), `at` (client time, ISO 8601; naive means UTC) and optionally `event_id` (a
UUID the client sets so a resent batch is not counted twice; when absent it is derived from
the batch and the event's content, which gives the same id on a resend), plus its type's
fields:

| type | fields | topic |
|---|---|---|
| `play` | - | `tracking.clicks_on_video.plays` |
| `pause` | - | `tracking.clicks_on_video.pauses` |
| `seek` | `from_position` | `tracking.clicks_on_video.seeks` |
| `quality_change` | `from_quality`, `to_quality`, `height`, `bitrate`, `auto` | `…changes` |
| `progress` | `duration` | `tracking.clicks_on_video.progress` |
| `full_view` | `duration` | `tracking.clicks_on_video.full_views` |
| `error` | `message`, `fatal` | `tracking.clicks_on_video.errors` |

The user comes from the access token and the server time is set on arrival, never by the client.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kinoteka.analytics.topics import PageKind, PlayerEventType

SCHEMA_VERSION = 1
MAX_POSITION = 7 * 24 * 3600.0
EVENT_NAMESPACE = uuid.UUID("7d1c1c55-4a7e-4a57-9a55-6b8f1e2f8a01")


def as_utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: uuid.UUID | None = None
    film_id: uuid.UUID
    position: float = Field(ge=0, le=MAX_POSITION, allow_inf_nan=False)
    at: dt.datetime

    @field_validator("at")
    @classmethod
    def _utc(cls, value: dt.datetime) -> dt.datetime:
        return as_utc(value)


class Play(_Event):
    type: Literal[PlayerEventType.PLAY]


class Pause(_Event):
    type: Literal[PlayerEventType.PAUSE]


class Seek(_Event):
    type: Literal[PlayerEventType.SEEK]
    from_position: float = Field(ge=0, le=MAX_POSITION, allow_inf_nan=False)


class QualityChange(_Event):
    type: Literal[PlayerEventType.QUALITY_CHANGE]
    from_quality: str | None = Field(default=None, max_length=32)
    to_quality: str | None = Field(default=None, max_length=32)
    height: int | None = Field(default=None, ge=0, le=10_000)
    bitrate: int | None = Field(default=None, ge=0, le=10**12)
    auto: bool = False

    @model_validator(mode="after")
    def _names_the_new_quality(self) -> QualityChange:
        if self.to_quality is None and self.height is None:
            raise ValueError("a quality change needs to_quality or height")
        return self

    @property
    def target(self) -> str:
        return self.to_quality if self.to_quality is not None else f"{self.height}p"


class Progress(_Event):
    type: Literal[PlayerEventType.PROGRESS]
    duration: float | None = Field(default=None, ge=0, le=MAX_POSITION, allow_inf_nan=False)


class FullView(_Event):
    type: Literal[PlayerEventType.FULL_VIEW]
    duration: float = Field(ge=0, le=MAX_POSITION, allow_inf_nan=False)


class PlayerError(_Event):
    type: Literal[PlayerEventType.ERROR]
    message: str = Field(max_length=500)
    fatal: bool = True


PlayerEvent = Annotated[
    Play | Pause | Seek | QualityChange | Progress | FullView | PlayerError,
    Field(discriminator="type"),
]


class EventBatch(BaseModel):
    """The envelope; its events are checked one by one, so one bad event refuses only itself."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1]
    playback_id: uuid.UUID | None = None
    events: list[dict[str, Any]] = Field(min_length=1)


class RefusedEvent(BaseModel):
    index: int = Field(description="Position of the event in the batch, from 0.")
    event_id: str | None = Field(default=None, description="Its `event_id`, when it had one.")
    reason: str


class BatchAnswer(BaseModel):
    accepted: int = Field(description="Events taken (published to the bus).")
    refused: list[RefusedEvent] = Field(default_factory=list)


class BusRecord(BaseModel):
    """What a topic carries: one event, flat, with what the server knows about it."""

    model_config = ConfigDict(frozen=True)

    event_id: uuid.UUID
    type: str
    user_id: uuid.UUID | None
    film_id: uuid.UUID | None = None
    object_id: uuid.UUID | None = None
    playback_id: uuid.UUID | None = None
    position: float = 0.0
    duration: float | None = None
    from_position: float | None = None
    from_quality: str = ""
    to_quality: str = ""
    height: int | None = None
    bitrate: int | None = None
    auto: bool = False
    message: str = ""
    fatal: bool = False
    query: str = ""
    page_number: int | None = None
    page_size: int | None = None
    client_at: dt.datetime | None = None
    server_at: dt.datetime
    schema_version: int = SCHEMA_VERSION


def derived_event_id(
    user_id: uuid.UUID, playback_id: uuid.UUID | None, event: dict[str, Any]
) -> uuid.UUID:
    """A stable id for an event sent without one: the same content gives the same id."""
    content = "|".join(
        [str(user_id), str(playback_id)]
        + [f"{key}={event[key]}" for key in sorted(event) if key != "event_id"]
    )
    return uuid.uuid5(EVENT_NAMESPACE, content)


# The `BusRecord` fields whose default is a zero (null, 0, "", false): a bus line leaves such
# a field out while it holds that default, and ClickHouse fills a missing field with the same
# zero. Half of a player event's line was these; every byte of it was read, hashed and parsed.
ZERO_DEFAULTS: dict[str, Any] = {
    name: field.default
    for name, field in BusRecord.model_fields.items()
    if not field.is_required() and field.default in (None, 0, "", False)
}


def player_fields(
    event: Play | Pause | Seek | QualityChange | Progress | FullView | PlayerError,
    *,
    event_id: uuid.UUID,
    user_id: uuid.UUID,
    playback_id: uuid.UUID | None,
    server_at: dt.datetime,
) -> dict[str, Any]:
    """The `BusRecord` of a checked player event as its plain fields, in the record's order
    and of its types (the event's were checked), without those at their zero default
    (`ZERO_DEFAULTS`): what its bus line carries. The collector writes them to the bus without
    building a model per event (`player_record` builds one from them)."""
    fields: dict[str, Any] = {
        "event_id": event_id,
        "type": event.type.value,
        "user_id": user_id,
        "film_id": event.film_id,
    }
    if playback_id is not None:
        fields["playback_id"] = playback_id
    if event.position:
        fields["position"] = event.position
    if isinstance(event, Seek):
        fields["from_position"] = event.from_position
    elif isinstance(event, QualityChange):
        if event.from_quality:
            fields["from_quality"] = event.from_quality
        if event.target:
            fields["to_quality"] = event.target
        if event.height is not None:
            fields["height"] = event.height
        if event.bitrate is not None:
            fields["bitrate"] = event.bitrate
        if event.auto:
            fields["auto"] = True
    elif isinstance(event, Progress | FullView):
        if event.duration is not None:
            fields["duration"] = event.duration
    elif isinstance(event, PlayerError):
        if event.message:
            fields["message"] = event.message
        if event.fatal:
            fields["fatal"] = True
    fields["client_at"] = event.at
    fields["server_at"] = server_at
    fields["schema_version"] = SCHEMA_VERSION
    return fields


def player_record(
    event: Play | Pause | Seek | QualityChange | Progress | FullView | PlayerError,
    *,
    event_id: uuid.UUID,
    user_id: uuid.UUID,
    playback_id: uuid.UUID | None,
    server_at: dt.datetime,
) -> BusRecord:
    return BusRecord(
        **player_fields(
            event,
            event_id=event_id,
            user_id=user_id,
            playback_id=playback_id,
            server_at=server_at,
        )
    )


def page_view_record(
    kind: PageKind,
    *,
    user_id: uuid.UUID | None,
    object_id: uuid.UUID | None,
    query: str,
    page_number: int | None,
    page_size: int | None,
    server_at: dt.datetime,
) -> BusRecord:
    return BusRecord(
        event_id=uuid.uuid4(),
        type=kind.value,
        user_id=user_id,
        object_id=object_id,
        query=query[:200],
        page_number=page_number,
        page_size=page_size,
        server_at=server_at,
    )
