"""Object storage port: posters, video renditions and uploads, kept as keyed byte objects.

Every adapter implements the `ObjectStorage` protocol below:
- `put(key, data, content_type=)` stores bytes or an async stream of chunks (large streams go
  up as a multipart upload where the backend has one) and returns a `StoredObject`;
- `get(key, start=, end=)` streams the object back, optionally a byte range (`end` inclusive,
  as in HTTP `Range`), raising `ObjectNotFound` when it is absent;
- `exists`, `size`, `delete` (deleting an absent key is not an error);
- `list_keys(prefix)` every key starting with `prefix` (to remove a version's outputs);
- `presigned_url(key, expires_in=)` a time-limited URL anyone holding it can GET; a tampered
  URL (another key, a later expiry) is refused;
- `prepare()` creates the directory or bucket, `ping()` checks it answers, `close()`.

Adapters, picked by the URL scheme in `from_url()`: `file:///dir` (a local directory, the
embedded default, URLs signed with the app's secret and served by `storage_router`) and
`s3://[key:secret@]bucket?endpoint=http://…&region=…` (any S3 API through boto3: SeaweedFS,
MinIO, AWS).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

__all__ = [
    "DEFAULT_CHUNK",
    "InvalidKey",
    "ObjectNotFound",
    "ObjectStorage",
    "StorageError",
    "StoredObject",
    "check_key",
    "from_url",
]

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


async def read_all(storage: ObjectStorage, key: str) -> bytes:
    """The whole object in memory (for small objects such as posters)."""
    return b"".join([chunk async for chunk in storage.get(key)])


def from_url(url: str, *, secret: str, public_base_url: str = "/storage") -> ObjectStorage:
    """The adapter for `url`; `secret` signs the local adapter's URLs, served under
    `public_base_url` by `kinoteka.infra.storage.serving.storage_router`."""
    scheme = urlsplit(url).scheme
    if scheme == "file":
        from kinoteka.infra.storage.local import LocalStorage

        return LocalStorage.from_url(url, secret=secret, public_base_url=public_base_url)
    if scheme == "s3":
        from kinoteka.infra.storage.s3 import S3Storage

        return S3Storage.from_url(url)
    raise ValueError(f"unsupported storage URL scheme {scheme!r}: use file:// or s3://")
