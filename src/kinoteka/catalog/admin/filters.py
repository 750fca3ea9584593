"""List filters of the film view: genre, rating band and year (type is a plain value filter)."""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from sqlalchemy import Select, exists, extract, select
from starlette.requests import Request

from kinoteka.catalog.models import FilmWork, Genre, GenreFilmWork

RATING_BANDS: dict[str, tuple[float, float, str]] = {
    "0-4": (0.0, 4.0, "below 4"),
    "4-6": (4.0, 6.0, "4 to 6"),
    "6-7": (6.0, 7.0, "6 to 7"),
    "7-8": (7.0, 8.0, "7 to 8"),
    "8-10": (8.0, 10.01, "8 and above"),
}

RunQuery = Callable[[Any], Any]


class LookupFilter(ABC):
    """A SQLAdmin lookup filter: an "All" entry, then the choices `choices()` gives."""

    has_operator = False
    template = "sqladmin/filters/lookup_filter.html"
    title: str
    parameter_name: str

    async def lookups(
        self, request: Request, model: Any, run_query: RunQuery
    ) -> list[tuple[str, str]]:
        return [("__all", "All"), *await self.choices(run_query)]

    @abstractmethod
    async def choices(self, run_query: RunQuery) -> list[tuple[str, str]]:
        """(value, label) pairs after "All"."""

    @abstractmethod
    async def get_filtered_query(self, query: Select[Any], value: Any, model: Any) -> Select[Any]:
        """`query` narrowed to `value` (unchanged for "All" or a value it does not know)."""


class GenreFilter(LookupFilter):
    """Films having a given genre."""

    title = "Genre"
    parameter_name = "genre"

    async def choices(self, run_query: RunQuery) -> list[tuple[str, str]]:
        rows = await run_query(select(Genre.id, Genre.name).order_by(Genre.name))
        return [(str(genre_id), name) for genre_id, name in rows]

    async def get_filtered_query(self, query: Select[Any], value: Any, model: Any) -> Select[Any]:
        try:
            genre_id = uuid.UUID(str(value))
        except ValueError:  # "__all", empty or a mangled link: no filtering
            return query
        linked = exists().where(
            GenreFilmWork.film_work_id == FilmWork.id, GenreFilmWork.genre_id == genre_id
        )
        return query.where(linked)


class RatingBandFilter(LookupFilter):
    """Films whose rating falls in a band (the lower bound included, the upper excluded)."""

    title = "Rating"
    parameter_name = "rating"

    async def choices(self, run_query: RunQuery) -> list[tuple[str, str]]:
        return [(key, band[2]) for key, band in RATING_BANDS.items()]

    async def get_filtered_query(self, query: Select[Any], value: Any, model: Any) -> Select[Any]:
        band = RATING_BANDS.get(str(value))
        if band is None:
            return query
        low, high, _ = band
        return query.where(FilmWork.rating >= low, FilmWork.rating < high)


class YearFilter(LookupFilter):
    """Films made in a given year."""

    title = "Year"
    parameter_name = "year"

    async def choices(self, run_query: RunQuery) -> list[tuple[str, str]]:
        year = extract("year", FilmWork.creation_date)
        rows = await run_query(
            select(year).where(FilmWork.creation_date.is_not(None)).distinct().order_by(year.desc())
        )
        return [(str(int(y)), str(int(y))) for (y,) in rows]

    async def get_filtered_query(self, query: Select[Any], value: Any, model: Any) -> Select[Any]:
        if not str(value).isdigit():
            return query
        return query.where(extract("year", FilmWork.creation_date) == int(value))
