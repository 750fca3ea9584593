"""The document store contract, run against every adapter: PostgreSQL (schema `ugc`, JSONB)
and MongoDB, the latter when `KINOTEKA_TEST_MONGODB_URL` names a server (none runs here).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import pytest

from kinoteka.infra import documents as documents_port
from kinoteka.infra.documents import DocumentStore

# Collections the `ugc` migrations create; the contract uses them as plain collections.
ITEMS = "ratings"
COUNTERS = "film_stats"


@pytest.fixture(params=["postgres", "mongodb"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[DocumentStore]:
    if request.param == "postgres":
        url: str = request.getfixturevalue("fresh_database")
        opened = documents_port.from_url(url)
        yield opened
        await opened.close()
        return
    server = os.environ.get("KINOTEKA_TEST_MONGODB_URL", "")
    if not server:
        pytest.skip("no MongoDB server; set KINOTEKA_TEST_MONGODB_URL to run")
    from kinoteka.infra.documents.mongo import MongoDocumentStore

    name = f"contract_{uuid.uuid4().hex[:10]}"
    mongo = MongoDocumentStore.from_url(server)
    mongo.database = mongo.client[name]
    try:
        yield mongo
    finally:
        await mongo.client.drop_database(name)
        await mongo.close()


async def test_insert_only_when_the_key_is_free(store: DocumentStore) -> None:
    assert await store.get(ITEMS, "a") is None
    assert await store.insert(ITEMS, "a", {"score": 1, "film_id": "f"})
    assert not await store.insert(ITEMS, "a", {"score": 2, "film_id": "f"})
    assert await store.get(ITEMS, "a") == {"score": 1, "film_id": "f"}


async def test_put_returns_what_it_replaced(store: DocumentStore) -> None:
    assert await store.put(ITEMS, "a", {"score": 1}) is None
    assert await store.put(ITEMS, "a", {"score": 7, "note": "x"}) == {"score": 1}
    assert await store.get(ITEMS, "a") == {"score": 7, "note": "x"}


async def test_concurrent_puts_of_a_new_key_see_exactly_one_insert(store: DocumentStore) -> None:
    previous = await asyncio.gather(*(store.put(ITEMS, "k", {"score": n}) for n in range(12)))
    assert sum(1 for found in previous if found is None) == 1
    # Every other put replaced one of the writes: the chain of replacements is complete.
    replaced = sorted(found["score"] for found in previous if found is not None)
    final = await store.get(ITEMS, "k")
    assert final is not None
    assert sorted([*replaced, final["score"]]) == list(range(12))


async def test_put_if_newer_keeps_the_last_write_by_its_field(store: DocumentStore) -> None:
    t1, t2, t3 = "2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z", "2026-01-01T00:00:03Z"
    assert await store.put_if_newer(ITEMS, "p", {"at": t2, "position": 20}, "at")
    assert not await store.put_if_newer(ITEMS, "p", {"at": t1, "position": 10}, "at")
    assert not await store.put_if_newer(ITEMS, "p", {"at": t2, "position": 99}, "at")
    assert await store.get(ITEMS, "p") == {"at": t2, "position": 20}
    assert await store.put_if_newer(ITEMS, "p", {"at": t3, "position": 30}, "at")
    assert await store.get(ITEMS, "p") == {"at": t3, "position": 30}


async def test_update_sets_fields_of_an_existing_document_only(store: DocumentStore) -> None:
    assert await store.update(ITEMS, "none", {"hidden": True}) is None
    assert await store.get(ITEMS, "none") is None
    await store.insert(ITEMS, "r", {"text": "hi", "hidden": False})
    assert await store.update(ITEMS, "r", {"hidden": True}) == {"text": "hi", "hidden": False}
    assert await store.get(ITEMS, "r") == {"text": "hi", "hidden": True}


async def test_increment_adds_atomically(store: DocumentStore) -> None:
    assert await store.increment(COUNTERS, "f", {"count": 1}) is None
    assert await store.get(COUNTERS, "f") is None
    await asyncio.gather(
        *(store.increment(COUNTERS, "f", {"count": 1, "sum": n}, create=True) for n in range(10))
    )
    after = await store.increment(COUNTERS, "f", {"count": -1, "other": 2})
    assert after == {"count": 9, "sum": 45, "other": 2}


async def test_delete_returns_what_it_removed(store: DocumentStore) -> None:
    await store.insert(ITEMS, "d", {"score": 3})
    assert await store.delete(ITEMS, "d") == {"score": 3}
    assert await store.delete(ITEMS, "d") is None


async def test_find_filters_orders_and_pages(store: DocumentStore) -> None:
    for number in range(7):
        document = {"film_id": "f" if number % 2 else "g", "likes": number * 10 % 7, "n": number}
        await store.insert(ITEMS, f"k{number}", document)
    odd = await store.find(ITEMS, {"film_id": "f"}, order_by=[("likes", True)])
    assert [found["likes"] for found in odd] == sorted(
        (n * 10 % 7 for n in (1, 3, 5)), reverse=True
    )
    page = await store.find(ITEMS, {}, order_by=[("n", False)], limit=3, offset=2)
    assert [found["n"] for found in page] == [2, 3, 4]
    assert await store.count(ITEMS, {"film_id": "g"}) == 4
    assert await store.find(ITEMS, {"film_id": "none"}) == []
    assert await store.delete_where(ITEMS, {"film_id": "g"}) == 4
    assert await store.count(ITEMS, {}) == 3


async def test_keys_page_in_ascending_order(store: DocumentStore) -> None:
    assert await store.keys(COUNTERS) == []
    names = ["b", "a", "B", "c:1", "c"]
    for name in names:
        assert await store.insert(COUNTERS, name, {"count": 1})
    every = sorted(names)  # byte order: upper case first
    assert await store.keys(COUNTERS) == every
    assert await store.keys(COUNTERS, limit=2) == every[:2]
    assert await store.keys(COUNTERS, after=every[1], limit=2) == every[2:4]
    assert await store.keys(COUNTERS, after=every[-1]) == []


async def test_values_keep_their_json_types(store: DocumentStore) -> None:
    document = {"s": "тест <b>", "i": 10, "f": 2.5, "b": False, "n": None, "l": [1, "x"]}
    await store.insert(ITEMS, "t", document)
    assert await store.get(ITEMS, "t") == document
    assert await store.count(ITEMS, {"b": False}) == 1


async def test_collection_names_are_checked(store: DocumentStore) -> None:
    with pytest.raises(ValueError, match="collection"):
        await store.get("ratings; drop table x", "k")
