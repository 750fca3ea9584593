"""A deleted account's UGC goes with it, and the films' counters stay true."""

from __future__ import annotations

import uuid

from kinoteka.auth.account import delete_account
from kinoteka.auth.deps import get_auth_kit
from kinoteka.auth.service import create_user
from kinoteka.ugc import get_ugc
from kinoteka.ugc.service import recount_summary
from tests.ugc.conftest import UgcWorld

API = "/api/v1/ugc"


async def test_deleting_an_account_removes_its_ugc(world: UgcWorld) -> None:
    kit = get_auth_kit(world.services)
    async with world.services.db.session() as session:
        user = await create_user(
            session, kit, f"u{uuid.uuid4().hex[:8]}@example.com", "long pass 1234"
        )
    film, other_film = world.films[0], world.films[1]
    leaving, staying = world.headers(user.id), world.headers(uuid.uuid4())
    client = world.client
    await client.put(f"{API}/bookmarks/{film}", headers=leaving)
    await client.put(f"{API}/films/{film}/my-rating", json={"score": 2}, headers=leaving)
    await client.put(f"{API}/films/{film}/my-rating", json={"score": 10}, headers=staying)
    theirs = (
        await client.post(
            f"{API}/films/{film}/reviews", json={"text": "bye", "score": 2}, headers=leaving
        )
    ).json()
    kept = (
        await client.post(
            f"{API}/films/{other_film}/reviews", json={"text": "hi", "score": 9}, headers=staying
        )
    ).json()
    await client.put(f"{API}/reviews/{kept['id']}/vote", json={"value": "like"}, headers=leaving)

    async with world.services.db.session() as session:
        await delete_account(session, kit, user.id)

    store = get_ugc(world.services).store
    summary = (await client.get(f"{API}/films/{film}/rating")).json()
    assert (summary["count"], summary["average"], summary["reviews"]) == (1, 10.0, 0)
    assert summary == (await recount_summary(store, film)).model_dump(mode="json")
    assert (await client.get(f"{API}/reviews/{theirs['id']}")).status_code == 404
    assert (await client.get(f"{API}/reviews/{kept['id']}")).json()["likes"] == 0
    for collection in ("bookmarks", "ratings", "reviews", "review_votes", "progress"):
        assert await store.count(collection, {"user_id": str(user.id)}) == 0
