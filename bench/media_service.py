"""Media service costs, run by `bench_media` so `make bench media` prints every media figure:
tus upload throughput next to a plain file copy (goal >= 0.5x), bare HTTP endpoints and sha256
alone, and the time from an upload's last byte to its first rung playable through the stream
API (and, after it, to the artwork being added). `python -m bench.media_service upload` prints
the upload figures alone.

The upload goes through the real app (uvicorn, the tus endpoint, PostgreSQL, the local
storage port) as a tus client sends it: a creation POST, then PATCHes of
KINOTEKA_BENCH_UPLOAD_CHUNK_MB (64) each on one connection, each body sent from the file by
the kernel (`socket.sendfile`), so the client costs next to nothing; its time runs from the
creation POST to the last PATCH's answer, when the file is adopted by storage (a rename). The
headline client declares no checksum, as tus-js-client, Uppy and the admin's uploader do: the
API writes the bytes and the worker takes the file's sha256 later, off the request path. A
second client declares the file's sha256 in `Upload-Metadata`: the API then hashes the bytes
as they arrive and checks the digest on the last byte, so sha256 on one core is its ceiling.
The copy is `shutil.copyfile` of the same file on the same disk, from the page cache. Neither
calls fsync: the product does not (the answered bytes are in the page cache, as the copy's
are).

The bare endpoints (`bench/bare_upload.py`: a raw ASGI app on uvicorn, no framework, no
database; the same client) take the same bytes and drop them (raw `receive`, and Starlette's
`request.stream()`), write them to a file as they come, gather them into 8 MiB batches a
thread writes (the tus endpoint's scheme for an upload that declared no sha256), or receive,
sha256 and write them as the tus endpoint does for one that did (two 8 MiB buffers, a worker
thread): the HTTP stack's ceiling and the least each kind of upload costs through it. sha256
alone is `hashlib.sha256` of the file in memory, one core: no upload that hashes its bytes as
they arrive runs faster.

Both servers are warmed first (an untimed upload; an untimed round of the bare endpoints): a
fresh CPython process hands the memory of every body chunk back to the kernel and faults it in
again, until it has freed one block larger than the chunks (glibc's malloc then raises its mmap
and trim thresholds): several times the CPU of dropping the body warm (0.34 against 0.09 s for
256 MiB when measured). A long-running server has that behind it.
All are interleaved over KINOTEKA_BENCH_UPLOAD_ROUNDS (3) rounds and their medians compared, so
a busy moment of a shared machine does not decide the ratio; every round's written file is
removed before the next (the copy's, the bare ones' and the stored uploads). The CPU seconds
printed are the server process's own (all threads) for one upload. Playable means: the stream
endpoint answers and the first segment of the first variant is served. Sizes:
KINOTEKA_BENCH_UPLOAD_MB (default 256); the clip is the one `bench_media` generated (else
KINOTEKA_BENCH_CLIP_SECONDS, 30).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import http.client
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urljoin, urlsplit

import httpx

from bench.fixtures import migrated_database, postgres_server
from bench.loadgen import cpu_seconds, served_process
from kinoteka.auth import ClientInfo, log_in
from kinoteka.auth import service as auth_service
from kinoteka.auth.deps import get_auth_kit
from kinoteka.clients import build_services
from kinoteka.infra.cache.embedded import EmbeddedRedis
from kinoteka.infra.footprint import StoreUrls
from kinoteka.media.processing import probe
from kinoteka.settings import Environment, Settings, load_settings

Report = Callable[[str], None]
UPLOAD_MB = int(os.environ.get("KINOTEKA_BENCH_UPLOAD_MB", "256"))
CLIP_SECONDS = float(os.environ.get("KINOTEKA_BENCH_CLIP_SECONDS", "30"))
PASSWORD = secrets.token_urlsafe(16)  # a throwaway account of this run
SECRET = secrets.token_hex(16)
ENDPOINT = "/api/v1/media/uploads"
CHUNK = int(os.environ.get("KINOTEKA_BENCH_UPLOAD_CHUNK_MB", "64")) * 1024 * 1024
UPLOAD_ROUNDS = int(os.environ.get("KINOTEKA_BENCH_UPLOAD_ROUNDS", "3"))


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _editor_token(settings: Settings, urls: StoreUrls) -> str:
    services = build_services(settings, urls)
    kit = get_auth_kit(services)
    async with services.db.session() as session:
        await auth_service.create_user(session, kit, "bench@media.test", PASSWORD,
                                       roles=["admin"])  # fmt: skip
    async with services.db.session() as session:
        pair = await log_in(session, kit, "bench@media.test", PASSWORD, ClientInfo())
    await services.close()
    return pair.access_token


@dataclass
class Upload:
    seconds: float  # the whole upload, creation to the last answer
    last_patch: float  # the last PATCH: its bytes, then the file moved into storage
    last_bytes: int
    stored: Path  # where the local storage keeps the uploaded file


def _send_file(
    connection: http.client.HTTPConnection,
    method: str,
    target: str,
    file: BinaryIO,
    span: tuple[int, int],
    headers: dict[str, str],
) -> http.client.HTTPResponse:
    """One request whose body is `span` (offset, length) of `file`, sent by the kernel
    (`socket.sendfile`: no copy through this process), its answer read whole."""
    offset, length = span
    connection.putrequest(method, target, skip_accept_encoding=True)
    for name, value in {**headers, "Content-Length": str(length)}.items():
        connection.putheader(name, value)
    connection.endheaders()
    assert connection.sock is not None
    connection.sock.sendfile(file, offset, length)
    answer = connection.getresponse()
    answer.read()
    return answer


def _upload(
    base_url: str,
    token: str,
    path: Path,
    film_id: uuid.UUID,
    storage: Path,
    sha256: str | None = None,
) -> Upload:
    """A tus upload as a client that does not hold the machine back sends one: a creation
    POST, then PATCHes of `CHUNK` bytes on the same connection, each body sent from the file
    by the kernel (as the bare-endpoint baseline's body is). Like tus-js-client and Uppy it
    declares no checksum, unless given the file's `sha256` to declare in `Upload-Metadata`."""
    size = path.stat().st_size
    declared = {"filename": path.name, "film_id": str(film_id)}
    if sha256 is not None:
        declared["sha256"] = sha256
    metadata = ",".join(
        f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in declared.items()
    )
    headers = {"Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0"}
    address = urlsplit(base_url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=600)
    started = time.perf_counter()
    try:
        connection.request("POST", ENDPOINT, headers={
            **headers, "Upload-Length": str(size), "Upload-Metadata": metadata,
        })  # fmt: skip
        created = connection.getresponse()
        created.read()
        if created.status != 201:
            raise RuntimeError(f"tus creation answered {created.status}")
        location = urlsplit(created.headers["Location"]).path
        offset = length = 0
        patch_started = started
        with path.open("rb") as file:
            while offset < size:
                length = min(CHUNK, size - offset)
                patch_started = time.perf_counter()
                answer = _send_file(connection, "PATCH", location, file, (offset, length), {
                    **headers, "Upload-Offset": str(offset),
                    "Content-Type": "application/offset+octet-stream",
                })  # fmt: skip
                if answer.status != 204:
                    raise RuntimeError(f"tus PATCH answered {answer.status}")
                offset = int(answer.headers["Upload-Offset"])
        video_id = answer.headers["X-Video-Id"]
    finally:
        connection.close()
    ended = time.perf_counter()
    stored = storage / "media" / video_id / "source" / f"original{path.suffix}"
    return Upload(ended - started, ended - patch_started, length, stored)


def _clip(path: Path, seconds: float) -> None:
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=25:duration={seconds:g}",
         "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds:g}",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
         "-shortest", str(path)],
        check=True,
    )  # fmt: skip


def _playable(base_url: str, token: str, film_id: uuid.UUID, deadline: float) -> dict[str, Any]:
    """Poll until the film streams and its first segment is served; the stream answer."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        while time.monotonic() < deadline:
            answer = client.get(f"/api/v1/films/{film_id}/stream",
                                headers={"Authorization": f"Bearer {token}"})  # fmt: skip
            if answer.status_code == 200:
                hls = answer.json()["hls"]
                master = client.get(hls).text
                variant = urljoin(hls, next(x for x in master.splitlines() if x[:1] not in "#"))
                playlist = client.get(variant).text
                segment = next(x for x in playlist.splitlines() if x and x[0] != "#")
                assert client.get(urljoin(variant, segment)).status_code == 200
                stream: dict[str, Any] = answer.json()
                return stream
            time.sleep(0.2)  # polling the workers, with a deadline
    raise TimeoutError("the video did not become playable in time")


def _wait_json(
    base_url: str, token: str, path: str, done: Callable[[Any], bool], deadline: float
) -> None:
    """Poll `path` (with the token) until `done(its JSON)`; a 404 counts as not yet."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        while time.monotonic() < deadline:
            answer = client.get(path, headers={"Authorization": f"Bearer {token}"})
            if answer.status_code == 200 and done(answer.json()):
                return
            time.sleep(0.5)  # polling the workers, with a deadline
    raise TimeoutError(f"{path} did not come to the awaited state in time")


@dataclass
class Bare:
    """Seconds each bare endpoint (`bench/bare_upload.py`) took over the same bytes."""

    discard: float  # raw ASGI `receive`, dropped: the HTTP stack alone
    starlette: float  # Starlette's `request.stream()`, dropped
    to_file: float  # each message written to a file as it arrives
    batched: float  # gathered into 8 MiB batches written by a thread, as tus does unhashed
    verified: float  # gathered, hashed (sha256) and written by a thread, as tus does
    verified_cpu: float  # the server's CPU seconds for `verified`


BARE_ROUTES = ("/discard", "/starlette", "/file", "/batched", "/verified")


@contextlib.contextmanager
def _bare_server(source: Path, target: Path) -> Iterator[tuple[int, int]]:
    """The bare endpoints on uvicorn (port, process id), warmed by one untimed round (as the
    product's API is by an untimed upload)."""
    port = _free_port()
    command = [sys.executable, "-m", "uvicorn", "bench.bare_upload:app", "--port", str(port),
               "--log-level", "warning"]  # fmt: skip
    environment = {"KINOTEKA_BENCH_UPLOAD_TARGET": str(target)}
    with served_process(command, environment, port) as (_, pid):
        _bare_round(port, pid, source, target)
        yield port, pid


def _bare_round(port: int, pid: int, source: Path, target: Path) -> Bare:
    """The same bytes PATCHed by the same client to each bare endpoint in turn; the file
    written is removed after each."""
    size = source.stat().st_size
    seconds: list[float] = []
    cpu: list[float] = []
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    try:
        with source.open("rb") as body:
            for route in BARE_ROUTES:
                cpu_before = cpu_seconds(pid)
                started = time.perf_counter()
                answer = _send_file(connection, "PATCH", route, body, (0, size), {})
                seconds.append(time.perf_counter() - started)
                cpu.append(cpu_seconds(pid) - cpu_before)
                if answer.status != 200:
                    raise RuntimeError(f"the bare endpoint {route} answered {answer.status}")
                target.unlink(missing_ok=True)
    finally:
        connection.close()
    discard, starlette, to_file, batched, verified = seconds
    return Bare(discard, starlette, to_file, batched, verified,
                cpu[BARE_ROUTES.index("/verified")])  # fmt: skip


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_up(base_url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("kinoteka serve media exited")
        try:
            httpx.get(base_url + "/health", timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)  # polling the server's start, with a deadline
    raise TimeoutError("kinoteka serve media did not start")


@dataclass
class Platform:
    """The media API running in its own process, with an editor's token for it."""

    root: Path
    base_url: str
    token: str
    env: dict[str, str]
    pid: int  # the API's process

    @property
    def storage(self) -> Path:
        """The local storage's directory."""
        return self.root / "data" / "storage"


@contextlib.contextmanager
def _platform() -> Iterator[Platform]:
    with contextlib.ExitStack() as stack:
        directory = stack.enter_context(tempfile.TemporaryDirectory(prefix="kinoteka-bench-"))
        server_url = stack.enter_context(postgres_server())
        database_url = stack.enter_context(migrated_database(server_url))
        root = Path(directory)
        redis = EmbeddedRedis(root / "redis")
        redis_url = redis.start()
        stack.callback(redis.stop)
        settings = load_settings(env=Environment.TEST, data_dir=root / "data",
                                 secret_key=SECRET)  # fmt: skip
        urls = StoreUrls(database_url, redis_url, f"tantivy://{root / 'search'}",
                         f"file://{root / 'data' / 'storage'}")  # fmt: skip
        token = asyncio.run(_editor_token(settings, urls))
        env = {k: v for k, v in os.environ.items() if not k.startswith("KINOTEKA_")}
        env.update(KINOTEKA_ENV="test", KINOTEKA_DATA_DIR=str(root / "data"),
                   KINOTEKA_SECRET_KEY=SECRET, KINOTEKA_LOG__LEVEL="WARNING",
                   KINOTEKA_DATABASE_URL=database_url, KINOTEKA_REDIS_URL=redis_url,
                   KINOTEKA_STORAGE_URL=urls.storage_url)  # fmt: skip
        port = _free_port()
        base_url = f"http://127.0.0.1:{port}"
        # The API in its own process, as deployed: the client does not share its interpreter.
        api = subprocess.Popen(
            [sys.executable, "-m", "kinoteka", "serve", "media", "--port", str(port)],
            env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        stack.callback(_stop, api)
        _wait_up(base_url, api)
        yield Platform(root, base_url, token, env, api.pid)


def _sha256_seconds(data: bytes) -> float:
    started = time.perf_counter()
    hashlib.sha256(data).digest()
    return time.perf_counter() - started


def upload_figures(report: Report, platform: Platform) -> None:
    """tus upload throughput against a page-cache copy, the bare endpoints and sha256 alone."""
    root, base_url, token = platform.root, platform.base_url, platform.token
    source = root / "upload.mp4"
    with source.open("wb") as file:
        for _ in range(UPLOAD_MB):
            file.write(os.urandom(1024 * 1024))
    copies: list[float] = []
    hashes: list[float] = []
    bares: list[Bare] = []
    uploads: list[tuple[Upload, float]] = []  # with the API's CPU seconds
    declaring: list[tuple[Upload, float]] = []  # the client declaring the file's sha256
    in_memory = source.read_bytes()
    sha256 = hashlib.sha256(in_memory).hexdigest()
    bare_target = root / "bare.mp4"
    # An untimed upload first, as the bare server's untimed round: a fresh process pays for
    # its first large buffers, which a long-running server has behind it.
    _upload(base_url, token, source, uuid.uuid4(), platform.storage).stored.unlink()
    with _bare_server(source, bare_target) as (bare_port, bare_pid):
        for _ in range(UPLOAD_ROUNDS):
            started = time.perf_counter()
            shutil.copyfile(source, root / "copy.mp4")
            copies.append(time.perf_counter() - started)
            (root / "copy.mp4").unlink()
            hashes.append(_sha256_seconds(in_memory))
            bares.append(_bare_round(bare_port, bare_pid, source, bare_target))
            cpu_before = cpu_seconds(platform.pid)
            upload = _upload(base_url, token, source, uuid.uuid4(), platform.storage)
            uploads.append((upload, cpu_seconds(platform.pid) - cpu_before))
            # Dropped like the copy's file, so each round writes into memory the kernel
            # recycled (a fresh VM's never-touched pages cost a host fault each, a cost a copy
            # would not pay).
            upload.stored.unlink()
            cpu_before = cpu_seconds(platform.pid)
            upload = _upload(base_url, token, source, uuid.uuid4(), platform.storage, sha256)
            declaring.append((upload, cpu_seconds(platform.pid) - cpu_before))
            upload.stored.unlink()
    del in_memory
    source.unlink()
    copy_s = statistics.median(copies)
    hash_s = statistics.median(hashes)

    def bare(field: str) -> float:
        return float(statistics.median(getattr(round_, field) for round_ in bares))

    upload, upload_cpu = sorted(uploads, key=lambda u: u[0].seconds)[len(uploads) // 2]
    upload_s = upload.seconds
    checked, checked_cpu = sorted(declaring, key=lambda u: u[0].seconds)[len(declaring) // 2]
    checked_s = checked.seconds
    mb = UPLOAD_MB
    report(
        f"upload {mb} MiB: {mb / upload_s:.0f} MiB/s through tus; plain copy "
        f"{mb / copy_s:.0f} MiB/s; ratio {copy_s / upload_s:.2f}x (goal >= 0.5x; medians "
        f"of {UPLOAD_ROUNDS} interleaved rounds; the client declares no checksum, as "
        f"tus-js-client and Uppy do: the worker hashes the file later)"
    )
    report(
        f"  bare raw ASGI endpoints on uvicorn (same bytes, same client): dropped unread "
        f"{mb / bare('discard'):.0f} MiB/s ({copy_s / bare('discard'):.2f}x of the copy; "
        f"through Starlette's request.stream() {mb / bare('starlette'):.0f} MiB/s), written "
        f"to a file as it comes {mb / bare('to_file'):.0f} MiB/s ({copy_s / bare('to_file'):.2f}x)"
    )
    report(
        f"  received and written by a thread in 8 MiB batches as tus does then "
        f"{mb / bare('batched'):.0f} MiB/s ({copy_s / bare('batched'):.2f}x of the copy); tus "
        f"at {bare('batched') / upload_s:.2f}x of it ({upload_cpu:.2f} CPU s in the API)"
    )
    before_last = (mb * 1024 * 1024 - upload.last_bytes) / 1024 / 1024
    if before_last:
        report(
            f"  of which: {before_last:.0f} MiB before the last PATCH at "
            f"{before_last / (upload_s - upload.last_patch):.0f} MiB/s; the last PATCH "
            f"({upload.last_bytes / 1024 / 1024:.0f} MiB, then the file adopted by "
            f"storage) {upload.last_patch:.2f} s"
        )
    report(
        f"upload {mb} MiB by a client declaring the file's sha256 in Upload-Metadata (checked "
        f"on the last byte, hashed as it arrives): {mb / checked_s:.0f} MiB/s; ratio "
        f"{copy_s / checked_s:.2f}x of the copy ({checked_cpu:.2f} CPU s in the API)"
    )
    report(
        f"  received, sha256-hashed and written as tus does then (two 8 MiB buffers, a "
        f"thread) {mb / bare('verified'):.0f} MiB/s ({copy_s / bare('verified'):.2f}x of the "
        f"copy, {bare('verified_cpu'):.2f} CPU s in the server); tus at "
        f"{bare('verified') / checked_s:.2f}x of it"
    )
    report(
        f"  sha256 alone, in memory on one core: {mb / hash_s:.0f} MiB/s "
        f"({copy_s / hash_s:.2f}x of the copy: the ceiling of an upload hashed as it "
        f"arrives); no fsync in the copy nor in the uploads"
    )


def playable_figures(report: Report, platform: Platform, clip: Path | None) -> None:
    """Upload complete -> first rung playable, whole ladder ready, artwork added (with the
    workers running already)."""
    root, base_url, token = platform.root, platform.base_url, platform.token
    if clip is None:
        clip = root / "clip.mp4"
        _clip(clip, CLIP_SECONDS)
    seconds = probe(clip).duration
    film_id = uuid.uuid4()
    _upload(base_url, token, clip, film_id, platform.storage)
    completed = time.monotonic()
    first = _playable(base_url, token, film_id, completed + 1800)
    playable = time.monotonic() - completed
    _wait_json(base_url, token, f"/api/v1/films/{film_id}/videos",
               lambda videos: videos[0]["status"] == "ready", completed + 1800)  # fmt: skip
    ladder = time.monotonic() - completed
    _wait_json(base_url, token, f"/api/v1/films/{film_id}/stream",
               lambda stream: bool(stream["sprite_vtt"]), completed + 1800)  # fmt: skip
    artwork = time.monotonic() - completed
    report(
        f"{seconds:.0f} s 1080p clip: upload complete -> first rung playable in "
        f"{playable:.1f} s ({', '.join(first['qualities'])}; workers already running); "
        f"whole ladder switched in (ready) at {ladder:.1f} s; artwork (poster, sprites, "
        f"previews) added at {artwork:.1f} s"
    )


def run(report: Report, clip: Path | None = None, *, playable: bool = True) -> None:
    """The service figures; `bench_media` passes the 1080p clip it generated (else one is
    made). `python -m bench.media_service upload` runs the upload figures alone."""
    if shutil.which("ffmpeg") is None:
        report("skipped: ffmpeg not found (make system-packages)")
        return
    with _platform() as platform:
        if not playable:
            upload_figures(report, platform)
            return
        # Started first, so they are up long before the clip is uploaded.
        workers = subprocess.Popen(
            [sys.executable, "-m", "kinoteka", "worker"], env=platform.env,
            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            upload_figures(report, platform)
            playable_figures(report, platform, clip)
        finally:
            _stop(workers)


if __name__ == "__main__":
    run(lambda line: print(f"  {line}", flush=True), playable=sys.argv[1:] != ["upload"])
