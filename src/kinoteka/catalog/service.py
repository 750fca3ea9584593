"""Catalog use cases over PostgreSQL: the paginated movie list and one movie, names aggregated."""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kinoteka.catalog import poster_links
from kinoteka.catalog.models import (
    FilmWork,
    Genre,
    GenreFilmWork,
    Person,
    PersonFilmWork,
    PersonRole,
)
from kinoteka.catalog.schemas import Movie, MoviePage

PAGE_SIZE = 50


class FilmNotFound(Exception):
    """No film with that id."""


class PageNotFound(Exception):
    """The page number is past the last page."""


def _names_of(role: PersonRole) -> ColumnElement[Any]:
    names = (
        select(Person.full_name)
        .join(PersonFilmWork, PersonFilmWork.person_id == Person.id)
        .where(PersonFilmWork.film_work_id == FilmWork.id, PersonFilmWork.role == role)
        .order_by(Person.full_name)
        .scalar_subquery()
    )
    return func.array(names)


def _movie_query() -> Select[Any]:
    genres = (
        select(Genre.name)
        .join(GenreFilmWork, GenreFilmWork.genre_id == Genre.id)
        .where(GenreFilmWork.film_work_id == FilmWork.id)
        .order_by(Genre.name)
        .scalar_subquery()
    )
    return select(
        FilmWork.id, FilmWork.title, FilmWork.description, FilmWork.creation_date,
        FilmWork.rating, FilmWork.type, FilmWork.poster_key,
        func.array(genres).label("genres"),
        _names_of(PersonRole.ACTOR).label("actors"),
        _names_of(PersonRole.DIRECTOR).label("directors"),
        _names_of(PersonRole.WRITER).label("writers"),
    )  # fmt: skip


def _movie(row: Any, poster_widths: Sequence[int]) -> Movie:
    values = dict(row._mapping)
    values["posters"] = poster_links(values.pop("poster_key"), poster_widths)
    return Movie.model_validate(values)


async def list_movies(
    session: AsyncSession,
    page: int | None,
    *,
    page_size: int = PAGE_SIZE,
    poster_widths: Sequence[int] = (),
) -> MoviePage:
    """Page `page` (1-based; None: the last) of the catalog, ordered by title then id."""
    count = int(await session.scalar(select(func.count()).select_from(FilmWork)) or 0)
    total_pages = max(math.ceil(count / page_size), 1)
    number = total_pages if page is None else page
    if number < 1 or number > total_pages:
        raise PageNotFound(f"page {number} does not exist; there are {total_pages}")
    rows = await session.execute(
        _movie_query()
        .order_by(FilmWork.title, FilmWork.id)
        .limit(page_size)
        .offset((number - 1) * page_size)
    )
    return MoviePage(
        count=count,
        total_pages=total_pages,
        prev=number - 1 if number > 1 else None,
        next=number + 1 if number < total_pages else None,
        results=[_movie(row, poster_widths) for row in rows],
    )


async def get_movie(
    session: AsyncSession, film_id: uuid.UUID, *, poster_widths: Sequence[int] = ()
) -> Movie:
    """One film; `posters` links the renditions of `poster_widths` (the catalog's settings)."""
    row = (await session.execute(_movie_query().where(FilmWork.id == film_id))).first()
    if row is None:
        raise FilmNotFound(str(film_id))
    return _movie(row, poster_widths)
