"""MongoDB adapter of the document port (pymongo's `AsyncMongoClient`): one collection per
collection, the key as `_id`, single-document atomic operations (`find_one_and_*`, `$inc`).

`prepare(indexes)` creates the secondary indexes the queries need; the PostgreSQL twin gets
its own from the `ugc` migrations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from kinoteka.infra.documents.port import Document, Order, check_collection

DEFAULT_DATABASE = "kinoteka"
HIDDEN = {"_id": False}


class MongoDocumentStore:
    def __init__(self, client: AsyncMongoClient[Document], database: str) -> None:
        self.client = client
        self.database = client[database]

    @classmethod
    def from_url(cls, url: str) -> MongoDocumentStore:
        name = urlsplit(url).path.lstrip("/") or DEFAULT_DATABASE
        client: AsyncMongoClient[Document] = AsyncMongoClient(url, tz_aware=True, connect=False)
        return cls(client, name)

    def _collection(self, name: str) -> AsyncCollection[Document]:
        return self.database[check_collection(name)]

    async def prepare(self, indexes: Mapping[str, Sequence[Order]]) -> None:
        """Create each collection's indexes (fields with their direction); idempotent."""
        for name, orders in indexes.items():
            for order in orders:
                keys = [(field, DESCENDING if desc else ASCENDING) for field, desc in order]
                await self._collection(name).create_index(keys)

    async def get(self, collection: str, key: str) -> Document | None:
        return await self._collection(collection).find_one({"_id": key}, HIDDEN)

    async def insert(self, collection: str, key: str, document: Document) -> bool:
        try:
            await self._collection(collection).insert_one({**document, "_id": key})
        except DuplicateKeyError:
            return False
        return True

    async def put(self, collection: str, key: str, document: Document) -> Document | None:
        return await self._collection(collection).find_one_and_replace(
            {"_id": key},
            document,
            projection=HIDDEN,
            upsert=True,
            return_document=ReturnDocument.BEFORE,
        )

    async def put_if_newer(self, collection: str, key: str, document: Document, field: str) -> bool:
        # The filter misses a newer stored document, so the upsert tries to insert its key
        # and fails: an older write is refused without a read first.
        older = {"_id": key, "$or": [{field: {"$lt": document[field]}}, {field: None}]}
        try:
            await self._collection(collection).replace_one(older, document, upsert=True)
        except DuplicateKeyError:
            return False
        return True

    async def update(
        self, collection: str, key: str, changes: Mapping[str, Any]
    ) -> Document | None:
        return await self._collection(collection).find_one_and_update(
            {"_id": key},
            {"$set": dict(changes)},
            projection=HIDDEN,
            return_document=ReturnDocument.BEFORE,
        )

    async def increment(
        self, collection: str, key: str, deltas: Mapping[str, int], *, create: bool = False
    ) -> Document | None:
        return await self._collection(collection).find_one_and_update(
            {"_id": key},
            {"$inc": dict(deltas)},
            projection=HIDDEN,
            upsert=create,
            return_document=ReturnDocument.AFTER,
        )

    async def delete(self, collection: str, key: str) -> Document | None:
        return await self._collection(collection).find_one_and_delete({"_id": key}, HIDDEN)

    async def delete_where(self, collection: str, where: Mapping[str, Any]) -> int:
        result = await self._collection(collection).delete_many(dict(where))
        return result.deleted_count

    async def find(
        self,
        collection: str,
        where: Mapping[str, Any],
        *,
        order_by: Order = (),
        limit: int = 50,
        offset: int = 0,
    ) -> list[Document]:
        sort = [(field, DESCENDING if desc else ASCENDING) for field, desc in order_by]
        sort.append(("_id", ASCENDING))
        cursor = (
            self._collection(collection)
            .find(dict(where), HIDDEN)
            .sort(sort)
            .skip(offset)
            .limit(limit)
        )
        return [document async for document in cursor]

    async def keys(
        self, collection: str, *, after: str | None = None, limit: int = 1000
    ) -> list[str]:
        where = {} if after is None else {"_id": {"$gt": after}}
        cursor = (
            self._collection(collection)
            .find(where, {"_id": True})
            .sort([("_id", ASCENDING)])
            .limit(limit)
        )
        return [str(document["_id"]) async for document in cursor]

    async def count(self, collection: str, where: Mapping[str, Any]) -> int:
        return await self._collection(collection).count_documents(dict(where))

    async def ping(self) -> None:
        await self.client.admin.command("ping")

    async def close(self) -> None:
        await self.client.close()
