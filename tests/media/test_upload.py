"""tus uploads over HTTP: resumed after an interruption, checked, refused when not allowed."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import time
import uuid
from pathlib import Path

import anyio
import httpx
import psycopg
import pytest
from tusclient.client import TusClient

from kinoteka.infra import db as db_port
from kinoteka.infra import storage as storage_port
from kinoteka.infra.db import libpq_url
from kinoteka.media import jobs
from kinoteka.media.jobs import JobEnv
from kinoteka.media.upload import BASE
from tests.media.app_fixtures import MediaServer, another_process
from tests.media.clips import ClipCache, requires_ffmpeg
from tests.media.fixtures import SECRET, RecordingQueue

TUS = {"Tus-Resumable": "1.0.0"}


def _metadata(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def _row(server: MediaServer, query: str, *args: object) -> tuple[object, ...] | None:
    with psycopg.connect(libpq_url(server.database_url)) as connection:
        return connection.execute(query, args).fetchone()


async def _create(client: httpx.AsyncClient, server: MediaServer, data: bytes,
                  name: str = "film.mp4", **extra: str) -> str:  # fmt: skip
    headers = {
        **TUS,
        **server.auth("editor"),
        "Upload-Length": str(len(data)),
        "Upload-Metadata": _metadata(filename=name, film_id=str(uuid.uuid4()), **extra),
    }
    answer = await client.post(BASE, headers=headers)
    assert answer.status_code == 201, answer.text
    location: str = answer.headers["Location"]
    return location


def _patch_headers(server: MediaServer, offset: int, body: bytes | None = None) -> dict[str, str]:
    headers = {**TUS, **server.auth("editor"), "Upload-Offset": str(offset),
               "Content-Type": "application/offset+octet-stream"}  # fmt: skip
    if body is not None:
        digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
        headers["Upload-Checksum"] = f"sha256 {digest}"
    return headers


def _stored_sha256(server: MediaServer, video_id: object) -> str:
    """The sha256 of the video's source as storage keeps it."""
    row = _row(server, "SELECT source_key FROM media.videos WHERE id = %s", video_id)
    assert row is not None
    return hashlib.sha256((server.storage_root / str(row[0])).read_bytes()).hexdigest()


def _recorded_sha256(server: MediaServer, video_id: object) -> str | None:
    """The sha256 recorded on the video (`Video.checksum`)."""
    row = _row(server, "SELECT checksum FROM media.videos WHERE id = %s", video_id)
    assert row is not None
    return None if row[0] is None else str(row[0])


async def test_the_server_says_what_it_supports(media_server: MediaServer) -> None:
    async with httpx.AsyncClient(base_url=media_server.base_url) as client:
        answer = await client.options(BASE)
    assert answer.status_code == 204
    assert answer.headers["Tus-Version"] == "1.0.0"
    assert set(answer.headers["Tus-Extension"].split(",")) >= {"creation", "checksum",
                                                               "termination"}  # fmt: skip
    assert answer.headers["Tus-Checksum-Algorithm"] == "sha256"
    assert int(answer.headers["Tus-Max-Size"]) == media_server.settings.media.max_upload_bytes


async def test_an_interrupted_upload_resumes_with_the_tus_client(
    media_server: MediaServer, tmp_path: Path
) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    source = tmp_path / "film.mp4"
    source.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    metadata = {"filename": "film.mp4", "film_id": str(uuid.uuid4()), "sha256": sha}

    def first_half() -> str:
        client = TusClient(media_server.base_url + BASE, headers=media_server.auth("editor"))
        uploader = client.uploader(str(source), chunk_size=len(data) // 4, metadata=metadata)
        uploader.upload_chunk()
        uploader.upload_chunk()  # ... and the connection is gone
        assert uploader.url is not None
        return str(uploader.url)

    def resume(url: str) -> int:
        client = TusClient(media_server.base_url + BASE, headers=media_server.auth("editor"))
        uploader = client.uploader(str(source), url=url, chunk_size=len(data) // 4)
        resumed_at = int(uploader.offset)  # asked with HEAD, not restarted from 0
        uploader.upload()
        return resumed_at

    url = await anyio.to_thread.run_sync(first_half)
    upload_id = url.rsplit("/", 1)[-1]
    resumed_at = await anyio.to_thread.run_sync(lambda: resume(url))
    assert resumed_at == 2 * (len(data) // 4)

    row = _row(media_server, "SELECT video_id FROM media.uploads WHERE id = %s", upload_id)
    assert row is not None
    assert row[0] is not None
    assert _stored_sha256(media_server, row[0]) == sha
    assert _recorded_sha256(media_server, row[0]) == sha  # declared, checked on completion
    status = _row(media_server, "SELECT status FROM media.videos WHERE id = %s", row[0])
    assert status == ("uploaded",)
    assert not (media_server.settings.data_dir / "uploads" / f"{upload_id}.part").exists()


async def test_a_connection_dropped_mid_patch_keeps_what_arrived(
    media_server: MediaServer,
) -> None:
    data = os.urandom(2 * 1024 * 1024)
    async with httpx.AsyncClient(base_url=media_server.base_url) as client:
        location = await _create(client, media_server, data)
        # A PATCH announcing the whole file whose connection dies after half of it.
        host, port = media_server.base_url.removeprefix("http://").split(":")
        head = "".join(f"{k}: {v}\r\n" for k, v in _patch_headers(media_server, 0).items())
        request = (f"PATCH {location} HTTP/1.1\r\nHost: {host}\r\n{head}"
                   f"Content-Length: {len(data)}\r\n\r\n").encode()  # fmt: skip
        with socket.create_connection((host, int(port))) as connection:
            connection.sendall(request + data[: len(data) // 2])
        deadline = time.monotonic() + 20
        while True:
            answer = await client.head(location, headers={**TUS, **media_server.auth("editor")})
            offset = int(answer.headers["Upload-Offset"])
            if offset > 0 or time.monotonic() > deadline:
                break
            await anyio.sleep(0.1)  # polling the server's handling of the drop, with a deadline
        assert 0 < offset <= len(data) // 2
        answer = await client.patch(location, content=data[offset:],
                                    headers=_patch_headers(media_server, offset))  # fmt: skip
        assert answer.status_code == 204, answer.text
        assert int(answer.headers["Upload-Offset"]) == len(data)
    video_id = answer.headers["X-Video-Id"]
    assert _stored_sha256(media_server, video_id) == hashlib.sha256(data).hexdigest()
    # Nothing declared: not hashed on the request path; the worker records it (below).
    assert _recorded_sha256(media_server, video_id) is None


@requires_ffmpeg
async def test_an_upload_declaring_no_sha256_gets_it_from_the_worker(
    media_server: MediaServer, clip_cache: ClipCache
) -> None:
    """A client that declares nothing (tus-js-client, Uppy, the admin's uploader) is not
    hashed on the request path: the worker takes the sha256 when it first reads the file,
    and the video shows it from then on."""
    data = clip_cache.get(width=640, height=360, seconds=2).read_bytes()
    half = len(data) // 2
    async with httpx.AsyncClient(base_url=media_server.base_url) as client:
        location = await _create(client, media_server, data)
        for start, end in ((0, half), (half, len(data))):  # resumed with a second PATCH
            answer = await client.patch(location, content=data[start:end],
                                        headers=_patch_headers(media_server, start))  # fmt: skip
            assert answer.status_code == 204, answer.text
        video_id = uuid.UUID(answer.headers["X-Video-Id"])
        assert _recorded_sha256(media_server, video_id) is None

        urls = (media_server.database_url, media_server.storage_url)
        env = JobEnv(media_server.settings.media, db_port.from_url(urls[0]),
                     storage_port.from_url(urls[1], secret=SECRET), RecordingQueue())  # fmt: skip
        try:
            await jobs.transcode(env, video_id)
        finally:
            await env.storage.close()
            await env.db.close()

        sha = hashlib.sha256(data).hexdigest()
        assert _recorded_sha256(media_server, video_id) == sha
        assert _stored_sha256(media_server, video_id) == sha
        shown = await client.get(f"/api/v1/videos/{video_id}",
                                 headers=media_server.auth("editor"))  # fmt: skip
        assert shown.status_code == 200, shown.text
        assert shown.json()["checksum"] == sha


async def test_an_upload_resumed_in_another_process_is_hashed_from_its_bytes(
    media_server: MediaServer,
) -> None:
    """The running sha256 lives in the process that received the previous PATCH; another
    process (another host, a restart) hashes the bytes on disk, so a byte changed there
    while no process watched is caught by the whole-file check."""
    data = os.urandom(3 * 1024 * 1024 + 5)
    half = len(data) // 2
    sha = hashlib.sha256(data).hexdigest()
    part_dir = media_server.settings.data_dir / "uploads"
    async with (
        httpx.AsyncClient(base_url=media_server.base_url) as first,
        another_process(media_server) as other_url,
        httpx.AsyncClient(base_url=other_url) as second,
    ):
        good = await _create(first, media_server, data, sha256=sha)
        answer = await first.patch(good, content=data[:half],
                                   headers=_patch_headers(media_server, 0))  # fmt: skip
        assert answer.status_code == 204
        answer = await second.patch(good, content=data[half:],
                                    headers=_patch_headers(media_server, half))  # fmt: skip
        assert answer.status_code == 204, answer.text
        assert _stored_sha256(media_server, answer.headers["X-Video-Id"]) == sha
        assert _recorded_sha256(media_server, answer.headers["X-Video-Id"]) == sha

        spoiled = await _create(first, media_server, data, sha256=sha)
        answer = await first.patch(spoiled, content=data[:half],
                                   headers=_patch_headers(media_server, 0))  # fmt: skip
        assert answer.status_code == 204
        part = part_dir / f"{spoiled.rsplit('/', 1)[-1]}.part"
        with part.open("r+b") as file:  # one byte of the stored half changes on disk
            file.seek(10)
            file.write(bytes([data[10] ^ 0xFF]))
        answer = await second.patch(spoiled, content=data[half:],
                                    headers=_patch_headers(media_server, half))  # fmt: skip
        assert answer.status_code == 460
        assert sha in answer.json()["detail"]

        # A part file gone from this host (no shared directory) is a clear 410, not a 500.
        lost = await _create(first, media_server, data)
        answer = await first.patch(lost, content=data[:half],
                                   headers=_patch_headers(media_server, 0))  # fmt: skip
        (part_dir / f"{lost.rsplit('/', 1)[-1]}.part").unlink()
        answer = await second.patch(lost, content=data[half:],
                                    headers=_patch_headers(media_server, half))  # fmt: skip
        assert answer.status_code == 410
        assert "start a new upload" in answer.json()["detail"]


async def test_a_part_file_shorter_than_its_offset_is_a_clear_410(
    media_server: MediaServer,
) -> None:
    """Bytes the database counts but the disk lost are not made up (an upload that declared
    no sha256 has no whole-file check to catch zeros in their place): start over."""
    data = os.urandom(200_000)
    async with httpx.AsyncClient(base_url=media_server.base_url) as client:
        location = await _create(client, media_server, data)
        answer = await client.patch(location, content=data[:100_000],
                                    headers=_patch_headers(media_server, 0))  # fmt: skip
        assert answer.status_code == 204
        part = media_server.settings.data_dir / "uploads" / f"{location.rsplit('/', 1)[-1]}.part"
        os.truncate(part, 60_000)
        answer = await client.patch(location, content=data[100_000:],
                                    headers=_patch_headers(media_server, 100_000))  # fmt: skip
        assert answer.status_code == 410
        assert "start a new upload" in answer.json()["detail"]
        assert part.stat().st_size == 60_000


async def test_chunks_are_checked_and_offsets_kept(media_server: MediaServer) -> None:
    data = os.urandom(300_000)
    async with httpx.AsyncClient(base_url=media_server.base_url) as client:
        location = await _create(client, media_server, data)
        first = data[:100_000]
        bad = _patch_headers(media_server, 0, first)
        answer = await client.patch(location, content=first[:-1] + b"x", headers=bad)
        assert answer.status_code == 460
        answer = await client.patch(location, content=first,
                                    headers=_patch_headers(media_server, 0, first))  # fmt: skip
        assert answer.status_code == 204
        assert answer.headers["Upload-Offset"] == "100000"
        stale = await client.patch(location, content=first,
                                   headers=_patch_headers(media_server, 0))  # fmt: skip
        assert stale.status_code == 409
        too_much = await client.patch(location, content=data[100_000:] + b"extra",
                                      headers=_patch_headers(media_server, 100_000))  # fmt: skip
        assert too_much.status_code == 413
        answer = await client.head(location, headers={**TUS, **media_server.auth("editor")})
        assert answer.headers["Upload-Offset"] == "100000"
        assert answer.headers["Upload-Length"] == "300000"
        other = await client.head(location, headers={**TUS, **media_server.auth("viewer")})
        assert other.status_code in {403, 404}
        gone = await client.delete(location, headers={**TUS, **media_server.auth("editor")})
        assert gone.status_code == 204
        answer = await client.head(location, headers={**TUS, **media_server.auth("editor")})
        assert answer.status_code == 404


async def test_a_whole_file_that_does_not_match_its_declared_sha256_is_dropped(
    media_server: MediaServer,
) -> None:
    data = os.urandom(50_000)
    async with httpx.AsyncClient(base_url=media_server.base_url) as client:
        location = await _create(client, media_server, data, sha256="0" * 64)
        answer = await client.patch(location, content=data,
                                    headers=_patch_headers(media_server, 0))  # fmt: skip
        assert answer.status_code == 460
        assert "sha256" in answer.json()["detail"]
        answer = await client.head(location, headers={**TUS, **media_server.auth("editor")})
        assert answer.status_code == 404
    assert not [p for p in media_server.storage_root.rglob("*") if p.is_file()]


@pytest.mark.parametrize(
    ("who", "headers", "status"),
    [
        (None, {"Upload-Length": "10"}, 401),
        ("reader", {"Upload-Length": "10"}, 403),
        ("editor", {"Upload-Length": str(10**15)}, 413),
        ("editor", {"Upload-Length": "10", "name": "notes.txt"}, 415),
        ("editor", {"Upload-Length": "0"}, 400),
        ("editor", {"Upload-Length": "ten"}, 400),
        ("editor", {"Upload-Length": "10", "film_id": "not-a-uuid"}, 400),
        ("editor", {"Upload-Length": "10", "Tus-Resumable": "0.2.2"}, 412),
    ],
)  # fmt: skip
async def test_creation_refuses_what_is_not_allowed(
    media_server: MediaServer, who: str | None, headers: dict[str, str], status: int
) -> None:
    name = headers.pop("name", "film.mp4")
    film = headers.pop("film_id", str(uuid.uuid4()))
    sent = {**TUS, "Upload-Metadata": _metadata(filename=name, film_id=film), **headers}
    if who:
        sent.update(media_server.auth(who))
    async with httpx.AsyncClient(base_url=media_server.base_url) as client:
        answer = await client.post(BASE, headers=sent)
    assert answer.status_code == status, answer.text
    assert answer.json()["detail"]


async def test_expired_uploads_are_removed_with_their_bytes(media_server: MediaServer) -> None:
    from kinoteka.clients import build_services
    from kinoteka.media.upload import remove_expired_uploads
    from tests.media.fixtures import store_urls

    data = os.urandom(1000)
    async with httpx.AsyncClient(base_url=media_server.base_url) as client:
        location = await _create(client, media_server, data)
        half = _patch_headers(media_server, 0)
        assert (await client.patch(location, content=data[:500], headers=half)).status_code == 204
        upload_id = location.rsplit("/", 1)[-1]
        with psycopg.connect(libpq_url(media_server.database_url)) as connection:
            connection.execute(
                "UPDATE media.uploads SET expires = now() - interval '1 minute' WHERE id = %s",
                (upload_id,),
            )
        answer = await client.head(location, headers={**TUS, **media_server.auth("editor")})
        assert answer.status_code == 410
        settings = media_server.settings
        urls = store_urls(media_server.database_url, media_server.redis_url,
                          media_server.storage_url, settings.data_dir)  # fmt: skip
        services = build_services(settings, urls)
        try:
            assert await remove_expired_uploads(services) == 1
        finally:
            await services.close()
        answer = await client.head(location, headers={**TUS, **media_server.auth("editor")})
        assert answer.status_code == 404
    assert not (settings.data_dir / "uploads" / f"{upload_id}.part").exists()
