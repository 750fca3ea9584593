"""Repairing the per-film counters (`kinoteka ugc recount`): a film's `film_stats` recomputed
from its ratings and visible reviews, and the stored counters moved onto the recount.

Counters are moved by the difference (an increment), not overwritten, so a write landing
while the repair runs keeps its own move; a counter that is not an integer at all is set.
Writes racing with the recount itself can leave a difference a second run corrects.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import structlog

from kinoteka.infra.documents import DocumentStore
from kinoteka.ugc.documents import FILM_STATS, RATINGS, REVIEWS, STATS_FIELDS
from kinoteka.ugc.service import counted_stats

log = structlog.get_logger(__name__)

PAGE = 1000


@dataclass(frozen=True)
class CounterFix:
    field: str
    stored: object
    """What the counter held: an integer, or whatever broken value was there (None: absent)."""
    counted: int


@dataclass(frozen=True)
class FilmRepair:
    film_id: uuid.UUID
    fixes: list[CounterFix]


def _integer(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


async def repair_film_stats(store: DocumentStore, film_id: uuid.UUID) -> FilmRepair:
    """Recount the film's counters and repair the stored ones that differ."""
    counted = await counted_stats(store, film_id)
    key = str(film_id)
    stored = await store.get(FILM_STATS, key) or {}
    fixes: list[CounterFix] = []
    moves: dict[str, int] = {}
    sets: dict[str, int] = {}
    for field in STATS_FIELDS:
        value = stored.get(field)
        number = 0 if value is None else _integer(value)
        if number == counted[field]:
            continue
        fixes.append(CounterFix(field, value, counted[field]))
        if number is None:
            sets[field] = counted[field]
        else:
            moves[field] = counted[field] - number
    if sets and await store.update(FILM_STATS, key, sets) is None:
        await store.insert(FILM_STATS, key, sets)  # the document went meanwhile
    if moves:
        await store.increment(FILM_STATS, key, moves, create=True)
    if fixes:
        log.warning(
            "ugc.counters_repaired",
            film_id=key,
            fixes={fix.field: [fix.stored, fix.counted] for fix in fixes},
        )
    return FilmRepair(film_id, fixes)


async def _keys(store: DocumentStore, collection: str) -> AsyncIterator[str]:
    after: str | None = None
    while True:
        keys = await store.keys(collection, after=after, limit=PAGE)
        for key in keys:
            yield key
        if len(keys) < PAGE:
            return
        after = keys[-1]


def _film_id(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


async def films_with_counters_or_rows(store: DocumentStore) -> list[uuid.UUID]:
    """Every film with a counters document, a rating or a review, in id order."""
    films: set[uuid.UUID] = set()
    async for key in _keys(store, FILM_STATS):
        film = _film_id(key)
        if film is not None:
            films.add(film)
    async for key in _keys(store, RATINGS):  # a rating's key is "<user id>:<film id>"
        film = _film_id(key.rpartition(":")[2])
        if film is not None:
            films.add(film)
    offset = 0
    while True:
        page = await store.find(REVIEWS, {}, limit=PAGE, offset=offset)
        films.update(uuid.UUID(review["film_id"]) for review in page)
        if len(page) < PAGE:
            break
        offset += PAGE
    return sorted(films)
