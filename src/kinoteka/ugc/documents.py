"""How UGC lays out its documents: collection names, keys, time stamps, per-film counters."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

BOOKMARKS = "bookmarks"
RATINGS = "ratings"
REVIEWS = "reviews"
REVIEW_VOTES = "review_votes"
PROGRESS = "progress"
FILM_STATS = "film_stats"
"""Per film: `count` and `sum` of ratings, `n0`…`n10` per score, `reviews` visible."""

SCORES = range(11)
STATS_FIELDS = ("count", "sum", *(f"n{score}" for score in SCORES), "reviews")
"""Every counter a `film_stats` document keeps."""

# The MongoDB adapter's secondary indexes; the PostgreSQL ones come from the ugc migrations.
INDEXES: dict[str, list[list[tuple[str, bool]]]] = {
    BOOKMARKS: [[("user_id", False), ("created", True)]],
    RATINGS: [[("film_id", False)], [("user_id", False)]],
    REVIEWS: [
        [("film_id", False), ("hidden", False), ("created", True)],
        [("film_id", False), ("hidden", False), ("likes", True)],
        [("user_id", False), ("created", True)],
    ],
    REVIEW_VOTES: [[("review_id", False)], [("user_id", False)]],
    PROGRESS: [[("user_id", False), ("finished", False), ("updated", True)]],
}


def pair_key(user_id: uuid.UUID, film_id: uuid.UUID) -> str:
    return f"{user_id}:{film_id}"


def review_id(film_id: uuid.UUID, user_id: uuid.UUID) -> uuid.UUID:
    """One review per viewer and film: its id follows from the pair, so the store's key
    uniqueness is the rule."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"kinoteka:review:{film_id}:{user_id}")


def stamp(moment: datetime | None = None) -> str:
    """A UTC time as fixed-width ISO-8601 text, so that text order is time order."""
    value = (moment or datetime.now(UTC)).astimezone(UTC)
    # Not strftime: its %Y does not pad years before 1000 on every platform.
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:"
        f"{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}Z"
    )


def score_field(score: int) -> str:
    return f"n{score}"
