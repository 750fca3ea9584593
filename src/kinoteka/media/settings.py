"""The `media` group of the settings tree: upload limits, the transcoding ladder, task timing."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator


class MediaSettings(BaseModel):
    max_upload_bytes: int = Field(
        default=20 * 1024**3, ge=1, description="Largest video file an upload may declare, bytes."
    )
    allowed_containers: list[str] = Field(
        default=["mp4", "mov", "m4v", "mkv", "webm", "avi", "mpeg", "mpg", "ts", "mxf"],
        description="File extensions an upload may have (lowercase, no dot).",
    )
    transcode_attempts: int = Field(
        default=3, ge=1, le=20, description="Attempts at a transcode before it ends `failed`."
    )
    visibility_timeout: int = Field(
        default=3600,
        ge=5,
        description="Seconds before the broker redelivers a task a dead worker had taken.",
    )
    stale_after: float = Field(
        default=120.0,
        gt=0,
        description="Seconds without a heartbeat after which a job is deemed lost and re-sent.",
    )
    sweep_interval: float = Field(
        default=60.0, gt=0, description="Seconds between two sweeps for lost jobs in a worker."
    )
    task_time_limit: int = Field(
        default=6 * 3600, ge=10, description="Soft time limit of a transcode task, seconds."
    )
    segment_seconds: float = Field(default=4.0, gt=0, le=30, description="Segment length, s.")
    preset: str = Field(default="veryfast", description="x264 preset of the ladder.")
    quick_rung: bool = Field(
        default=True,
        description="Before the ladder of a video's first version, render its lowest rung alone "
        "and let it play at once (the whole ladder replaces it when done).",
    )
    ladder_heights: list[int] = Field(
        default=[1080, 720, 480, 360], description="Rung heights; never upscaled."
    )
    playback_url_ttl: int = Field(
        default=6 * 3600, ge=60, description="How long signed playback URLs stay valid, s."
    )
    upload_expiry_hours: int = Field(
        default=24, ge=1, description="Hours an unfinished upload is kept before it is removed."
    )
    demo_clips: bool = Field(
        default=True, description="Generate and transcode a few demo clips on first start."
    )
    demo_clip_count: int = Field(default=3, ge=0, le=20, description="How many demo clips.")
    demo_clip_seconds: float = Field(default=12.0, gt=0, le=600, description="Demo clip length.")

    @field_validator("allowed_containers")
    @classmethod
    def _lowercase(cls, value: list[str]) -> list[str]:
        return [item.lower().lstrip(".") for item in value]

    @field_validator("ladder_heights")
    @classmethod
    def _heights(cls, value: list[int]) -> list[int]:
        if not value or any(h < 64 or h > 4320 or h % 2 for h in value):
            raise ValueError("ladder heights are even numbers between 64 and 4320")
        return sorted(set(value), reverse=True)
