"""Object storage port: posters, video renditions and uploads, kept as keyed byte objects.

Every adapter implements the `ObjectStorage` protocol below:
- `put(key, data, content_type=)` stores bytes or an async stream of chunks (large streams go
  up as a multipart upload where the backend has one) and returns a `StoredObject`;
- `adopt(path, key, content_type=)` takes over a finished local file as the object `key`
  (the file is gone afterwards): the local adapter renames it when it is on the same
  filesystem and copies it otherwise, S3 streams it up as a multipart upload;
- `get(key, start=, end=)` streams the object back, optionally a byte range (`end` inclusive,
  as in HTTP `Range`), raising `ObjectNotFound` when it is absent;
- `exists`, `size`, `delete` (deleting an absent key is not an error);
- `list_keys(prefix)` every key starting with `prefix` (to remove a version's outputs);
- `presigned_url(key, expires_in=)` a time-limited URL anyone holding it can GET; a tampered
  URL (another key, a later expiry) is refused;
- `prepare()` creates the directory or bucket, `ping()` checks it answers, `close()`;
- `router()` the HTTP route the app must serve for the adapter's presigned URLs, or None when
  the backend serves them itself (S3). The app mounts it once, whatever the adapter.

Adapters, picked by the URL scheme in `from_url()`: `file:///dir` (a local directory, the
embedded default, URLs signed with the app's secret and served by its `router()`) and
`s3://[key:secret@]bucket?endpoint=http://…&region=…` (any S3 API through boto3: SeaweedFS,
MinIO, AWS).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from kinoteka.infra.storage.port import (
    DEFAULT_CHUNK,
    Body,
    InvalidKey,
    ObjectNotFound,
    ObjectStorage,
    StorageError,
    StoredObject,
    check_key,
    read_all,
)

__all__ = [
    "DEFAULT_CHUNK",
    "Body",
    "InvalidKey",
    "ObjectNotFound",
    "ObjectStorage",
    "StorageError",
    "StoredObject",
    "check_key",
    "from_url",
    "read_all",
]


def from_url(url: str, *, secret: str, public_base_url: str = "/storage") -> ObjectStorage:
    """The adapter for `url`; `secret` signs the local adapter's URLs, served under
    `public_base_url` by the adapter's `router()`."""
    scheme = urlsplit(url).scheme
    if scheme == "file":
        from kinoteka.infra.storage.local import LocalStorage

        return LocalStorage.from_url(url, secret=secret, public_base_url=public_base_url)
    if scheme == "s3":
        from kinoteka.infra.storage.s3 import S3Storage

        return S3Storage.from_url(url)
    raise ValueError(f"unsupported storage URL scheme {scheme!r}: use file:// or s3://")
