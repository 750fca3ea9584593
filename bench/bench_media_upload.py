"""Media service costs: tus upload throughput next to a plain file copy (goal >= 0.5x), and
the time from an upload's last byte to its first rung playable through the stream API.

The upload goes through the real app (uvicorn, the tus endpoint, PostgreSQL, the local
storage port) with the tus client library; the copy is `shutil.copyfile` of the same file
on the same disk. Playable means: the stream endpoint answers and the first segment of the
first variant is served. A version is switched in whole (every rung and the artwork), so
this is the time to the complete ladder. Sizes: KINOTEKA_BENCH_UPLOAD_MB (default 256),
KINOTEKA_BENCH_CLIP_SECONDS (default 30, a 1080p clip).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urljoin

import httpx
from tusclient.client import TusClient

from bench.fixtures import migrated_database, postgres_server
from kinoteka.auth import ClientInfo, log_in
from kinoteka.auth import service as auth_service
from kinoteka.auth.deps import get_auth_kit
from kinoteka.clients import build_services
from kinoteka.infra.cache.embedded import EmbeddedRedis
from kinoteka.infra.footprint import StoreUrls
from kinoteka.settings import Environment, Settings, load_settings

Report = Callable[[str], None]
UPLOAD_MB = int(os.environ.get("KINOTEKA_BENCH_UPLOAD_MB", "256"))
CLIP_SECONDS = float(os.environ.get("KINOTEKA_BENCH_CLIP_SECONDS", "30"))
PASSWORD = secrets.token_urlsafe(16)  # a throwaway account of this run
SECRET = secrets.token_hex(16)
ENDPOINT = "/api/v1/media/uploads"


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


def _upload(base_url: str, token: str, path: Path, film_id: uuid.UUID) -> float:
    client = TusClient(base_url + ENDPOINT, headers={"Authorization": f"Bearer {token}"})
    uploader = client.uploader(
        str(path),
        chunk_size=16 * 1024 * 1024,
        metadata={"filename": path.name, "film_id": str(film_id)},
    )
    started = time.perf_counter()
    uploader.upload()
    return time.perf_counter() - started


def _clip(path: Path, seconds: float) -> None:
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=25:duration={seconds:g}",
         "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds:g}",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
         "-shortest", str(path)],
        check=True,
    )  # fmt: skip


def _playable(base_url: str, token: str, film_id: uuid.UUID, deadline: float) -> None:
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
                return
            time.sleep(0.2)  # polling the workers, with a deadline
    raise TimeoutError("the video did not become playable in time")


BARE_SERVER = """
import sys
import uvicorn
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

async def receive(request):
    size = 0
    with open(sys.argv[1], "wb") as file:
        async for chunk in request.stream():
            file.write(chunk)
            size += len(chunk)
    return Response(str(size))

app = Starlette(routes=[Route("/", receive, methods=["PATCH"])])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def _bare_http_seconds(source: Path, target: Path) -> float:
    """The same bytes PATCHed to a bare Starlette endpoint that writes them to a file: what
    any Python HTTP upload on this machine costs, before tus, hashing and storage."""
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-c", BARE_SERVER, str(target), str(port)],
                              start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)  # polling the server's start, with a deadline
        with source.open("rb") as body:
            started = time.perf_counter()
            httpx.patch(f"http://127.0.0.1:{port}/", content=body, timeout=600)
            return time.perf_counter() - started
    finally:
        _stop(server)


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


def run(report: Report) -> None:
    if shutil.which("ffmpeg") is None:
        report("skipped: ffmpeg not found (make system-packages)")
        return
    with contextlib.ExitStack() as stack:
        directory = stack.enter_context(tempfile.TemporaryDirectory(prefix="kinoteka-bench-"))
        server_url = stack.enter_context(postgres_server())
        database_url = stack.enter_context(migrated_database(server_url))
        root = Path(directory)
        redis = EmbeddedRedis(root / "redis")
        redis_url = redis.start()
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
        workers: subprocess.Popen[bytes] | None = None
        try:
            # Started first, so they are up long before the clip is uploaded.
            workers = subprocess.Popen(
                [sys.executable, "-m", "kinoteka", "worker"], env=env, start_new_session=True,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            clip = root / "clip.mp4"
            _clip(clip, CLIP_SECONDS)
            source = root / "upload.mp4"
            with source.open("wb") as file:
                for _ in range(UPLOAD_MB):
                    file.write(os.urandom(1024 * 1024))
            started = time.perf_counter()
            shutil.copyfile(source, root / "copy.mp4")
            copy_s = time.perf_counter() - started
            bare_s = _bare_http_seconds(source, root / "bare.mp4")
            upload_s = _upload(base_url, token, source, uuid.uuid4())
            mb = UPLOAD_MB
            report(
                f"upload {mb} MiB: {mb / upload_s:.0f} MiB/s through tus; plain copy "
                f"{mb / copy_s:.0f} MiB/s; ratio {copy_s / upload_s:.2f}x (goal >= 0.5x)"
            )
            report(
                f"  bare HTTP upload (Starlette, same bytes to a file) {mb / bare_s:.0f} MiB/s: "
                f"tus at {bare_s / upload_s:.2f}x of it"
            )

            film_id = uuid.uuid4()
            _upload(base_url, token, clip, film_id)
            completed = time.monotonic()
            _playable(base_url, token, film_id, completed + 1800)
            report(
                f"{CLIP_SECONDS:g} s 1080p clip: upload complete -> first rung playable in "
                f"{time.monotonic() - completed:.1f} s (whole ladder + artwork, workers "
                "already running)"
            )
        finally:
            if workers is not None:
                _stop(workers)
            _stop(api)
            redis.stop()
