"""The media context's tables (schema `media`): videos with their state machine, uploads."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Float, Index, Integer, Text, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from kinoteka.infra.db.base import Base, text_enum

SCHEMA = "media"


class VideoStatus(StrEnum):
    UPLOADED = "uploaded"
    PROBING = "probing"
    TRANSCODING = "transcoding"
    READY = "ready"
    FAILED = "failed"


# The state machine. `ready`/`failed` may start over (a re-transcode or a retry): the streams
# already switched in keep playing until a new version is complete. `ready` means the whole
# ladder plays; a first version may play its quick rung (`current_version` set) while still
# `transcoding`, and a ready video may still wait for its artwork (`pending.step`).
TRANSITIONS: dict[VideoStatus, frozenset[VideoStatus]] = {
    VideoStatus.UPLOADED: frozenset({VideoStatus.PROBING, VideoStatus.FAILED}),
    VideoStatus.PROBING: frozenset(
        {VideoStatus.PROBING, VideoStatus.TRANSCODING, VideoStatus.FAILED}
    ),
    # A job whose worker died starts its next attempt from the probe again.
    VideoStatus.TRANSCODING: frozenset(
        {VideoStatus.PROBING, VideoStatus.TRANSCODING, VideoStatus.READY, VideoStatus.FAILED}
    ),
    VideoStatus.READY: frozenset({VideoStatus.PROBING}),
    VideoStatus.FAILED: frozenset({VideoStatus.PROBING}),
}


def _now() -> Mapped[dt.datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class Video(Base):
    """One uploaded source file of a film and the streams made from it.

    `film_id` is the catalog film's id, on purpose without a foreign key across schemas: the
    catalog deletes films without knowing about media; a video whose film is gone is simply
    never asked for.
    """

    __tablename__ = "videos"
    __table_args__ = (
        CheckConstraint("progress >= 0 AND progress <= 100", name="progress_range"),
        Index("ix_videos_film_id", "film_id"),
        Index("ix_videos_status", "status"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    film_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    status: Mapped[VideoStatus] = mapped_column(
        text_enum(VideoStatus, "video_status"), nullable=False
    )
    transitions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False, default=list)
    """Every status the video went through: `{"status", "at", "reason"?}`, oldest first."""
    failure_reason: Mapped[str | None] = mapped_column(Text)
    attempt: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    """How many times a worker started the current job step (reset when a new job starts and
    when the artwork step of a switched-in version begins)."""
    progress: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    source_key: Mapped[str] = mapped_column(Text, nullable=False)
    source_name: Mapped[str] = mapped_column(Text, nullable=False, default="")
    source_size: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    checksum: Mapped[str | None] = mapped_column(Text)
    """sha256 (hex) of the source file as uploaded: the one its uploader declared (checked on
    the upload's last byte), else taken by the worker as it first reads the file (None until
    then)."""
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    """The version the current (or last) job writes: outputs under `media/{id}/v{version}/`."""
    current_version: Mapped[int | None] = mapped_column(Integer)
    """The version switched in and played; None until the first job completes."""
    output_prefix: Mapped[str | None] = mapped_column(Text)
    duration: Mapped[float | None] = mapped_column(Float)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    qualities: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False, default=list)
    outputs_size: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    outputs: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    """Keys (relative to the prefix) of the switched-in version: manifests (`hls`, `dash`),
    then `artwork` once made, or `artwork_error` when it could not be."""
    pending: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    """The step in progress: `{"step": "transcode", "qualities"}` on the way to `ready`;
    `{"step": "artwork"}` on a ready video whose artwork is still being made (it plays)."""
    created: Mapped[dt.datetime] = _now()
    modified: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )


class Upload(Base):
    """A tus upload in progress: its bytes sit in a local file until the last chunk."""

    __tablename__ = "uploads"
    __table_args__ = ({"schema": SCHEMA},)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    film_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    length: Mapped[int] = mapped_column(BigInteger, nullable=False)
    offset: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    filename: Mapped[str] = mapped_column(Text, nullable=False)
    checksum: Mapped[str | None] = mapped_column(Text)
    """sha256 (hex) the client declared for the whole file, checked on completion."""
    owner: Mapped[str] = mapped_column(Text, nullable=False)
    video_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    """Set once the upload is complete and became a video."""
    created: Mapped[dt.datetime] = _now()
    expires: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
