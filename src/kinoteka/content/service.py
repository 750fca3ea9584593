"""Content use cases: read films, genres and persons from the search port, shaped for the API.

Nothing here touches PostgreSQL: the index is the read model. Functions take the port and
return the API's schemas; a missing document raises the context's `NotFound`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kinoteka.catalog import poster_links_beside
from kinoteka.content.schemas import (
    CardPage,
    FilmCard,
    FilmDetail,
    FilmShort,
    FilmView,
    Genre,
    GenreRef,
    Person,
    PersonFilm,
    PersonRef,
)
from kinoteka.infra.search import MAX_LIMIT, SearchIndex, SearchQuery, Sort
from kinoteka.search import IndexNames

SORTS = (
    "imdb_rating", "-imdb_rating", "title", "-title", "user_rating", "-user_rating", "added",
    "-added", "review_count", "-review_count",
)  # fmt: skip
PERSON_SORTS = ("full_name", "-full_name")
SHORT_FIELDS = ("id", "title", "imdb_rating", "user_rating")
"""What the API's film lists read of each hit (`FilmShort`)."""
CARD_FIELDS = ("id", "title", "imdb_rating", "poster_url", "video_poster_url", "genres")
"""What a film card shows (`FilmCard`): the fields the pages' lists read of each hit."""


class NotFound(Exception):
    """No such film, genre or person; the message is the API's `detail`."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"{kind} not found")


@dataclass(frozen=True)
class Page:
    size: int = 50
    number: int = 1

    @property
    def offset(self) -> int:
        return self.size * (self.number - 1)


def _valid_id(value: str) -> str | None:
    """The canonical form of a UUID, or None: an id that is not one names nothing."""
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        return None


def _film_short(document: Mapping[str, Any]) -> FilmShort:
    return FilmShort(
        uuid=document["id"],
        title=document["title"],
        imdb_rating=document.get("imdb_rating"),
        user_rating=document.get("user_rating"),
    )


def _film_card(document: Mapping[str, Any]) -> FilmCard:
    return FilmCard(
        uuid=document["id"],
        title=document["title"],
        imdb_rating=document.get("imdb_rating"),
        poster_url=document.get("poster_url"),
        video_poster_url=document.get("video_poster_url"),
        genres=list(document.get("genres") or []),
    )


def _people(document: Mapping[str, Any], field: str) -> list[PersonRef]:
    return [
        PersonRef(uuid=person["id"], full_name=person["name"])
        for person in document.get(field) or []
    ]


def _release_date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _film_detail(document: Mapping[str, Any], poster_widths: Sequence[int]) -> FilmDetail:
    return FilmDetail(
        uuid=document["id"],
        title=document["title"],
        imdb_rating=document.get("imdb_rating"),
        user_rating=document.get("user_rating"),
        user_rating_count=int(document.get("user_rating_count") or 0),
        review_count=int(document.get("review_count") or 0),
        description=document.get("description"),
        genre=[
            GenreRef(uuid=genre_id, name=name)
            for genre_id, name in zip(
                document.get("genre_ids") or [], document.get("genres") or [], strict=False
            )
        ],
        actors=_people(document, "actors"),
        writers=_people(document, "writers"),
        directors=_people(document, "directors"),
        release_date=_release_date(document.get("release_date")),
        type=document.get("type"),
        posters=poster_links_beside(document.get("poster_url"), poster_widths),
        has_video=bool(document.get("has_video")),
        duration=document.get("duration"),
        qualities=list(document.get("qualities") or []),
    )


def _genre(document: Mapping[str, Any]) -> Genre:
    return Genre(
        uuid=document["id"], name=document["name"], description=document.get("description")
    )


def _person(document: Mapping[str, Any]) -> Person:
    return Person(
        uuid=document["id"],
        full_name=document["full_name"],
        films=[
            PersonFilm(uuid=film["id"], roles=sorted(film.get("roles") or []))
            for film in document.get("films") or []
        ],
    )


@dataclass(frozen=True)
class ContentQueries:
    """The read use cases over one search index and its index names; film details link the
    poster renditions of `poster_widths`."""

    search: SearchIndex
    names: IndexNames
    poster_widths: Sequence[int] = ()

    async def list_films(
        self, *, sort: str | None, genre: str | None, page: Page, has_video: bool | None = None
    ) -> list[FilmShort]:
        """Films in `sort` order, of a genre and watchable (`has_video`) or not, if asked."""
        filters: dict[str, str | bool] = {}
        if genre is not None:
            genre_id = _valid_id(genre)
            if genre_id is None:
                return []
            filters["genre_ids"] = genre_id
        if has_video is not None:
            filters["has_video"] = has_video
        hits = await self.search.search(
            SearchQuery(
                index=self.names.movies,
                filters=filters,
                sort=Sort.parse(sort or "-imdb_rating"),
                offset=page.offset,
                limit=page.size,
                source=SHORT_FIELDS,
            )
        )
        return [_film_short(document) for document in hits.documents]

    async def search_films(
        self, *, text: str, page: Page, has_video: bool | None = None
    ) -> list[FilmShort]:
        if not text.strip():
            return []
        hits = await self.search.search(
            SearchQuery(
                index=self.names.movies,
                text=text,
                fuzzy=True,
                filters={} if has_video is None else {"has_video": has_video},
                offset=page.offset,
                limit=page.size,
                source=SHORT_FIELDS,
            )
        )
        return [_film_short(document) for document in hits.documents]

    async def get_film(self, film_id: str) -> FilmDetail:
        canonical = _valid_id(film_id)
        document = (
            None if canonical is None else await self.search.get(self.names.movies, canonical)
        )
        if document is None:
            raise NotFound("film")
        return _film_detail(document, self.poster_widths)

    async def list_genres(self, *, page: Page | None = None) -> list[Genre]:
        """Genres by name, a page at a time (every genre without a `page`: the site's menu)."""
        if page is not None:
            hits = await self.search.search(
                SearchQuery(
                    index=self.names.genres, sort=Sort("name"), offset=page.offset, limit=page.size
                )
            )
            return [_genre(document) for document in hits.documents]
        genres: list[Genre] = []
        while True:
            hits = await self.search.search(
                SearchQuery(
                    index=self.names.genres, sort=Sort("name"), offset=len(genres), limit=MAX_LIMIT
                )
            )
            genres.extend(_genre(document) for document in hits.documents)
            if not hits.documents or len(genres) >= hits.total:
                return genres

    async def get_genre(self, genre_id: str) -> Genre:
        canonical = _valid_id(genre_id)
        document = (
            None if canonical is None else await self.search.get(self.names.genres, canonical)
        )
        if document is None:
            raise NotFound("genre")
        return _genre(document)

    async def search_persons(self, *, text: str, page: Page) -> list[Person]:
        if not text.strip():
            return []
        hits = await self.search.search(
            SearchQuery(
                index=self.names.persons, text=text, fuzzy=True, offset=page.offset, limit=page.size
            )
        )
        return [_person(document) for document in hits.documents]

    async def list_persons(self, *, sort: str, page: Page) -> list[Person]:
        """People by name (`full_name` or `-full_name`), a page at a time."""
        hits = await self.search.search(
            SearchQuery(
                index=self.names.persons,
                sort=Sort.parse(sort),
                offset=page.offset,
                limit=page.size,
            )
        )
        return [_person(document) for document in hits.documents]

    async def get_person(self, person_id: str) -> Person:
        canonical = _valid_id(person_id)
        document = (
            None if canonical is None else await self.search.get(self.names.persons, canonical)
        )
        if document is None:
            raise NotFound("person")
        return _person(document)

    async def person_films(self, person_id: str, *, page: Page) -> list[FilmShort]:
        """The person's films, best rated first, a page at a time."""
        person = await self.get_person(person_id)
        film_ids: Sequence[str] = [film.uuid for film in person.films]
        if not film_ids:
            return []
        hits = await self.search.search(
            SearchQuery(
                index=self.names.movies,
                filters={"id": list(film_ids)},
                sort=Sort("imdb_rating", descending=True),
                offset=page.offset,
                limit=page.size,
                source=SHORT_FIELDS,
            )
        )
        return [_film_short(document) for document in hits.documents]

    # Pages (the web context) list films with their posters and need the total for paging.

    async def film_cards(
        self, *, sort: str | None, genre: str | None, page: Page, has_video: bool | None = None
    ) -> CardPage:
        """Films, best rated first unless `sort` says otherwise, optionally of one genre and
        only those with (or without) a video."""
        filters: dict[str, str | bool] = {}
        if has_video is not None:
            filters["has_video"] = has_video
        if genre is not None:
            genre_id = _valid_id(genre)
            if genre_id is None:
                return CardPage(items=[], total=0)
            filters["genre_ids"] = genre_id
        hits = await self.search.search(
            SearchQuery(
                index=self.names.movies,
                filters=filters,
                sort=Sort.parse(sort or "-imdb_rating"),
                offset=page.offset,
                limit=page.size,
                source=CARD_FIELDS,
            )
        )
        return CardPage(items=[_film_card(d) for d in hits.documents], total=hits.total)

    async def search_film_cards(self, *, text: str, page: Page) -> CardPage:
        """Films matching `text`, typos forgiven, best match first."""
        if not text.strip():
            return CardPage(items=[], total=0)
        hits = await self.search.search(
            SearchQuery(
                index=self.names.movies,
                text=text,
                fuzzy=True,
                offset=page.offset,
                limit=page.size,
                source=CARD_FIELDS,
            )
        )
        return CardPage(items=[_film_card(d) for d in hits.documents], total=hits.total)

    async def person_film_cards(self, person: Person, *, page: Page) -> CardPage:
        film_ids = [film.uuid for film in person.films]
        if not film_ids:
            return CardPage(items=[], total=0)
        hits = await self.search.search(
            SearchQuery(
                index=self.names.movies,
                filters={"id": film_ids},
                sort=Sort("imdb_rating", descending=True),
                offset=page.offset,
                limit=page.size,
                source=CARD_FIELDS,
            )
        )
        return CardPage(items=[_film_card(d) for d in hits.documents], total=hits.total)

    async def get_film_view(self, film_id: str) -> FilmView:
        canonical = _valid_id(film_id)
        document = (
            None if canonical is None else await self.search.get(self.names.movies, canonical)
        )
        if document is None:
            raise NotFound("film")
        return FilmView(
            **_film_detail(document, self.poster_widths).model_dump(),
            poster_url=document.get("poster_url"),
            video_poster_url=document.get("video_poster_url"),
            preview_url=document.get("preview_url"),
        )
