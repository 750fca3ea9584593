"""Concurrent writes through the API: one like per viewer, every viewer counted, and the
per-film summary equal to a recount of the ratings and reviews themselves."""

from __future__ import annotations

import asyncio
import random
import uuid

import httpx

from kinoteka.ugc import get_ugc
from kinoteka.ugc.service import recount_summary
from tests.ugc.conftest import MODERATOR, UgcWorld

API = "/api/v1/ugc"


async def _summary(world: UgcWorld, film: uuid.UUID) -> dict[str, object]:
    response = await world.client.get(f"{API}/films/{film}/rating")
    assert response.status_code == 200
    summary: dict[str, object] = response.json()
    return summary


def _all_succeeded(responses: list[httpx.Response], *expected: int) -> None:
    """Every concurrent write was answered as `expected` (a refused one is not a lost one)."""
    failed = [(r.status_code, r.text) for r in responses if r.status_code not in expected]
    assert failed == [], failed[:3]


async def _recount(world: UgcWorld, film: uuid.UUID) -> dict[str, object]:
    recount = await recount_summary(get_ugc(world.services).store, film)
    return recount.model_dump(mode="json")


async def test_the_same_viewer_rating_at_once_leaves_one_rating(world: UgcWorld) -> None:
    film, me = world.films[0], world.headers(uuid.uuid4())
    responses = await asyncio.gather(
        *(
            world.client.put(f"{API}/films/{film}/my-rating", json={"score": n}, headers=me)
            for n in range(10)
        )
    )
    _all_succeeded(responses, 200)
    summary = await _summary(world, film)
    assert summary["count"] == 1
    assert summary == await _recount(world, film)


async def test_many_viewers_at_once_all_count(world: UgcWorld) -> None:
    film = world.films[1]
    viewers = [world.headers(uuid.uuid4()) for _ in range(20)]
    responses = await asyncio.gather(
        *(
            world.client.put(f"{API}/films/{film}/my-rating", json={"score": 8}, headers=viewer)
            for viewer in viewers
        )
    )
    _all_succeeded(responses, 200)
    summary = await _summary(world, film)
    assert (summary["count"], summary["average"]) == (20, 8.0)
    assert summary == await _recount(world, film)


async def test_one_review_and_one_vote_per_viewer_at_once(world: UgcWorld) -> None:
    film, me = world.films[0], world.headers(uuid.uuid4())
    body = {"text": "once", "score": 5}
    posted = await asyncio.gather(
        *(world.client.post(f"{API}/films/{film}/reviews", json=body, headers=me) for _ in range(6))
    )
    assert sorted(response.status_code for response in posted) == [201] + [409] * 5
    review_id = next(r.json()["id"] for r in posted if r.status_code == 201)
    voter = world.headers(uuid.uuid4())
    votes = await asyncio.gather(
        *(
            world.client.put(
                f"{API}/reviews/{review_id}/vote",
                json={"value": "like" if n % 2 else "dislike"},
                headers=voter,
            )
            for n in range(8)
        )
    )
    _all_succeeded(votes, 200)
    review = (await world.client.get(f"{API}/reviews/{review_id}")).json()
    assert review["likes"] + review["dislikes"] == 1
    summary = await _summary(world, film)
    assert summary["reviews"] == 1
    assert summary == await _recount(world, film)


async def test_a_hundred_viewers_at_once_all_count(world: UgcWorld) -> None:
    film = world.films[2]
    scores = [n % 11 for n in range(100)]
    responses = await asyncio.gather(
        *(
            world.client.put(
                f"{API}/films/{film}/my-rating",
                json={"score": score},
                headers=world.headers(uuid.uuid4()),
            )
            for score in scores
        )
    )
    _all_succeeded(responses, 200)
    summary = await _summary(world, film)
    assert summary["count"] == 100
    assert summary["distribution"] == {str(score): scores.count(score) for score in range(11)}
    assert summary == await _recount(world, film)


async def test_a_storm_of_mixed_writes_keeps_summaries_equal_to_recounts(world: UgcWorld) -> None:
    randomness = random.Random(18)
    viewers = [uuid.uuid4() for _ in range(8)]
    moderator = world.headers(permissions=MODERATOR)
    review_ids: list[str] = []

    async def act(viewer: uuid.UUID) -> None:
        me = world.headers(viewer)
        for _ in range(12):
            film = randomness.choice(world.films)
            roll = randomness.random()
            if roll < 0.45:
                score = randomness.randint(0, 10)
                await world.client.put(
                    f"{API}/films/{film}/my-rating", json={"score": score}, headers=me
                )
            elif roll < 0.65:
                await world.client.delete(f"{API}/films/{film}/my-rating", headers=me)
            elif roll < 0.8:
                body = {"text": "storm", "score": randomness.randint(0, 10)}
                response = await world.client.post(
                    f"{API}/films/{film}/reviews", json=body, headers=me
                )
                if response.status_code == 201:
                    review_ids.append(response.json()["id"])
            elif review_ids:
                target = randomness.choice(review_ids)
                action = randomness.choice(["hide", "restore"])
                await world.client.post(f"{API}/reviews/{target}/{action}", headers=moderator)

    await asyncio.gather(*(act(viewer) for viewer in viewers))
    for film in world.films:
        assert await _summary(world, film) == await _recount(world, film)
