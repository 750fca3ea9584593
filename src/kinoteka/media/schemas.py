"""The media API's answers."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import BaseModel, Field


class Stream(BaseModel):
    """Where a player finds a film's streams; every URL expires at `expires_at`."""

    film_id: uuid.UUID
    video_id: uuid.UUID
    duration: float | None = Field(description="Seconds.")
    qualities: list[str] = Field(examples=[["1080p", "720p", "480p", "360p"]])
    hls: str = Field(description="HLS master playlist (CMAF segments).")
    dash: str = Field(description="DASH MPD over the same segments.")
    poster: dict[str, str] = Field(description="Poster images by size/format.")
    sprite_vtt: str | None = Field(description="WebVTT track of seek-preview thumbnails.")
    preview_webp: str | None
    preview_gif: str | None
    expires_at: dt.datetime


class VideoState(BaseModel):
    """A video's processing state, as the admin shows it."""

    id: uuid.UUID
    film_id: uuid.UUID
    status: str
    progress: float
    attempt: int
    failure_reason: str | None
    transitions: list[dict[str, Any]]
    current_version: int | None
    version: int
    artwork_pending: bool = Field(
        description="A ready video whose poster, seek thumbnails and previews are still being "
        "made: it plays meanwhile."
    )
    artwork_error: str | None = Field(
        description="Why the artwork of the playing version could not be made (it plays "
        "without it)."
    )
    duration: float | None
    qualities: list[str]
    source_name: str
    source_size: int
    checksum: str | None = Field(
        description="sha256 (hex) of the source file: declared by the uploader and checked, "
        "else taken by the worker as it first reads the file (null until then)."
    )
    created: dt.datetime
