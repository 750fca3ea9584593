"""UGC use cases: bookmarks, ratings with their per-film summary, watch progress
(reviews are in `reviews.py`, forgetting an account in `accounts.py`).

Every write is one atomic document operation; per-film counters move by the difference the
write made (what `put`/`delete` report they replaced), so concurrent writers never lose a
count and the summary equals a recount.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from kinoteka.infra.documents import Document, DocumentStore
from kinoteka.ugc.documents import (
    BOOKMARKS,
    FILM_STATS,
    PROGRESS,
    RATINGS,
    REVIEWS,
    SCORES,
    STATS_FIELDS,
    pair_key,
    score_field,
    stamp,
)
from kinoteka.ugc.errors import InvalidInput, ProgressNotFound, RatingNotFound
from kinoteka.ugc.schemas import (
    Bookmark,
    BookmarkPage,
    Progress,
    ProgressWrite,
    Rating,
    RatingSummary,
)
from kinoteka.ugc.stats_cache import StatsCachingStore

log = structlog.get_logger(__name__)

CLOCK_SKEW = timedelta(minutes=5)
"""How far in the future a player's clock may be before its heartbeat is refused."""
EARLIEST_CLIENT_TIME = datetime(2000, 1, 1, tzinfo=UTC)
"""Older heartbeats are a broken clock (and would not fit the fixed-width time stamps)."""


# Bookmarks


async def add_bookmark(
    store: DocumentStore, user_id: uuid.UUID, film_id: uuid.UUID
) -> tuple[Bookmark, bool]:
    """The bookmark, and whether this call created it (a repeated PUT changes nothing)."""
    key = pair_key(user_id, film_id)
    document = {"user_id": str(user_id), "film_id": str(film_id), "created": stamp()}
    created = await store.insert(BOOKMARKS, key, document)
    if not created:
        document = await store.get(BOOKMARKS, key) or document
    return Bookmark(film_id=film_id, created=document["created"]), created


async def is_bookmarked(store: DocumentStore, user_id: uuid.UUID, film_id: uuid.UUID) -> bool:
    return await store.get(BOOKMARKS, pair_key(user_id, film_id)) is not None


async def remove_bookmark(store: DocumentStore, user_id: uuid.UUID, film_id: uuid.UUID) -> bool:
    return await store.delete(BOOKMARKS, pair_key(user_id, film_id)) is not None


async def list_bookmarks(
    store: DocumentStore, user_id: uuid.UUID, *, limit: int, offset: int = 0
) -> BookmarkPage:
    """The viewer's bookmarks, newest first."""
    mine = {"user_id": str(user_id)}
    found = await store.find(
        BOOKMARKS, mine, order_by=[("created", True)], limit=limit, offset=offset
    )
    items = [Bookmark(film_id=doc["film_id"], created=doc["created"]) for doc in found]
    return BookmarkPage(items=items, total=await store.count(BOOKMARKS, mine))


# Ratings


def _rating_deltas(new: int | None, old: int | None) -> dict[str, int]:
    deltas: dict[str, int] = {}

    def add(field: str, amount: int) -> None:
        deltas[field] = deltas.get(field, 0) + amount

    if new is not None:
        add("count", 1)
        add("sum", new)
        add(score_field(new), 1)
    if old is not None:
        add("count", -1)
        add("sum", -old)
        add(score_field(old), -1)
    return {field: amount for field, amount in deltas.items() if amount}


async def move_film_stats(store: DocumentStore, film_id: uuid.UUID, deltas: dict[str, int]) -> None:
    if deltas:
        await store.increment(FILM_STATS, str(film_id), deltas, create=True)


async def rate_film(
    store: DocumentStore, user_id: uuid.UUID, film_id: uuid.UUID, score: int
) -> Rating:
    """Set (or change) the viewer's 0-10 score of the film."""
    if score not in SCORES:
        raise InvalidInput("score: from 0 to 10")
    updated = stamp()
    document = {
        "user_id": str(user_id), "film_id": str(film_id), "score": score, "updated": updated,
    }  # fmt: skip
    previous = await store.put(RATINGS, pair_key(user_id, film_id), document)
    old = None if previous is None else int(previous["score"])
    await move_film_stats(store, film_id, _rating_deltas(score, old))
    log.info("ugc.rated", film_id=str(film_id), score=score, changed=old is not None)
    return Rating(film_id=film_id, score=score, updated=updated)


async def my_rating(store: DocumentStore, user_id: uuid.UUID, film_id: uuid.UUID) -> Rating:
    found = await store.get(RATINGS, pair_key(user_id, film_id))
    if found is None:
        raise RatingNotFound("you have not rated this film")
    return Rating(film_id=film_id, score=found["score"], updated=found["updated"])


async def remove_rating(store: DocumentStore, user_id: uuid.UUID, film_id: uuid.UUID) -> bool:
    removed = await store.delete(RATINGS, pair_key(user_id, film_id))
    if removed is None:
        return False
    await move_film_stats(store, film_id, _rating_deltas(None, int(removed["score"])))
    return True


def summary_of(film_id: uuid.UUID, stats: Document | None) -> RatingSummary:
    stats = stats or {}
    count = int(stats.get("count", 0))
    total = int(stats.get("sum", 0))
    return RatingSummary(
        film_id=film_id,
        average=round(total / count, 2) if count > 0 else None,
        count=count,
        distribution={str(score): int(stats.get(score_field(score), 0)) for score in SCORES},
        reviews=int(stats.get("reviews", 0)),
    )


async def rating_summary(store: DocumentStore, film_id: uuid.UUID) -> RatingSummary:
    """The film's average, count, distribution and review count (the maintained counters)."""
    return summary_of(film_id, await store.get(FILM_STATS, str(film_id)))


@dataclass(frozen=True, slots=True)
class RenderedSummary:
    """A film's `RatingSummary` as its JSON, with the two counts a reader checks."""

    count: int
    reviews: int
    json: bytes


def _render_summary(key: str, stats: Document | None) -> RenderedSummary:
    summary = summary_of(uuid.UUID(key), stats)
    return RenderedSummary(summary.count, summary.reviews, summary.model_dump_json().encode())


async def rendered_rating_summary(store: StatsCachingStore, film_id: uuid.UUID) -> RenderedSummary:
    """`rating_summary` as JSON, rendered once per cached read of the film's counters (the API
    answers it as it is: building and serialising the model cost more than the rest of the
    route)."""
    return await store.view(str(film_id), _render_summary)


async def scan(store: DocumentStore, collection: str, where: dict[str, Any]) -> list[Document]:
    found: list[Document] = []
    while True:
        batch = await store.find(collection, where, limit=1000, offset=len(found))
        found.extend(batch)
        if len(batch) < 1000:
            return found


async def counted_stats(store: DocumentStore, film_id: uuid.UUID) -> dict[str, int]:
    """The film's counters as its ratings and visible reviews give them, every field present."""
    stats = dict.fromkeys(STATS_FIELDS, 0)
    for rating in await scan(store, RATINGS, {"film_id": str(film_id)}):
        for field, amount in _rating_deltas(int(rating["score"]), None).items():
            stats[field] += amount
    stats["reviews"] = await store.count(REVIEWS, {"film_id": str(film_id), "hidden": False})
    return stats


async def recount_summary(store: DocumentStore, film_id: uuid.UUID) -> RatingSummary:
    """The same summary computed from the ratings and reviews themselves (for checks)."""
    return summary_of(film_id, await counted_stats(store, film_id))


# Watch progress


def _progress(document: Document) -> Progress:
    return Progress(
        film_id=document["film_id"],
        position_seconds=document["position_seconds"],
        duration_seconds=document["duration_seconds"],
        client_time=document["client_time"],
        updated=document["updated"],
        finished=document["finished"],
    )


async def save_progress(
    store: DocumentStore,
    user_id: uuid.UUID,
    film_id: uuid.UUID,
    *,
    position_seconds: float,
    duration_seconds: float | None,
    client_time: datetime,
    finished_ratio: float,
) -> ProgressWrite:
    """Store a player heartbeat unless a later one (by the player's clock) is stored."""
    if client_time.tzinfo is None:
        raise InvalidInput("client_time: needs a time zone")
    if client_time > datetime.now(UTC) + CLOCK_SKEW:
        raise InvalidInput("client_time: in the future")
    if client_time < EARLIEST_CLIENT_TIME:
        raise InvalidInput("client_time: before 2000")
    if duration_seconds is not None and position_seconds > duration_seconds:
        raise InvalidInput("position_seconds: beyond duration_seconds")
    finished = duration_seconds is not None and position_seconds >= finished_ratio * (
        duration_seconds
    )
    document = {
        "user_id": str(user_id),
        "film_id": str(film_id),
        "position_seconds": position_seconds,
        "duration_seconds": duration_seconds,
        "client_time": stamp(client_time),
        "updated": stamp(),
        "finished": finished,
    }
    key = pair_key(user_id, film_id)
    applied = await store.put_if_newer(PROGRESS, key, document, "client_time")
    if not applied:
        document = await store.get(PROGRESS, key) or document
    return ProgressWrite(applied=applied, progress=_progress(document))


async def film_progress(store: DocumentStore, user_id: uuid.UUID, film_id: uuid.UUID) -> Progress:
    found = await store.get(PROGRESS, pair_key(user_id, film_id))
    if found is None:
        raise ProgressNotFound("no progress on this film")
    return _progress(found)


async def continue_watching(
    store: DocumentStore, user_id: uuid.UUID, *, limit: int, offset: int = 0
) -> list[Progress]:
    """Films the viewer started and has not finished, the latest watched first."""
    found = await store.find(
        PROGRESS,
        {"user_id": str(user_id), "finished": False},
        order_by=[("updated", True)],
        limit=limit,
        offset=offset,
    )
    return [_progress(document) for document in found]
