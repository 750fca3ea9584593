"""Each UGC operation through the HTTP API, with its errors."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from tests.ugc.conftest import MODERATOR, UgcWorld

API = "/api/v1/ugc"


async def test_bookmarks_are_idempotent_and_listed_newest_first(world: UgcWorld) -> None:
    client, me = world.client, world.headers(uuid.uuid4())
    first, second, _ = world.films
    created = await client.put(f"{API}/bookmarks/{first}", headers=me)
    assert created.status_code == 201
    again = await client.put(f"{API}/bookmarks/{first}", headers=me)
    assert again.status_code == 200
    assert again.json() == created.json()
    assert (await client.put(f"{API}/bookmarks/{second}", headers=me)).status_code == 201

    listed = (await client.get(f"{API}/bookmarks", headers=me)).json()
    assert [item["film_id"] for item in listed["items"]] == [str(second), str(first)]
    assert listed["total"] == 2
    paged = (await client.get(f"{API}/bookmarks?page_size=1&page_number=2", headers=me)).json()
    assert [item["film_id"] for item in paged["items"]] == [str(first)]

    assert (await client.delete(f"{API}/bookmarks/{first}", headers=me)).status_code == 204
    assert (await client.delete(f"{API}/bookmarks/{first}", headers=me)).status_code == 204
    others = (await client.get(f"{API}/bookmarks", headers=world.headers())).json()
    assert others == {"items": [], "total": 0}


async def test_writes_need_a_known_film_a_token_and_the_permission(world: UgcWorld) -> None:
    client, film = world.client, world.films[0]
    missing = await client.put(f"{API}/bookmarks/{uuid.uuid4()}", headers=world.headers())
    assert missing.status_code == 404
    assert "not found" in missing.json()["detail"]
    assert (
        await client.put(f"{API}/bookmarks/not-a-uuid", headers=world.headers())
    ).status_code == 422
    assert (await client.put(f"{API}/bookmarks/{film}")).status_code == 401
    bad_token = {"Authorization": "Bearer nonsense"}
    assert (await client.put(f"{API}/bookmarks/{film}", headers=bad_token)).status_code == 401
    reader = world.headers(permissions=["catalog.read"])
    assert (await client.put(f"{API}/bookmarks/{film}", headers=reader)).status_code == 403


async def test_a_rating_is_set_changed_removed_and_summarised(world: UgcWorld) -> None:
    client, film = world.client, world.films[0]
    alice, bob = world.headers(uuid.uuid4()), world.headers(uuid.uuid4())
    assert (await client.get(f"{API}/films/{film}/my-rating", headers=alice)).status_code == 404
    rated = await client.put(f"{API}/films/{film}/my-rating", json={"score": 7}, headers=alice)
    assert rated.status_code == 200
    assert rated.json()["score"] == 7
    await client.put(f"{API}/films/{film}/my-rating", json={"score": 9}, headers=alice)
    await client.put(f"{API}/films/{film}/my-rating", json={"score": 4}, headers=bob)
    mine = (await client.get(f"{API}/films/{film}/my-rating", headers=alice)).json()
    assert mine["score"] == 9

    summary = (await client.get(f"{API}/films/{film}/rating")).json()
    assert summary["count"] == 2
    assert summary["average"] == 6.5
    assert summary["distribution"]["9"] == 1
    assert summary["distribution"]["4"] == 1
    assert summary["distribution"]["7"] == 0
    assert sum(summary["distribution"].values()) == 2

    assert (await client.delete(f"{API}/films/{film}/my-rating", headers=alice)).status_code == 204
    assert (await client.delete(f"{API}/films/{film}/my-rating", headers=alice)).status_code == 204
    summary = (await client.get(f"{API}/films/{film}/rating")).json()
    assert (summary["count"], summary["average"]) == (1, 4.0)
    empty = (await client.get(f"{API}/films/{world.films[2]}/rating")).json()
    assert (empty["count"], empty["average"], empty["reviews"]) == (0, None, 0)
    assert (await client.get(f"{API}/films/{uuid.uuid4()}/rating")).status_code == 404


async def test_scores_outside_0_to_10_and_malformed_bodies_are_422(world: UgcWorld) -> None:
    client, film, me = world.client, world.films[0], world.headers()
    url = f"{API}/films/{film}/my-rating"
    body: object
    for body in (
        {"score": 11},
        {"score": -1},
        {"score": 5.5},
        {"score": "7"},
        {},
        [],
        {"score": 5, "x": 1},
    ):
        response = await client.put(url, json=body, headers=me)
        assert response.status_code == 422, body
    response = await client.put(
        url, content=b"{not json", headers={**me, "Content-Type": "application/json"}
    )
    assert response.status_code == 422


async def test_a_review_is_written_once_edited_and_deleted_by_its_author(world: UgcWorld) -> None:
    client, film = world.client, world.films[0]
    author_id = uuid.uuid4()
    author, other = world.headers(author_id), world.headers()
    body = {"text": "  <b>Great</b> film\r\nreally  ", "score": 8}
    written = await client.post(f"{API}/films/{film}/reviews", json=body, headers=author)
    assert written.status_code == 201
    review = written.json()
    assert review["text"] == "<b>Great</b> film\nreally"  # stored as plain text, not HTML
    assert (review["author_id"], review["score"], review["edited"]) == (str(author_id), 8, None)
    again = await client.post(f"{API}/films/{film}/reviews", json=body, headers=author)
    assert again.status_code == 409

    url = f"{API}/reviews/{review['id']}"
    assert (await client.patch(url, json={"text": "Hijack"}, headers=other)).status_code == 403
    edited = await client.patch(url, json={"text": "Good film", "score": 6}, headers=author)
    assert edited.status_code == 200
    assert (edited.json()["text"], edited.json()["score"]) == ("Good film", 6)
    assert edited.json()["edited"] is not None
    assert (await client.get(url)).json()["text"] == "Good film"
    assert (await client.get(f"{API}/films/{film}/rating")).json()["reviews"] == 1

    assert (await client.delete(url, headers=other)).status_code == 403
    assert (await client.delete(url, headers=author)).status_code == 204
    assert (await client.get(url)).status_code == 404
    assert (await client.delete(url, headers=author)).status_code == 404
    assert (await client.get(f"{API}/films/{film}/rating")).json()["reviews"] == 0


async def test_review_text_limits_and_scores(world: UgcWorld) -> None:
    client, film, me = world.client, world.films[1], world.headers()
    url = f"{API}/films/{film}/reviews"
    too_long = {"text": "x" * 5001, "score": 5}
    response = await client.post(url, json=too_long, headers=me)
    assert response.status_code == 422
    assert response.json()["detail"].startswith("text: at most 5000")
    for body in ({"text": "   ", "score": 5}, {"text": "bell\x07", "score": 5},
                 {"text": "ok", "score": 11}, {"text": "ok"}, {"text": 5, "score": 5}):  # fmt: skip
        assert (await client.post(url, json=body, headers=me)).status_code == 422, body
    assert (
        await client.post(url, json={"text": "x" * 5000, "score": 0}, headers=me)
    ).status_code == 201


async def test_reviews_list_newest_or_most_liked_with_one_vote_each(world: UgcWorld) -> None:
    client, film = world.client, world.films[0]
    ids = []
    for number in range(3):
        written = await client.post(
            f"{API}/films/{film}/reviews", json={"text": f"review {number}", "score": number},
            headers=world.headers(),
        )  # fmt: skip
        ids.append(written.json()["id"])
    voter = world.headers(uuid.uuid4())
    liked = await client.put(f"{API}/reviews/{ids[0]}/vote", json={"value": "like"}, headers=voter)
    assert (liked.json()["likes"], liked.json()["my_vote"]) == (1, "like")
    again = await client.put(f"{API}/reviews/{ids[0]}/vote", json={"value": "like"}, headers=voter)
    assert again.json()["likes"] == 1
    flipped = await client.put(
        f"{API}/reviews/{ids[1]}/vote", json={"value": "dislike"}, headers=voter
    )
    assert (flipped.json()["likes"], flipped.json()["dislikes"]) == (0, 1)
    await client.put(f"{API}/reviews/{ids[1]}/vote", json={"value": "like"}, headers=voter)
    await client.put(
        f"{API}/reviews/{ids[1]}/vote", json={"value": "like"}, headers=world.headers()
    )
    bad = await client.put(f"{API}/reviews/{ids[1]}/vote", json={"value": "love"}, headers=voter)
    assert bad.status_code == 422

    newest = (await client.get(f"{API}/films/{film}/reviews")).json()
    assert [item["id"] for item in newest["items"]] == ids[::-1]
    assert newest["total"] == 3
    liked_first = (await client.get(f"{API}/films/{film}/reviews?sort=most_liked")).json()
    assert [item["id"] for item in liked_first["items"]] == [ids[1], ids[0], ids[2]]
    assert [item["likes"] for item in liked_first["items"]] == [2, 1, 0]
    assert (await client.get(f"{API}/films/{film}/reviews?sort=best")).status_code == 422

    assert (await client.delete(f"{API}/reviews/{ids[1]}/vote", headers=voter)).status_code == 204
    assert (await client.get(f"{API}/reviews/{ids[1]}")).json()["likes"] == 1
    missing = await client.put(
        f"{API}/reviews/{uuid.uuid4()}/vote", json={"value": "like"}, headers=voter
    )
    assert missing.status_code == 404


async def test_moderation_hides_from_lists_but_not_from_the_author(world: UgcWorld) -> None:
    client, film = world.client, world.films[0]
    author_id = uuid.uuid4()
    author, moderator, stranger = (
        world.headers(author_id),
        world.headers(permissions=MODERATOR),
        world.headers(),
    )
    review = (
        await client.post(
            f"{API}/films/{film}/reviews", json={"text": "spam", "score": 1}, headers=author
        )
    ).json()
    url = f"{API}/reviews/{review['id']}"
    assert (await client.post(f"{url}/hide", headers=stranger)).status_code == 403
    hidden = await client.post(f"{url}/hide", headers=moderator)
    assert hidden.status_code == 200
    assert hidden.json()["hidden"] is True

    assert (await client.get(f"{API}/films/{film}/reviews")).json() == {"items": [], "total": 0}
    assert (await client.get(f"{API}/films/{film}/rating")).json()["reviews"] == 0
    assert (await client.get(url, headers=stranger)).status_code == 404
    assert (await client.get(url)).status_code == 404
    assert (await client.get(url, headers=author)).json()["hidden"] is True
    assert (await client.get(url, headers=moderator)).status_code == 200
    mine = (await client.get(f"{API}/reviews/mine", headers=author)).json()
    assert [(item["id"], item["hidden"]) for item in mine["items"]] == [(review["id"], True)]
    vote = await client.put(f"{url}/vote", json={"value": "like"}, headers=stranger)
    assert vote.status_code == 404

    await client.post(f"{url}/hide", headers=moderator)  # twice: counted once
    restored = await client.post(f"{url}/restore", headers=moderator)
    assert restored.json()["hidden"] is False
    assert (await client.get(f"{API}/films/{film}/reviews")).json()["total"] == 1
    assert (await client.get(f"{API}/films/{film}/rating")).json()["reviews"] == 1
    assert (
        await client.post(f"{API}/reviews/{uuid.uuid4()}/hide", headers=moderator)
    ).status_code == 404


async def test_progress_keeps_the_latest_heartbeat_by_client_time(world: UgcWorld) -> None:
    client, (first, second, _) = world.client, world.films
    me = world.headers(uuid.uuid4())
    now = datetime.now(UTC)

    def beat(position: float, at: datetime, duration: float | None = 600) -> dict[str, object]:
        return {
            "position_seconds": position,
            "duration_seconds": duration,
            "client_time": at.isoformat(),
        }

    url = f"{API}/films/{first}/progress"
    assert (await client.get(url, headers=me)).status_code == 404
    later = await client.put(url, json=beat(120, now), headers=me)
    assert later.json()["applied"] is True
    late_arrival = await client.put(url, json=beat(60, now - timedelta(seconds=10)), headers=me)
    assert late_arrival.json()["applied"] is False
    assert late_arrival.json()["progress"]["position_seconds"] == 120
    assert (await client.get(url, headers=me)).json()["position_seconds"] == 120

    await client.put(f"{API}/films/{second}/progress", json=beat(10, now), headers=me)
    watching = (await client.get(f"{API}/progress", headers=me)).json()
    assert [item["film_id"] for item in watching] == [str(second), str(first)]
    finished = await client.put(url, json=beat(590, now + timedelta(seconds=1)), headers=me)
    assert finished.json()["progress"]["finished"] is True
    watching = (await client.get(f"{API}/progress", headers=me)).json()
    assert [item["film_id"] for item in watching] == [str(second)]

    future = await client.put(url, json=beat(1, now + timedelta(hours=1)), headers=me)
    assert future.status_code == 422
    ancient = {"position_seconds": 1, "client_time": "0001-01-01T00:00:00+05:00"}
    assert (await client.put(url, json=ancient, headers=me)).status_code == 422
    naive = {"position_seconds": 1, "client_time": "2026-01-01T00:00:00"}
    assert (await client.put(url, json=naive, headers=me)).status_code == 422
    beyond = await client.put(url, json=beat(700, now + timedelta(seconds=2)), headers=me)
    assert beyond.status_code == 422
    negative = await client.put(url, json=beat(-1, now), headers=me)
    assert negative.status_code == 422
    missing = await client.put(
        f"{API}/films/{uuid.uuid4()}/progress", json=beat(1, now), headers=me
    )
    assert missing.status_code == 404


async def test_writes_are_rate_limited_per_account(fresh_database: str, flushed_redis: str) -> None:
    import httpx

    from kinoteka.app import create_app
    from kinoteka.auth.deps import get_auth_kit
    from tests.ugc.conftest import add_films, ugc_services

    film = add_films(fresh_database, 1)[0]
    services = ugc_services(fresh_database, flushed_redis, write_rate="3/minute")
    app = create_app(services, ["ugc"])
    kit = get_auth_kit(services)
    async with app.router.lifespan_context(app):
        world = UgcWorld(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t"),
            services, [film], await kit.keys.signer(),
        )  # fmt: skip
        me, other = world.headers(uuid.uuid4()), world.headers(uuid.uuid4())
        codes = [
            (await world.client.put(f"{API}/bookmarks/{film}", headers=me)).status_code
            for _ in range(4)
        ]
        assert codes == [201, 200, 200, 429]
        limited = await world.client.delete(f"{API}/bookmarks/{film}", headers=me)
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) >= 1
        assert (await world.client.put(f"{API}/bookmarks/{film}", headers=other)).status_code == 201
        assert (await world.client.get(f"{API}/bookmarks", headers=me)).status_code == 200
        await world.client.aclose()
