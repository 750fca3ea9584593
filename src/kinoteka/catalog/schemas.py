"""Catalog read models: the course's `/api/v1/movies` contract."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, Field

from kinoteka.catalog.models import FilmType


class Movie(BaseModel):
    id: uuid.UUID
    title: str
    description: str | None = None
    creation_date: dt.date | None = None
    rating: float | None = Field(default=None, ge=0, le=10)
    type: FilmType
    genres: list[str] = Field(description="Genre names, alphabetical.")
    actors: list[str] = Field(description="Full names of the actors, alphabetical.")
    directors: list[str] = Field(description="Full names of the directors, alphabetical.")
    writers: list[str] = Field(description="Full names of the writers, alphabetical.")
    posters: dict[str, str] = Field(
        default_factory=dict,
        description="The poster's link by width in pixels (each redirects to the image); "
        "empty without a poster.",
    )


class MoviePage(BaseModel):
    count: int = Field(description="Films in the whole catalog.")
    total_pages: int
    prev: int | None = Field(description="Number of the previous page, null on the first.")
    next: int | None = Field(description="Number of the next page, null on the last.")
    results: list[Movie]
