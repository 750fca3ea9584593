"""Reviews: one per viewer and film, edited or deleted by its author, voted on by others,
hidden and restored by moderators. A hidden review leaves the lists and the film's review
count, and stays visible to its author (and moderators).

Text is stored as the plain text sent (HTML is not interpreted); pages escape it on output.
"""

from __future__ import annotations

import unicodedata
import uuid

import structlog

from kinoteka.infra.documents import Document, DocumentStore
from kinoteka.ugc.documents import REVIEW_VOTES, REVIEWS, SCORES, review_id, stamp
from kinoteka.ugc.errors import InvalidInput, NotAuthor, ReviewExists, ReviewNotFound
from kinoteka.ugc.schemas import Review, ReviewPage, ReviewSort, VoteValue
from kinoteka.ugc.service import move_film_stats
from kinoteka.ugc.settings import UgcSettings

log = structlog.get_logger(__name__)

VOTE_FIELDS = {VoteValue.LIKE: "likes", VoteValue.DISLIKE: "dislikes"}
SORTS = {
    ReviewSort.NEWEST: [("created", True)],
    ReviewSort.MOST_LIKED: [("likes", True), ("created", True)],
}
_ALLOWED_CONTROLS = {"\n", "\t"}


def clean_text(text: str, settings: UgcSettings) -> str:
    """The review text as stored: NFC, CRLF as LF, trimmed; no other control characters."""
    cleaned = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if any(
        unicodedata.category(char) in ("Cc", "Cs") and char not in _ALLOWED_CONTROLS
        for char in cleaned
    ):
        raise InvalidInput("text: control characters are not allowed")
    if len(cleaned) < settings.review_min_length:
        raise InvalidInput(f"text: at least {settings.review_min_length} characters")
    if len(cleaned) > settings.review_max_length:
        raise InvalidInput(f"text: at most {settings.review_max_length} characters")
    return cleaned


def _check_score(score: int) -> int:
    if score not in SCORES:
        raise InvalidInput("score: from 0 to 10")
    return score


def _review(document: Document, my_vote: str | None = None) -> Review:
    return Review(
        id=document["id"],
        film_id=document["film_id"],
        author_id=document["user_id"],
        text=document["text"],
        score=document["score"],
        created=document["created"],
        edited=document.get("edited"),
        likes=document.get("likes", 0),
        dislikes=document.get("dislikes", 0),
        hidden=document.get("hidden", False),
        my_vote=VoteValue(my_vote) if my_vote else None,
    )


async def write_review(
    store: DocumentStore,
    settings: UgcSettings,
    user_id: uuid.UUID,
    film_id: uuid.UUID,
    *,
    text: str,
    score: int,
) -> Review:
    """The viewer's review of the film; `ReviewExists` when they wrote one already."""
    key = review_id(film_id, user_id)
    document = {
        "id": str(key),
        "film_id": str(film_id),
        "user_id": str(user_id),
        "text": clean_text(text, settings),
        "score": _check_score(score),
        "created": stamp(),
        "edited": None,
        "hidden": False,
        "likes": 0,
        "dislikes": 0,
    }
    if not await store.insert(REVIEWS, str(key), document):
        raise ReviewExists(key)
    await move_film_stats(store, film_id, {"reviews": 1})
    log.info("ugc.review_written", review_id=str(key), film_id=str(film_id))
    return _review(document)


async def _visible(
    store: DocumentStore, key: uuid.UUID, viewer: uuid.UUID | None, moderator: bool
) -> Document:
    found = await store.get(REVIEWS, str(key))
    if found is None:
        raise ReviewNotFound(key)
    if found["hidden"] and not moderator and str(viewer) != found["user_id"]:
        raise ReviewNotFound(key)
    return found


async def get_review(
    store: DocumentStore, key: uuid.UUID, *, viewer: uuid.UUID | None, moderator: bool = False
) -> Review:
    found = await _visible(store, key, viewer, moderator)
    vote = None
    if viewer is not None:
        cast = await store.get(REVIEW_VOTES, f"{key}:{viewer}")
        vote = None if cast is None else cast["value"]
    return _review(found, vote)


async def my_review(store: DocumentStore, user_id: uuid.UUID, film_id: uuid.UUID) -> Review | None:
    """The viewer's review of the film (hidden or not), or None."""
    found = await store.get(REVIEWS, str(review_id(film_id, user_id)))
    return None if found is None else _review(found)


async def my_votes(
    store: DocumentStore, user_id: uuid.UUID, review_ids: list[uuid.UUID]
) -> dict[uuid.UUID, VoteValue]:
    """The viewer's votes on these reviews (the ones they voted on)."""
    votes: dict[uuid.UUID, VoteValue] = {}
    for key in review_ids:
        cast = await store.get(REVIEW_VOTES, f"{key}:{user_id}")
        if cast is not None:
            votes[key] = VoteValue(cast["value"])
    return votes


async def edit_review(
    store: DocumentStore,
    settings: UgcSettings,
    user_id: uuid.UUID,
    key: uuid.UUID,
    *,
    text: str | None = None,
    score: int | None = None,
) -> Review:
    """The author changes the text and/or the score; `edited` records when."""
    found = await _visible(store, key, user_id, moderator=False)
    if found["user_id"] != str(user_id):
        raise NotAuthor()
    changes: Document = {"edited": stamp()}
    if text is not None:
        changes["text"] = clean_text(text, settings)
    if score is not None:
        changes["score"] = _check_score(score)
    if await store.update(REVIEWS, str(key), changes) is None:
        raise ReviewNotFound(key)
    return _review({**found, **changes})


async def delete_review(store: DocumentStore, user_id: uuid.UUID, key: uuid.UUID) -> None:
    """The author deletes their review, with the votes on it."""
    found = await _visible(store, key, user_id, moderator=False)
    if found["user_id"] != str(user_id):
        raise NotAuthor()
    removed = await store.delete(REVIEWS, str(key))
    if removed is None:
        raise ReviewNotFound(key)
    if not removed["hidden"]:
        await move_film_stats(store, uuid.UUID(removed["film_id"]), {"reviews": -1})
    await store.delete_where(REVIEW_VOTES, {"review_id": str(key)})
    log.info("ugc.review_deleted", review_id=str(key))


async def film_reviews(
    store: DocumentStore,
    film_id: uuid.UUID,
    *,
    sort: ReviewSort,
    limit: int,
    offset: int = 0,
    include_hidden: bool = False,
) -> ReviewPage:
    """A film's visible reviews, newest or most liked first; with `include_hidden` (for
    moderators, who restore them) the hidden ones too, flagged."""
    where: dict[str, object] = {"film_id": str(film_id)}
    if not include_hidden:
        where["hidden"] = False
    found = await store.find(REVIEWS, where, order_by=SORTS[sort], limit=limit, offset=offset)
    return ReviewPage(
        items=[_review(document) for document in found],
        total=await store.count(REVIEWS, where),
    )


async def user_reviews(
    store: DocumentStore, user_id: uuid.UUID, *, limit: int, offset: int = 0
) -> ReviewPage:
    """The viewer's own reviews, hidden ones included (flagged), newest first."""
    where = {"user_id": str(user_id)}
    found = await store.find(
        REVIEWS, where, order_by=[("created", True)], limit=limit, offset=offset
    )
    return ReviewPage(
        items=[_review(document) for document in found],
        total=await store.count(REVIEWS, where),
    )


async def _move_votes(
    store: DocumentStore, user_id: uuid.UUID, key: uuid.UUID, deltas: dict[str, int]
) -> Document | None:
    deltas = {field: amount for field, amount in deltas.items() if amount}
    if not deltas:
        return await store.get(REVIEWS, str(key))
    after = await store.increment(REVIEWS, str(key), deltas)
    if after is None:  # the review went meanwhile: so does the vote
        await store.delete(REVIEW_VOTES, f"{key}:{user_id}")
    return after


async def vote_review(
    store: DocumentStore, user_id: uuid.UUID, key: uuid.UUID, value: VoteValue
) -> Review:
    """Like or dislike a review; one vote per viewer (a new one replaces theirs)."""
    await _visible(store, key, user_id, moderator=False)
    document = {"review_id": str(key), "user_id": str(user_id), "value": value.value}
    previous = await store.put(REVIEW_VOTES, f"{key}:{user_id}", document)
    deltas = {VOTE_FIELDS[value]: 1}
    if previous is not None:
        old = VOTE_FIELDS[VoteValue(previous["value"])]
        deltas[old] = deltas.get(old, 0) - 1
    after = await _move_votes(store, user_id, key, deltas)
    if after is None:
        raise ReviewNotFound(key)
    return _review(after, value)


async def withdraw_vote(store: DocumentStore, user_id: uuid.UUID, key: uuid.UUID) -> None:
    removed = await store.delete(REVIEW_VOTES, f"{key}:{user_id}")
    if removed is not None:
        await _move_votes(store, user_id, key, {VOTE_FIELDS[VoteValue(removed["value"])]: -1})


async def set_review_hidden(
    store: DocumentStore, moderator_id: uuid.UUID, key: uuid.UUID, *, hidden: bool
) -> Review:
    """A moderator hides a review from everyone but its author, or restores it."""
    changes = {"hidden": hidden, "moderated_by": str(moderator_id), "moderated": stamp()}
    previous = await store.update(REVIEWS, str(key), changes)
    if previous is None:
        raise ReviewNotFound(key)
    if previous["hidden"] != hidden:
        await move_film_stats(
            store, uuid.UUID(previous["film_id"]), {"reviews": -1 if hidden else 1}
        )
    log.info("ugc.review_moderated", review_id=str(key), hidden=hidden)
    return _review({**previous, **changes})
