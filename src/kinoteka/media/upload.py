"""Resumable uploads: the core of tus 1.0 (https://tus.io/protocols/resumable-upload).

Core protocol (OPTIONS, HEAD, PATCH with `Upload-Offset`) and the `creation`, `checksum`
(sha256, per PATCH: a chunk whose `Upload-Checksum` does not match is discarded with 460),
`termination` and `expiration` extensions. Written here rather than taken from a package:
the maintained Python servers keep their state in files beside the bytes and finish into a
local directory, while we need the upload's state in PostgreSQL (one PATCH at a time per
upload, under a row lock), our tokens per request, and the finished file handed to the object
storage port.

The bytes of an unfinished upload sit in `<data_dir>/uploads/<id>.part` on the API host (with
several API hosts, route `/api/v1/media/uploads/*` stickily or share that directory). A PATCH
body is written as it arrives, by a worker thread while the next batch gathers.

The whole file's sha256 is checked here only when the client declared it (`sha256` in
`Upload-Metadata`), as tusd does: then it is taken as the bytes arrive, the process receiving
the upload keeping its running hash (`RunningHashes`, in memory: hashlib states cannot be
stored) beside the offset it covers, and a PATCH that finds none for its offset (another
process or host took the previous one, the server restarted, a request failed half-way) first
hashes the bytes already on disk, so a resumed upload is verified all the same; on the last
byte a digest that differs drops the upload (460). An upload that declared none (tus-js-client
and Uppy declare nothing, nor does the admin's uploader) is not hashed on the request path,
which hashing would bound to sha256's speed on one core: the worker takes the video's sha256
when it first reads the file (beside ffprobe) and records it on the video. The last byte's
file is adopted by the storage (renamed in when it shares the filesystem, else copied or
streamed up), the video is registered and, after the commit, its transcode is sent to the
workers.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import datetime as dt
import hashlib
import hmac
import os
import uuid
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Generic, TypeVar

import anyio
import structlog
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import ClientDisconnect

from kinoteka.auth import check_access_token, get_auth_kit
from kinoteka.infra.storage import ObjectStorage
from kinoteka.media import jobs, repository, service
from kinoteka.media.admin_panel import read_ticket
from kinoteka.media.models import Upload
from kinoteka.media.settings import MediaSettings
from kinoteka.services import Services, ServicesDep

log = structlog.get_logger(__name__)

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,checksum,termination,expiration"
CHECKSUM_ALGORITHMS = "sha256"
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"
WRITE_BUFFER = 8 * 1024 * 1024  # bytes gathered from the body per write
READ_BUFFER = 8 * 1024 * 1024  # bytes read per step when re-hashing a part file from disk
IOV_MAX = os.sysconf("SC_IOV_MAX")  # buffers one writev takes
RUNNING_HASHES = 1024  # uploads whose running sha256 a process keeps (least recent dropped)
BASE = "/api/v1/media/uploads"


@dataclass(frozen=True)
class Caller:
    """Who uploads: an account holding `media.upload`, or an admin page's ticket for one film."""

    subject: str
    film_id: uuid.UUID | None = None


async def upload_caller(request: Request, services: ServicesDep) -> Caller:
    ticket = request.headers.get("upload-ticket")
    if ticket is not None:
        read = read_ticket(services.settings.secret_key.get_secret_value(), ticket)
        if read is None:
            raise tus_error(401, "invalid or expired upload ticket")
        return Caller(read.subject, read.film_id)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise tus_error(401, "not authenticated", **{"WWW-Authenticate": "Bearer"})
    claims = await check_access_token(get_auth_kit(services), token.strip())
    if not claims.has("media.upload"):
        raise tus_error(403, "requires media.upload")
    return Caller(str(claims.subject))


Uploader = Annotated[Caller, Depends(upload_caller)]


def tus_headers(**extra: str) -> dict[str, str]:
    return {"Tus-Resumable": TUS_VERSION, "Cache-Control": "no-store", **extra}


def tus_error(status: int, detail: str, **headers: str) -> HTTPException:
    return HTTPException(status, detail, headers=tus_headers(**headers))


def parse_metadata(header: str | None) -> dict[str, str]:
    """`Upload-Metadata`: comma-separated `key base64(value)` pairs (the value may be absent)."""
    metadata: dict[str, str] = {}
    if not header:
        return metadata
    for pair in header.split(","):
        parts = pair.strip().split(" ")
        if not parts[0] or len(parts) > 2:
            raise tus_error(400, "Upload-Metadata: pairs are `key base64value`")
        value = ""
        if len(parts) == 2:
            try:
                value = base64.b64decode(parts[1], validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise tus_error(400, f"Upload-Metadata: {parts[0]} is not base64 UTF-8") from None
        metadata[parts[0]] = value
    return metadata


def parse_checksum(header: str | None) -> bytes | None:
    """`Upload-Checksum: sha256 <base64 digest>`: the expected digest of this PATCH's body."""
    if header is None:
        return None
    algorithm, _, encoded = header.strip().partition(" ")
    if algorithm.lower() != "sha256":
        raise tus_error(400, f"Upload-Checksum: unsupported algorithm {algorithm!r} (sha256)")
    try:
        return base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise tus_error(400, "Upload-Checksum: the digest is not base64") from None


def _require_tus(request: Request) -> None:
    if request.headers.get("tus-resumable") != TUS_VERSION:
        raise tus_error(412, "Tus-Resumable 1.0.0 required", **{"Tus-Version": TUS_VERSION})


def _int_header(request: Request, name: str) -> int:
    raw = request.headers.get(name)
    if raw is None or not raw.isdigit():
        raise tus_error(400, f"{name}: a non-negative integer is required")
    return int(raw)


def _expires_header(upload: Upload) -> str:
    return upload.expires.strftime("%a, %d %b %Y %H:%M:%S GMT")


def check_upload(settings: MediaSettings, length: int, filename: str) -> None:
    """Refuse what the settings do not allow, before a byte is sent."""
    if length > settings.max_upload_bytes:
        raise tus_error(413, f"the file is larger than {settings.max_upload_bytes} bytes")
    if length == 0:
        raise tus_error(400, "the file is empty")
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if extension not in settings.allowed_containers:
        allowed = ", ".join(settings.allowed_containers)
        raise tus_error(
            415, f"files of type {extension or '(none)'!r} are refused; allowed: {allowed}"
        )


def upload_dir(services: Services) -> Path:
    return services.settings.data_dir / "uploads"


class RunningHashes:
    """The sha256 state of each upload this process is receiving, with the offset it covers.

    A state is taken out for one PATCH and put back only once that PATCH's new offset is
    committed, so a state found here always covers exactly the bytes the database counts;
    anything else (no state, another offset) means the part file is hashed from disk again.
    """

    def __init__(self, limit: int = RUNNING_HASHES) -> None:
        self.limit = limit
        self._states: OrderedDict[uuid.UUID, tuple[int, hashlib._Hash]] = OrderedDict()

    def take(self, upload_id: uuid.UUID, offset: int) -> hashlib._Hash | None:
        found = self._states.pop(upload_id, None)
        if found is None or found[0] != offset:
            return None
        return found[1]

    def keep(self, upload_id: uuid.UUID, offset: int, digest: hashlib._Hash) -> None:
        self._states[upload_id] = (offset, digest)
        while len(self._states) > self.limit:
            self._states.popitem(last=False)

    def drop(self, upload_id: uuid.UUID) -> None:
        self._states.pop(upload_id, None)


def hash_from_disk(part: Path, length: int) -> hashlib._Hash:
    """The sha256 state of the first `length` bytes of `part` (a resumed upload's prefix)."""
    digest = hashlib.sha256()
    with part.open("rb") as file:
        remaining = length
        while remaining > 0:
            data = file.read(min(READ_BUFFER, remaining))
            if not data:
                raise FileNotFoundError(f"{part} is shorter than its recorded offset {length}")
            digest.update(data)
            remaining -= len(data)
    return digest


def build_router() -> APIRouter:
    """The tus endpoint under `/api/v1/media/uploads`."""
    router = APIRouter(tags=["media"])
    hashes = RunningHashes()

    @router.options(BASE, summary="tus: what this server supports", status_code=204)
    async def capabilities(services: ServicesDep) -> Response:
        settings = services.settings.media
        return Response(status_code=204, headers=tus_headers(**{
            "Tus-Version": TUS_VERSION, "Tus-Extension": EXTENSIONS,
            "Tus-Max-Size": str(settings.max_upload_bytes),
            "Tus-Checksum-Algorithm": CHECKSUM_ALGORITHMS,
        }))  # fmt: skip

    @router.post(BASE, summary="tus: create an upload (metadata: film_id, filename, sha256)",
                 status_code=201)  # fmt: skip
    async def create(request: Request, services: ServicesDep, caller: Uploader) -> Response:
        _require_tus(request)
        if request.headers.get("upload-defer-length"):
            raise tus_error(400, "Upload-Defer-Length is not supported; send Upload-Length")
        length = _int_header(request, "upload-length")
        metadata = parse_metadata(request.headers.get("upload-metadata"))
        filename = (metadata.get("filename") or metadata.get("name") or "").strip()
        if not filename:
            raise tus_error(400, "Upload-Metadata: filename is required")
        try:
            film_id = uuid.UUID(metadata.get("film_id", ""))
        except ValueError:
            raise tus_error(400, "Upload-Metadata: film_id must be a film's UUID") from None
        if caller.film_id is not None and caller.film_id != film_id:
            raise tus_error(403, "this upload ticket is for another film")
        declared = metadata.get("sha256", "").strip().lower() or None
        if declared is not None and (len(declared) != 64 or not _is_hex(declared)):
            raise tus_error(400, "Upload-Metadata: sha256 must be 64 hex digits")
        check_upload(services.settings.media, length, filename)
        now = service.utcnow()
        upload = Upload(
            id=uuid.uuid4(), film_id=film_id, length=length, offset=0,
            filename=filename[:255], checksum=declared, owner=caller.subject,
            expires=now + dt.timedelta(hours=services.settings.media.upload_expiry_hours),
        )  # fmt: skip
        directory = anyio.Path(upload_dir(services))
        await directory.mkdir(parents=True, exist_ok=True)
        await (directory / f"{upload.id}.part").touch()
        async with services.db.session() as session:
            session.add(upload)
            await session.flush()
        log.info("media.upload_created", upload_id=str(upload.id), film_id=str(film_id),
                 length=length)  # fmt: skip
        location = f"{BASE}/{upload.id}"
        return Response(status_code=201, headers=tus_headers(
            Location=location, **{"Upload-Expires": _expires_header(upload)}
        ))  # fmt: skip

    @router.head(BASE + "/{upload_id}", summary="tus: how much of an upload arrived")
    async def offset(
        upload_id: uuid.UUID, request: Request, services: ServicesDep, caller: Uploader
    ) -> Response:
        _require_tus(request)
        async with services.db.session() as session:
            upload = _check_owner(await session.get(Upload, upload_id), caller)
        return Response(status_code=200, headers=tus_headers(**{
            "Upload-Offset": str(upload.offset), "Upload-Length": str(upload.length),
            "Upload-Expires": _expires_header(upload),
        }))  # fmt: skip

    @router.patch(BASE + "/{upload_id}", summary="tus: append bytes at Upload-Offset",
                  status_code=204)  # fmt: skip
    async def append(
        upload_id: uuid.UUID, request: Request, services: ServicesDep, caller: Uploader
    ) -> Response:
        _require_tus(request)
        if request.headers.get("content-type", "").split(";")[0].strip() != OFFSET_CONTENT_TYPE:
            raise tus_error(415, f"Content-Type must be {OFFSET_CONTENT_TYPE}")
        at = _int_header(request, "upload-offset")
        expected = parse_checksum(request.headers.get("upload-checksum"))
        finished: uuid.UUID | None = None
        refused: str | None = None
        adopted: str | None = None  # the storage key the finished file went to
        part = upload_dir(services) / f"{upload_id}.part"
        try:
            async with services.db.session() as session:
                try:
                    found = await repository.lock_upload(session, upload_id)
                except DBAPIError:
                    raise tus_error(409, "another request is writing this upload") from None
                upload = _check_owner(found, caller)
                if upload.video_id is not None or upload.offset == upload.length:
                    raise tus_error(409, "this upload is complete",
                                    **{"Upload-Offset": str(upload.offset)})  # fmt: skip
                if at != upload.offset:
                    raise tus_error(409, f"Upload-Offset is {upload.offset}, not {at}",
                                    **{"Upload-Offset": str(upload.offset)})  # fmt: skip
                # The whole file is hashed here only when its sha256 was declared; else the
                # worker takes it when it first reads the file.
                running = None
                if upload.checksum is not None:
                    running = hashes.take(upload.id, upload.offset)
                    if running is None:
                        running = await _rehash(part, upload)
                written, running = await _receive(request, part, upload, expected, running)
                upload.offset += written
                if upload.offset == upload.length and upload.checksum is not None:
                    if running is None:
                        running = await _rehash(part, upload)
                    checksum = running.hexdigest()
                    if upload.checksum != checksum:
                        # The whole file is wrong: the upload is dropped, the client starts over.
                        refused = (f"the file's sha256 is {checksum}, not the declared "
                                   f"{upload.checksum}; upload it again")  # fmt: skip
                        await session.delete(upload)
                if upload.offset == upload.length and refused is None:
                    video_id = uuid.uuid4()
                    adopted = service.source_key(video_id, upload.filename)
                    finished = await _finish(session, services.storage, upload, part,
                                             video_id, adopted)  # fmt: skip
                await session.flush()
                headers = tus_headers(**{"Upload-Offset": str(upload.offset),
                                         "Upload-Expires": _expires_header(upload)})  # fmt: skip
        except BaseException:
            if adopted is not None:  # the commit failed: the bytes go back where they were
                await _give_back(services.storage, adopted, part)
            raise
        if refused is not None:
            await anyio.Path(part).unlink(missing_ok=True)
            raise tus_error(460, refused)
        if finished is not None:
            await anyio.Path(part).unlink(missing_ok=True)
            await jobs.send_transcode(services.tasks, finished, 1)
            headers["X-Video-Id"] = str(finished)
        elif running is not None:
            hashes.keep(upload_id, int(headers["Upload-Offset"]), running)
        return Response(status_code=204, headers=headers)

    @router.delete(BASE + "/{upload_id}", summary="tus: abandon an upload", status_code=204)
    async def terminate(
        upload_id: uuid.UUID, request: Request, services: ServicesDep, caller: Uploader
    ) -> Response:
        _require_tus(request)
        async with services.db.session() as session:
            try:
                found = await repository.lock_upload(session, upload_id)
            except DBAPIError:
                raise tus_error(409, "another request is writing this upload") from None
            upload = _check_owner(found, caller)
            if upload.video_id is not None:
                raise tus_error(409, "this upload is complete; it is a video now")
            await session.delete(upload)
        hashes.drop(upload_id)
        await anyio.Path(upload_dir(services) / f"{upload_id}.part").unlink(missing_ok=True)
        log.info("media.upload_terminated", upload_id=str(upload_id))
        return Response(status_code=204, headers=tus_headers())

    return router


def _is_hex(value: str) -> bool:
    try:
        bytes.fromhex(value)
    except ValueError:
        return False
    return True


def _check_owner(upload: Upload | None, caller: Caller) -> Upload:
    # Another account's upload answers like a missing one: ids are not an oracle.
    if upload is None or upload.owner != caller.subject:
        raise tus_error(404, "no such upload")
    if upload.expires < service.utcnow() and upload.video_id is None:
        raise tus_error(410, "this upload expired")
    return upload


Batch = TypeVar("Batch")


class _PartWriter(ABC, Generic[Batch]):
    """Appends to an upload's part file from a worker thread, in batches of `WRITE_BUFFER`
    bytes: while one batch is written the next gathers, so reading the socket overlaps the
    writing, and batches are written in order. `add` and `_write` say how a batch is kept
    and written (`_ChunkWriter`, `_HashingWriter`)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.accepted = 0  # bytes taken from the body, written or not yet
        self.written = 0
        self._inflight: asyncio.Future[int] | None = None

    @abstractmethod
    async def add(self, chunk: bytes) -> None:
        """Take a chunk, starting a batch's write whenever one is full."""

    @abstractmethod
    def _take_batch(self) -> Batch | None:
        """The gathered batch (None when empty), a new one started."""

    @abstractmethod
    def _write(self, batch: Batch) -> int:
        """Write a batch (in a worker thread); the bytes written."""

    async def flush(self) -> None:
        """Start writing the gathered batch, once the one before it is written."""
        await self.settle()
        batch = self._take_batch()
        if batch is not None:
            self._inflight = asyncio.ensure_future(anyio.to_thread.run_sync(self._write, batch))

    async def settle(self) -> None:
        """Wait for the batch in flight (its errors surface here)."""
        if self._inflight is not None:
            inflight, self._inflight = self._inflight, None
            self.written += await inflight

    async def finish(self) -> None:
        """Everything taken is written."""
        await self.flush()
        await self.settle()

    async def abandon(self) -> None:
        """Let the batch in flight end (so nothing writes after a truncation), whatever it
        raises: the request is failing already."""
        if self._inflight is not None:
            inflight, self._inflight = self._inflight, None
            with contextlib.suppress(Exception):
                await asyncio.shield(inflight)


class _ChunkWriter(_PartWriter[list[bytes]]):
    """An upload nothing hashes here: the body's chunks (what the ASGI server hands over,
    about 256 KiB under uvicorn) are kept as they are and a batch of them is written with
    one `os.writev`, dropping the GIL once per batch; the loop copies nothing."""

    def __init__(self, fd: int) -> None:
        super().__init__(fd)
        self._batch: list[bytes] = []
        self._filled = 0

    async def add(self, chunk: bytes) -> None:
        if not chunk:
            return
        self.accepted += len(chunk)
        self._batch.append(chunk)
        self._filled += len(chunk)
        if self._filled >= WRITE_BUFFER:
            await self.flush()

    def _take_batch(self) -> list[bytes] | None:
        batch, self._batch, self._filled = self._batch, [], 0
        return batch or None

    def _write(self, batch: list[bytes]) -> int:
        return write_all(self.fd, batch)


class _HashingWriter(_PartWriter[memoryview]):
    """An upload whose bytes are hashed as they come: into the upload's running sha256 (when
    it declared one) and this PATCH's own (when the client sent `Upload-Checksum`). The
    chunks are copied into one of two `WRITE_BUFFER` buffers, and a full one is hashed and
    written by one thread call, dropping the GIL once per batch rather than once per chunk
    (a thread taking the GIL back waits for the loop to let go of it)."""

    def __init__(
        self, fd: int, running: hashlib._Hash | None, digest: hashlib._Hash | None
    ) -> None:
        super().__init__(fd)
        self.running = running
        self.digest = digest
        self._buffers = (bytearray(WRITE_BUFFER), bytearray(WRITE_BUFFER))
        self._current = 0  # the buffer filling; the other one may be in flight
        self._filled = 0

    async def add(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        self.accepted += len(view)
        while view:
            take = min(len(view), WRITE_BUFFER - self._filled)
            self._buffers[self._current][self._filled : self._filled + take] = view[:take]
            self._filled += take
            view = view[take:]
            if self._filled == WRITE_BUFFER:
                await self.flush()

    def _take_batch(self) -> memoryview | None:
        if not self._filled:
            return None
        batch = memoryview(self._buffers[self._current])[: self._filled]
        self._current ^= 1
        self._filled = 0
        return batch

    def _write(self, batch: memoryview) -> int:
        for digest in (self.running, self.digest):
            if digest is not None:
                digest.update(batch)
        return write_all(self.fd, [batch])


def write_all(fd: int, chunks: Sequence[bytes | memoryview]) -> int:
    """Write `chunks` in order with `os.writev` (which may take less than asked)."""
    views = [memoryview(chunk) for chunk in chunks]
    done = 0
    while views:
        taken = os.writev(fd, views[:IOV_MAX])
        done += taken
        while views and taken >= len(views[0]):
            taken -= len(views.pop(0))
        if taken:
            views[0] = views[0][taken:]
    return done


def _bytes_gone(upload: Upload) -> HTTPException:
    return tus_error(410, "this upload's bytes are not on this server any more; start a new "
                          f"upload (upload {upload.id})")  # fmt: skip


async def _rehash(part: Path, upload: Upload) -> hashlib._Hash:
    """The running sha256 of an upload's committed bytes, read back from its part file."""
    if upload.offset:
        log.info("media.upload_rehashed", upload_id=str(upload.id), bytes=upload.offset)
    try:
        return await anyio.to_thread.run_sync(hash_from_disk, part, upload.offset)
    except FileNotFoundError:
        raise _bytes_gone(upload) from None


async def _receive(
    request: Request,
    part: Path,
    upload: Upload,
    expected: bytes | None,
    running: hashlib._Hash | None,
) -> tuple[int, hashlib._Hash | None]:
    """Append the body to `part` at the upload's offset, feeding `running` (when the upload
    keeps one); returns the bytes kept and the running hash over them (None when there is
    none or it no longer matches the file)."""
    room = upload.length - upload.offset
    try:
        fd = await anyio.to_thread.run_sync(os.open, part, os.O_WRONLY)
    except FileNotFoundError:
        raise _bytes_gone(upload) from None
    try:
        if not await anyio.to_thread.run_sync(_seek_offset, fd, upload.offset):
            raise _bytes_gone(upload)
        digest = hashlib.sha256() if expected is not None else None
        writer: _ChunkWriter | _HashingWriter = (
            _ChunkWriter(fd) if running is None and digest is None
            else _HashingWriter(fd, running, digest)
        )  # fmt: skip
        try:
            try:
                async for chunk in request.stream():
                    if writer.accepted + len(chunk) > room:
                        await writer.abandon()
                        await anyio.to_thread.run_sync(os.ftruncate, fd, upload.offset)
                        raise tus_error(413, f"the body goes past Upload-Length ({upload.length})")
                    await writer.add(chunk)
            except ClientDisconnect:
                log.info("media.upload_interrupted", upload_id=str(upload.id),
                         kept=writer.accepted)  # fmt: skip
                if expected is not None:  # an unverifiable partial chunk is dropped
                    await writer.abandon()
                    await anyio.to_thread.run_sync(os.ftruncate, fd, upload.offset)
                    return 0, None
            await writer.finish()
        finally:
            await writer.abandon()
        if digest is not None and not hmac.compare_digest(digest.digest(), expected or b""):
            await anyio.to_thread.run_sync(os.ftruncate, fd, upload.offset)
            reason = f"Upload-Checksum does not match the body; resend from {upload.offset}"
            raise tus_error(460, reason, **{"Upload-Offset": str(upload.offset)})
        return writer.written, running
    finally:
        await anyio.to_thread.run_sync(os.close, fd)


def _seek_offset(fd: int, offset: int) -> bool:
    """Place the part file's end and position at the recorded `offset`; False when the file
    is shorter (bytes counted by the database are not there: they cannot be restored).

    Bytes past the offset are from a request that died before its commit, and are cut. A
    file already ending there is left alone: ext4 takes a truncation, even to the file's own
    size, for a rewrite of the file (`auto_da_alloc`) and writes it all to disk at its close,
    which made the next commit's fsync wait for it.
    """
    size = os.fstat(fd).st_size
    if size < offset:
        return False
    if size > offset:
        os.ftruncate(fd, offset)
    os.lseek(fd, offset, os.SEEK_SET)
    return True


async def _finish(
    session: AsyncSession,
    storage: ObjectStorage,
    upload: Upload,
    part: Path,
    video_id: uuid.UUID,
    key: str,
) -> uuid.UUID:
    """Hand the complete file to storage under `key` and register the video, with the
    sha256 the client declared (verified by then) or none yet (the worker takes it)."""
    stored = await storage.adopt(part, key)
    video = await service.register_video(
        session, film_id=upload.film_id, key=key, name=upload.filename, size=stored.size,
        checksum=upload.checksum, video_id=video_id,
    )  # fmt: skip
    upload.video_id = video.id
    log.info("media.upload_complete", upload_id=str(upload.id), video_id=str(video.id),
             sha256=upload.checksum)  # fmt: skip
    return video.id


async def _give_back(storage: ObjectStorage, key: str, part: Path) -> None:
    """Put an adopted file back as the part file (its registration was not committed), so
    the client's retry of the last PATCH finds the upload as it was."""
    if await anyio.Path(part).exists():  # the storage never took it
        return
    restored = part.with_name(part.name + ".restoring")
    try:
        async with await anyio.open_file(restored, "wb") as file:
            async for chunk in storage.get(key):
                await file.write(chunk)
        await anyio.Path(restored).rename(part)
        await storage.delete(key)
    except Exception:
        await anyio.Path(restored).unlink(missing_ok=True)
        log.exception("media.upload_give_back_failed", key=str(key), part=str(part))


async def remove_expired_uploads(services: Services) -> int:
    """Drop unfinished uploads past their `Upload-Expires` (rows and bytes); how many."""
    async with services.db.session() as session:
        expired = await repository.expired_uploads(session, service.utcnow())
        for upload in expired:
            await session.delete(upload)
        ids = [upload.id for upload in expired]
    for upload_id in ids:
        await anyio.Path(upload_dir(services) / f"{upload_id}.part").unlink(missing_ok=True)
    if ids:
        log.info("media.uploads_expired", uploads=len(ids))
    return len(ids)
