"""The document-store port's types, apart from `from_url` so adapters import them freely."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

__all__ = ["COLLECTION_NAME", "Document", "DocumentStore", "Order", "check_collection"]

Document = dict[str, Any]
Order = Sequence[tuple[str, bool]]
"""`(field, descending)` pairs, most significant first."""

COLLECTION_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def check_collection(name: str) -> str:
    """The name, when it can name a table and a collection alike (it is spliced into SQL)."""
    if not COLLECTION_NAME.fullmatch(name):
        raise ValueError(f"not a collection name: {name!r}")
    return name


class DocumentStore(Protocol):
    async def get(self, collection: str, key: str) -> Document | None: ...

    async def insert(self, collection: str, key: str, document: Document) -> bool: ...

    async def put(self, collection: str, key: str, document: Document) -> Document | None: ...

    async def put_if_newer(
        self, collection: str, key: str, document: Document, field: str
    ) -> bool: ...

    async def update(
        self, collection: str, key: str, changes: Mapping[str, Any]
    ) -> Document | None: ...

    async def increment(
        self, collection: str, key: str, deltas: Mapping[str, int], *, create: bool = False
    ) -> Document | None: ...

    async def delete(self, collection: str, key: str) -> Document | None: ...

    async def delete_where(self, collection: str, where: Mapping[str, Any]) -> int: ...

    async def find(
        self,
        collection: str,
        where: Mapping[str, Any],
        *,
        order_by: Order = (),
        limit: int = 50,
        offset: int = 0,
    ) -> list[Document]: ...

    async def keys(
        self, collection: str, *, after: str | None = None, limit: int = 1000
    ) -> list[str]: ...

    async def count(self, collection: str, where: Mapping[str, Any]) -> int: ...

    async def prepare(self, indexes: Mapping[str, Sequence[Order]]) -> None: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...
