"""The public read API over the search index: films, genres, persons, search.

Public surface for other contexts (loaded on first use): `queries_for(services)` gives the
read use cases (`ContentQueries`; its `film_cards`, `search_film_cards` and `get_film_view`
give the page-shaped `CardPage`, `FilmCard`, `FilmView`) over the shared index, `Page` pages
them, `NotFound` is what a missing film, genre or person raises, `SORTS` lists the film sorts.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kinoteka.content.api import queries_for
    from kinoteka.content.schemas import (
        CardPage,
        FilmCard,
        FilmDetail,
        FilmShort,
        FilmView,
        Genre,
        Person,
    )
    from kinoteka.content.service import SORTS, ContentQueries, NotFound, Page

_EXPORTS = {
    "queries_for": "api",
    "CardPage": "schemas",
    "FilmCard": "schemas",
    "FilmDetail": "schemas",
    "FilmView": "schemas",
    "FilmShort": "schemas",
    "Genre": "schemas",
    "Person": "schemas",
    "SORTS": "service",
    "ContentQueries": "service",
    "NotFound": "service",
    "Page": "service",
}

__all__ = [
    "SORTS",
    "CardPage",
    "ContentQueries",
    "FilmCard",
    "FilmDetail",
    "FilmShort",
    "FilmView",
    "Genre",
    "NotFound",
    "Page",
    "Person",
    "queries_for",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'kinoteka.content' has no attribute {name!r}")
    return getattr(importlib.import_module(f"kinoteka.content.{module}"), name)
