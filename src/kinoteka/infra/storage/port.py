"""The object storage port's types, apart from `from_url` so adapters can import them
without importing the factory that imports them (see the package docstring)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from fastapi import APIRouter


DEFAULT_CHUNK = 1024 * 1024
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-/]{0,1023}")


class StorageError(Exception):
    """The object store refused or failed an operation."""


class ObjectNotFound(StorageError):
    """No object under that key."""


class InvalidKey(StorageError):
    """Keys are relative paths of letters, digits, `._-/`, with no empty or `..` segment."""


def check_key(key: str) -> str:
    """Return `key` if it is a safe object key, raise `InvalidKey` otherwise."""
    segments = key.split("/")
    if not _KEY.fullmatch(key) or any(part in {"", ".", ".."} for part in segments):
        raise InvalidKey(f"invalid object key {key!r}")
    return key


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    etag: str
    parts: int = 1
    """How many parts the upload took (1 unless the backend did a multipart upload)."""


Body = bytes | AsyncIterable[bytes]


class ObjectStorage(Protocol):
    async def prepare(self) -> None: ...

    async def put(
        self, key: str, data: Body, *, content_type: str | None = None
    ) -> StoredObject: ...

    async def adopt(
        self, path: Path, key: str, *, content_type: str | None = None
    ) -> StoredObject: ...

    def get(
        self, key: str, *, start: int | None = None, end: int | None = None
    ) -> AsyncIterator[bytes]: ...

    async def exists(self, key: str) -> bool: ...

    async def size(self, key: str) -> int: ...

    async def delete(self, key: str) -> None: ...

    def list_keys(self, prefix: str) -> AsyncIterator[str]: ...

    async def presigned_url(self, key: str, *, expires_in: int = 3600) -> str: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...

    def router(self) -> APIRouter | None: ...


async def read_all(storage: ObjectStorage, key: str) -> bytes:
    """The whole object in memory (for small objects such as posters)."""
    return b"".join([chunk async for chunk in storage.get(key)])
