"""Forgetting an account: its UGC goes when auth deletes it, counters kept true."""

from __future__ import annotations

import uuid

import structlog

from kinoteka.infra.documents import DocumentStore
from kinoteka.ugc.documents import BOOKMARKS, PROGRESS, RATINGS, REVIEW_VOTES, REVIEWS
from kinoteka.ugc.reviews import delete_review, withdraw_vote
from kinoteka.ugc.service import remove_rating, scan

log = structlog.get_logger(__name__)


async def forget_user(store: DocumentStore, user_id: uuid.UUID) -> None:
    """Remove everything the account wrote, keeping every per-film counter true."""
    mine = {"user_id": str(user_id)}
    for rating in await scan(store, RATINGS, mine):
        await remove_rating(store, user_id, uuid.UUID(rating["film_id"]))
    for review in await scan(store, REVIEWS, mine):
        await delete_review(store, user_id, uuid.UUID(review["id"]))
    for vote in await scan(store, REVIEW_VOTES, mine):
        await withdraw_vote(store, user_id, uuid.UUID(vote["review_id"]))
    await store.delete_where(BOOKMARKS, mine)
    await store.delete_where(PROGRESS, mine)
    log.info("ugc.user_forgotten", user_id=str(user_id))
