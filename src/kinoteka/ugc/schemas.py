"""Pydantic bodies and answers of the UGC API."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

Score = int


class ReviewSort(StrEnum):
    NEWEST = "newest"
    MOST_LIKED = "most_liked"


class VoteValue(StrEnum):
    LIKE = "like"
    DISLIKE = "dislike"


class ErrorDetail(BaseModel):
    detail: str


class Bookmark(BaseModel):
    film_id: uuid.UUID
    created: datetime


class BookmarkPage(BaseModel):
    items: list[Bookmark]
    total: int


class RatingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    score: int = Field(ge=0, le=10, strict=True, description="0 (worst) to 10 (best).")


class Rating(BaseModel):
    film_id: uuid.UUID
    score: int
    updated: datetime


class RatingSummary(BaseModel):
    film_id: uuid.UUID
    average: float | None = Field(description="Mean score, 2 decimals; null without ratings.")
    count: int
    distribution: dict[str, int] = Field(description="Ratings per score, '0' to '10'.")
    reviews: int = Field(description="Visible reviews of the film.")


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(description="Plain text; HTML is not interpreted (escaped on output).")
    score: int = Field(ge=0, le=10, strict=True)


class ReviewEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str | None = None
    score: int | None = Field(default=None, ge=0, le=10, strict=True)


class Review(BaseModel):
    id: uuid.UUID
    film_id: uuid.UUID
    author_id: uuid.UUID
    text: str
    score: int
    created: datetime
    edited: datetime | None
    likes: int
    dislikes: int
    hidden: bool = Field(description="Hidden by a moderator: shown to its author only.")
    my_vote: VoteValue | None = None


class ReviewPage(BaseModel):
    items: list[Review]
    total: int


class VoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: VoteValue


class ProgressIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    position_seconds: float = Field(ge=0, le=1_000_000)
    duration_seconds: float | None = Field(default=None, gt=0, le=1_000_000)
    client_time: datetime = Field(
        description="When the player took the position (with a time zone); the latest wins."
    )


class Progress(BaseModel):
    film_id: uuid.UUID
    position_seconds: float
    duration_seconds: float | None
    client_time: datetime
    updated: datetime
    finished: bool


class ProgressWrite(BaseModel):
    applied: bool = Field(description="False when a later heartbeat was already stored.")
    progress: Progress
