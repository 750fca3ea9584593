"""Settings of the user content (`KINOTEKA_UGC__*`)."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator


class UgcSettings(BaseModel):
    store_url: str | None = Field(
        default=None,
        description="Document store: mongodb://… for MongoDB; unset: the platform's "
        "PostgreSQL (schema `ugc`).",
    )
    write_rate: str = Field(
        default="120/minute",
        description="Writes one account may make (bookmarks, ratings, reviews, votes, "
        "progress), in the `limits` notation.",
    )
    review_min_length: int = Field(default=1, ge=1, le=1000)
    review_max_length: int = Field(default=5000, ge=10, le=100_000)
    default_page_size: int = Field(default=20, ge=1, le=100)
    finished_ratio: float = Field(
        default=0.95, gt=0, le=1,
        description="Share of a film's duration from which it counts as watched.",
    )  # fmt: skip

    summary_cache_seconds: float = Field(
        default=1.0, ge=0, le=300,
        description="How long a process answers a film's rating summary from memory; its own "
        "writes show at once, other processes' within this time. 0: no cache.",
    )  # fmt: skip

    @field_validator("store_url")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(
            ("postgresql", "postgres://", "mongodb://", "mongodb+srv://")
        ):
            raise ValueError("must be a postgresql:// or mongodb:// URL")
        return value
