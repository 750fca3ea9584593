"""Local-directory adapter of the object storage port (the embedded footprint's default).

Objects are files under one root directory; a put writes a temporary file and renames it, so
a reader never sees half an object. `adopt` renames a finished file in when it lies on the
same filesystem (no byte is copied; its etag is then made from the file's size, modification
time and inode, as web servers make theirs, rather than an md5 that would read it all again)
and copies it through a temporary file otherwise. Presigned URLs are HMAC-SHA256 signatures
over the key and the expiry, made with the app's secret and checked by `verify()` in the
serving route.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import os
import shutil
import stat
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import quote, unquote, urlencode, urlsplit

import anyio

from kinoteka.infra.storage.port import (
    DEFAULT_CHUNK,
    Body,
    ObjectNotFound,
    StorageError,
    StoredObject,
    check_key,
)

if TYPE_CHECKING:
    from fastapi import APIRouter


class LocalStorage:
    def __init__(self, root: Path, *, secret: str, public_base_url: str = "/storage") -> None:
        if not secret:
            raise ValueError("the local storage needs a secret to sign its URLs")
        self.root = root
        self._secret = secret.encode()
        self.public_base_url = public_base_url.rstrip("/")

    @classmethod
    def from_url(cls, url: str, *, secret: str, public_base_url: str = "/storage") -> LocalStorage:
        parts = urlsplit(url)
        path = unquote(parts.path)
        if parts.netloc or not path.startswith("/"):
            raise ValueError("a local storage URL is file:///absolute/path")
        return cls(Path(path), secret=secret, public_base_url=public_base_url)

    def path_of(self, key: str) -> Path:
        return self.root / check_key(key)

    async def prepare(self) -> None:
        await anyio.Path(self.root).mkdir(parents=True, exist_ok=True)

    async def put(self, key: str, data: Body, *, content_type: str | None = None) -> StoredObject:
        target = anyio.Path(self.path_of(key))
        await target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
        digest = hashlib.md5(usedforsecurity=False)
        size = 0

        def write(file: BinaryIO, chunk: bytes) -> None:
            # In a thread: md5 runs at ~200 MiB/s, too slow for the event loop on large puts.
            file.write(chunk)
            digest.update(chunk)

        try:
            file = await anyio.to_thread.run_sync(Path(partial).open, "wb")
            try:
                if isinstance(data, bytes):
                    await anyio.to_thread.run_sync(write, file, data)
                    size = len(data)
                else:
                    async for chunk in data:
                        await anyio.to_thread.run_sync(write, file, chunk)
                        size += len(chunk)
            finally:
                await anyio.to_thread.run_sync(file.close)
            await partial.rename(target)
        except BaseException:
            await partial.unlink(missing_ok=True)
            raise
        return StoredObject(key=key, size=size, etag=digest.hexdigest())

    async def adopt(self, path: Path, key: str, *, content_type: str | None = None) -> StoredObject:
        target = self.path_of(key)
        found = await anyio.to_thread.run_sync(_move_in, path, target)
        etag = hashlib.md5(
            f"{found.st_size}-{found.st_mtime_ns}-{found.st_ino}".encode(), usedforsecurity=False
        ).hexdigest()
        return StoredObject(key=key, size=found.st_size, etag=etag)

    async def get(
        self, key: str, *, start: int | None = None, end: int | None = None
    ) -> AsyncIterator[bytes]:
        path = self.path_of(key)
        try:
            file = await anyio.open_file(path, "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(key) from None
        async with file:
            if start:
                await file.seek(start)
            remaining = None if end is None else end - (start or 0) + 1
            while remaining is None or remaining > 0:
                want = DEFAULT_CHUNK if remaining is None else min(DEFAULT_CHUNK, remaining)
                chunk = await file.read(want)
                if not chunk:
                    break
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    async def exists(self, key: str) -> bool:
        return await anyio.Path(self.path_of(key)).is_file()

    async def size(self, key: str) -> int:
        try:
            found = await anyio.Path(self.path_of(key)).stat()
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFound(key) from None
        if not stat.S_ISREG(found.st_mode):  # a directory of objects is not an object
            raise ObjectNotFound(key)
        return found.st_size

    async def delete(self, key: str) -> None:
        await anyio.Path(self.path_of(key)).unlink(missing_ok=True)

    async def list_keys(self, prefix: str) -> AsyncIterator[str]:
        base = anyio.Path(self.root)
        start = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        if not await anyio.Path(start).is_dir():
            return
        async for path in anyio.Path(start).rglob("*"):
            key = path.relative_to(base).as_posix()
            if key.startswith(prefix) and not path.name.startswith(".") and await path.is_file():
                yield key

    def signature(self, key: str, expires: int) -> str:
        message = f"{key}\n{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def verify(self, key: str, expires: int, signature: str, *, now: float | None = None) -> bool:
        """Whether a URL's `expires` and `signature` were made by us for `key` and are current."""
        if expires < (time.time() if now is None else now):
            return False
        # compare_digest refuses non-ASCII str; a signature we made is hex, so that is a no.
        if not signature.isascii():
            return False
        return hmac.compare_digest(self.signature(key, expires).encode(), signature.encode())

    async def presigned_url(self, key: str, *, expires_in: int = 3600) -> str:
        check_key(key)
        expires = int(time.time()) + expires_in
        query = urlencode({"expires": expires, "signature": self.signature(key, expires)})
        return f"{self.public_base_url}/{quote(key)}?{query}"

    async def ping(self) -> None:
        if not await anyio.Path(self.root).is_dir():
            raise StorageError(f"storage directory {self.root} is missing")
        if not os.access(self.root, os.W_OK):
            raise StorageError(f"storage directory {self.root} is not writable")

    async def close(self) -> None:
        return None

    def router(self) -> APIRouter:
        """The signed, expiring download route behind `presigned_url`."""
        from kinoteka.infra.storage.serving import storage_router

        return storage_router(self)


def _move_in(source: Path, target: Path) -> os.stat_result:
    """Rename `source` to `target`, or copy it there (through a temporary file renamed in)
    when they are on different filesystems; `source` is gone afterwards."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(source, target)
    except OSError as error:
        if error.errno != errno.EXDEV:
            raise
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
        try:
            shutil.copyfile(source, partial)
            os.rename(partial, target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        source.unlink()
    return target.stat()
