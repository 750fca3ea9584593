"""The course's API contract: bare JSON bodies with `uuid` keys."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    # Subclasses' model_config (their examples) merges with this one.
    model_config = ConfigDict(frozen=True)


class FilmShort(_Out):
    uuid: str
    title: str
    imdb_rating: float | None = None
    user_rating: float | None = Field(
        default=None, description="The viewers' average 0-10 score; null before any rating."
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "uuid": "3d825f60-9fff-4dfe-b294-1a45fa1e115d",
                    "title": "Star Wars: Episode IV - A New Hope",
                    "imdb_rating": 8.6,
                }
            ]
        },
    )


class GenreRef(_Out):
    uuid: str
    name: str


class PersonRef(_Out):
    uuid: str
    full_name: str


class FilmDetail(_Out):
    uuid: str
    title: str
    imdb_rating: float | None = None
    user_rating: float | None = Field(
        default=None, description="The viewers' average 0-10 score; null before any rating."
    )
    user_rating_count: int = 0
    review_count: int = 0
    description: str | None = None
    genre: list[GenreRef] = Field(default_factory=list)
    actors: list[PersonRef] = Field(default_factory=list)
    writers: list[PersonRef] = Field(default_factory=list)
    directors: list[PersonRef] = Field(default_factory=list)
    release_date: dt.date | None = Field(default=None, description="First release (ISO date).")
    type: str | None = Field(default=None, description="`movie` or `tv_show`.")
    posters: dict[str, str] = Field(
        default_factory=dict,
        description="The poster's link by width in pixels (each redirects to the image); "
        "empty without a poster.",
    )
    has_video: bool = Field(default=False, description="Whether the film can be watched.")
    duration: float | None = Field(
        default=None, description="The video's length in seconds; null without a video."
    )
    qualities: list[str] = Field(
        default_factory=list,
        description='The video\'s renditions, best first (`["1080p", "720p"]`).',
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "uuid": "3d825f60-9fff-4dfe-b294-1a45fa1e115d",
                    "title": "Star Wars: Episode IV - A New Hope",
                    "imdb_rating": 8.6,
                    "description": "Luke Skywalker joins forces with a Jedi Knight…",
                    "genre": [
                        {"uuid": "120a21cf-9097-479e-904a-13dd7198c1dd", "name": "Adventure"}
                    ],
                    "actors": [
                        {"uuid": "26e83050-29ef-4163-a99d-b546cac208f8", "full_name": "Mark Hamill"}
                    ],
                    "writers": [
                        {
                            "uuid": "a5a8f573-3cee-4ccc-8a2b-91cb9f55250a",
                            "full_name": "George Lucas",
                        }
                    ],
                    "directors": [
                        {
                            "uuid": "a5a8f573-3cee-4ccc-8a2b-91cb9f55250a",
                            "full_name": "George Lucas",
                        }
                    ],
                    "release_date": "1977-05-25",
                    "type": "movie",
                    "posters": {
                        "160": "/api/v1/posters/3d825f60-9fff-4dfe-b294-1a45fa1e115d/"
                        "9f86d081884c7d65/160.webp",
                        "320": "/api/v1/posters/3d825f60-9fff-4dfe-b294-1a45fa1e115d/"
                        "9f86d081884c7d65/320.webp",
                    },
                }
            ]
        },
    )


class Genre(_Out):
    uuid: str
    name: str
    description: str | None = None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "uuid": "120a21cf-9097-479e-904a-13dd7198c1dd",
                    "name": "Adventure",
                    "description": "Journeys into the unknown.",
                }
            ]
        },
    )


class PersonFilm(_Out):
    uuid: str
    roles: list[str]


class Person(_Out):
    uuid: str
    full_name: str
    films: list[PersonFilm] = Field(default_factory=list)

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "uuid": "26e83050-29ef-4163-a99d-b546cac208f8",
                    "full_name": "Mark Hamill",
                    "films": [{"uuid": "3d825f60-9fff-4dfe-b294-1a45fa1e115d", "roles": ["actor"]}],
                }
            ]
        },
    )


class ErrorDetail(_Out):
    detail: str

    model_config = ConfigDict(
        frozen=True, json_schema_extra={"examples": [{"detail": "film not found"}]}
    )


class FilmCard(FilmShort):
    """A film as a page lists it: the short form with its poster and genre names."""

    poster_url: str | None = None
    video_poster_url: str | None = None
    """A picture of its video (public), for a film without a catalog poster."""
    genres: list[str] = Field(default_factory=list)


class FilmView(FilmDetail):
    """A film as its page shows it: the detail with its poster, and its video's poster and
    animated preview (public paths) when it has a video."""

    poster_url: str | None = None
    video_poster_url: str | None = None
    preview_url: str | None = None


class CardPage(_Out):
    """One page of film cards and how many films match in all."""

    items: list[FilmCard]
    total: int
