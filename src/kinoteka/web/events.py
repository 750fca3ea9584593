"""Player events, schema version 1: what the player sends, how it is checked and kept.

The player batches events and posts them with `navigator.sendBeacon` to `POST /web/events`
as `{"schema_version": 1, "playback_id": "<uuid per playback>", "events": [...]}`; each event
has `type`, `film_id`, `position` (seconds into the film), `at` (client time, ISO 8601) and
the fields of its type:

| type | extra fields | when |
|---|---|---|
| `play` | - | playback starts or resumes |
| `pause` | - | the viewer pauses |
| `seek` | `from_position` | a jump in the timeline |
| `quality_change` | `height`, `bitrate`, `auto` | a rendition is chosen (or auto picks one) |
| `progress` | `duration` | every 10 s while playing, and when the page is left |
| `full_view` | `duration` | once, when 90 % of the film has been watched |
| `error` | `message`, `fatal` | the stream failed |

Rows go to `web.player_event` (one per event, the type-specific fields in `payload`) until
the activity context's collector takes the stream over; the resume position is the position
of the account's latest `progress` event for the film.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from kinoteka.web.models import player_event

SCHEMA_VERSION = 1
MAX_EVENTS = 200
FINISHED_SHARE = 0.95  # a film watched this far starts again from the beginning


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    film_id: uuid.UUID
    position: float = Field(ge=0, le=7 * 24 * 3600)
    at: dt.datetime


class Play(_Event):
    type: Literal["play"]


class Pause(_Event):
    type: Literal["pause"]


class Seek(_Event):
    type: Literal["seek"]
    from_position: float = Field(ge=0, le=7 * 24 * 3600)


class QualityChange(_Event):
    type: Literal["quality_change"]
    height: int | None = Field(default=None, ge=0, le=10_000)
    bitrate: int | None = Field(default=None, ge=0)
    auto: bool


class Progress(_Event):
    type: Literal["progress"]
    duration: float | None = Field(default=None, ge=0)


class FullView(_Event):
    type: Literal["full_view"]
    duration: float = Field(ge=0)


class PlayerError(_Event):
    type: Literal["error"]
    message: str = Field(max_length=500)
    fatal: bool = True


PlayerEvent = Annotated[
    Play | Pause | Seek | QualityChange | Progress | FullView | PlayerError,
    Field(discriminator="type"),
]


class EventBatch(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1]
    playback_id: uuid.UUID
    events: list[PlayerEvent] = Field(min_length=1, max_length=MAX_EVENTS)


_COMMON = {"type", "film_id", "position", "at"}


async def store_events(session: AsyncSession, user_id: uuid.UUID, batch: EventBatch) -> int:
    rows = [
        {
            "user_id": user_id,
            "film_id": event.film_id,
            "playback_id": batch.playback_id,
            "schema_version": batch.schema_version,
            "type": event.type,
            "position": event.position,
            "client_at": event.at,
            "payload": event.model_dump(mode="json", exclude=_COMMON),
        }
        for event in batch.events
    ]
    await session.execute(insert(player_event), rows)
    await session.flush()
    return len(rows)


async def resume_position(session: AsyncSession, user_id: uuid.UUID, film_id: str) -> float:
    """Where to start: the latest progress position, or 0 when none or the film was finished."""
    try:
        film = uuid.UUID(film_id)
    except ValueError:
        return 0.0
    row = (
        await session.execute(
            select(player_event.c.position, player_event.c.payload)
            .where(
                player_event.c.user_id == user_id,
                player_event.c.film_id == film,
                player_event.c.type == "progress",
            )
            .order_by(player_event.c.id.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return 0.0
    position, payload = float(row[0]), row[1] or {}
    duration = payload.get("duration")
    if isinstance(duration, int | float) and duration > 0 and position >= FINISHED_SHARE * duration:
        return 0.0
    return position


async def continue_watching(session: AsyncSession, user_id: uuid.UUID, limit: int) -> list[str]:
    """Films with saved progress, most recently watched first (the home page's first row)."""
    latest = func.max(player_event.c.id)
    rows = await session.execute(
        select(player_event.c.film_id)
        .where(player_event.c.user_id == user_id, player_event.c.type == "progress")
        .group_by(player_event.c.film_id)
        .order_by(latest.desc())
        .limit(limit)
    )
    return [str(film_id) for (film_id,) in rows]


async def forget_viewer(session: AsyncSession, user_id: uuid.UUID) -> None:
    """An account is being deleted: its player events go with it (auth's deletion hook)."""
    await session.execute(delete(player_event).where(player_event.c.user_id == user_id))
