"""The `search` group of the settings tree: the sync's pace, batches, index names, backoff,
the local index writer's memory."""

from __future__ import annotations

from pydantic import BaseModel, Field


class IndexNames(BaseModel):
    movies: str = Field(default="movies", pattern=r"^[a-z0-9_\-]+$")
    genres: str = Field(default="genres", pattern=r"^[a-z0-9_\-]+$")
    persons: str = Field(default="persons", pattern=r"^[a-z0-9_\-]+$")


class BackoffSettings(BaseModel):
    initial: float = Field(default=0.1, gt=0, description="First retry delay, seconds.")
    factor: float = Field(default=2.0, ge=1, description="Delay multiplier per attempt.")
    ceiling: float = Field(default=10.0, gt=0, description="Longest delay, seconds.")
    jitter: float = Field(default=0.1, ge=0, le=1, description="Random share of each delay.")
    give_up_after: float | None = Field(
        default=None, gt=0, description="Stop retrying after this many seconds; unset: never."
    )


class SearchSettings(BaseModel):
    poll_interval: float = Field(
        default=1.0, gt=0, le=3600, description="Longest wait between two follower passes, s."
    )
    batch_size: int = Field(
        default=500, ge=1, le=100_000, description="Changes read from the queue per batch."
    )
    load_batch_size: int = Field(
        default=20_000, ge=1, le=100_000, description="Documents per page read in a full load."
    )
    load_commit_size: int = Field(
        default=100_000,
        ge=1,
        le=1_000_000,
        description="Documents per index commit in a full load; the checkpoint moves at each.",
    )
    load_prefetch_mib: int = Field(
        default=128,
        ge=1,
        le=16_384,
        description="JSON (MiB) a full load reads ahead of the index; one page at the least.",
    )
    safety_interval: float = Field(
        default=30.0, gt=0, description="Seconds between two `modified`-cursor safety passes."
    )
    overlap: float = Field(
        default=300.0, ge=0, description="How far back (s) a safety pass re-reads `modified`."
    )
    writer_heap_mib: int = Field(
        default=64,
        ge=16,
        le=65_536,
        description="Memory (MiB) of a local (Tantivy) index writer; a rebuild's gets twice it.",
    )
    indexes: IndexNames = IndexNames()
    backoff: BackoffSettings = BackoffSettings()
