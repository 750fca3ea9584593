"""Something to watch from the first start: short clips generated with ffmpeg's lavfi
sources (never committed), stored and sent through the same pipeline as an upload."""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path

import anyio
import structlog

from kinoteka.infra import db as db_port
from kinoteka.infra import storage as storage_port
from kinoteka.infra import tasks as tasks_port
from kinoteka.infra.footprint import StoreUrls
from kinoteka.media import jobs, service
from kinoteka.settings import Settings

log = structlog.get_logger(__name__)

# lavfi video sources that look different from each other, and a tone per clip.
PATTERNS = ("testsrc2", "smptehdbars", "mandelbrot", "rgbtestsrc", "life", "cellauto")


def demo_clip_command(out: Path, index: int, seconds: float) -> list[str]:
    """The ffmpeg command writing demo clip `index` (a 720p H.264/AAC MP4) to `out`."""
    pattern = PATTERNS[index % len(PATTERNS)]
    size = "1280x720"
    video = (
        f"{pattern}=size={size}:rate=25"
        if pattern not in {"life", "cellauto"}
        else (
            f"{pattern}=size={size}:rate=25:mold=10"
            if pattern == "life"
            else f"{pattern}=size={size}:rate=25:rule=110"
        )
    )
    tone = f"sine=frequency={330 + 110 * index}:sample_rate=48000"
    return [
        "ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y",
        "-f", "lavfi", "-t", f"{seconds:g}", "-i", video,
        "-f", "lavfi", "-t", f"{seconds:g}", "-i", tone,
        "-vf", "format=yuv420p",
        "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest", str(out),
    ]  # fmt: skip


async def add_demo_clips(settings: Settings, urls: StoreUrls, film_ids: Sequence[uuid.UUID]) -> int:
    """Give `film_ids` a generated clip each and send them to the workers; how many."""
    if not film_ids:
        return 0
    if shutil.which("ffmpeg") is None:
        log.warning("media.demo_clips_skipped", reason="ffmpeg is not on PATH; make up installs it")
        return 0
    media = settings.media
    db = db_port.from_url(urls.database_url)
    storage = storage_port.from_url(urls.storage_url, secret=settings.secret_key.get_secret_value())
    queue = tasks_port.from_url(urls.redis_url, visibility_timeout=media.visibility_timeout)
    registered: list[uuid.UUID] = []
    try:
        await storage.prepare()
        with tempfile.TemporaryDirectory(prefix="kinoteka-demo-") as workdir:
            for index, film_id in enumerate(film_ids):
                clip = Path(workdir) / f"demo-{index}.mp4"
                command = demo_clip_command(clip, index, media.demo_clip_seconds)
                try:
                    await anyio.to_thread.run_sync(
                        functools.partial(subprocess.run, command, check=True, timeout=300)
                    )
                except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
                    log.warning("media.demo_clip_failed", index=index, error=str(error))
                    continue
                video_id = uuid.uuid4()
                key = service.source_key(video_id, clip.name)
                stored = await storage.put(key, await anyio.Path(clip).read_bytes())
                async with db.session() as session:
                    await service.register_video(
                        session, film_id=film_id, key=key, name=f"demo clip {index + 1}.mp4",
                        size=stored.size, checksum=None, video_id=video_id,
                    )  # fmt: skip
                registered.append(video_id)
        for video_id in registered:  # after the commits: the workers find the rows
            await jobs.send_transcode(queue, video_id, 1)
        log.info("media.demo_clips", clips=len(registered))
        return len(registered)
    finally:
        queue.close()
        await storage.close()
        await db.close()
