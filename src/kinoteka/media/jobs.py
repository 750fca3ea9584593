"""What the media workers do: one job per video version, from the stored source to streams.

`transcode` (queue `transcoding`) downloads the source once, probes it (`probing`; a source
whose sha256 is not known yet, as an upload that declared none, is hashed beside ffprobe and
the checksum recorded on the video), renders the whole ladder in one ffmpeg pass
(`transcoding`, progress stored every 2 %), hands the outputs to storage under the version's
own prefix and switches the version in (`ready`): it plays as soon as its ladder is complete.
`artwork` (queue `thumbnails`) then makes the poster, seek sprite and previews of that version
and adds them to it; until then the ready video carries `pending = {"step": "artwork"}`, and
an artwork that cannot be made leaves the video playing without it
(`outputs["artwork_error"]`), never `failed`. The switch-in reaches the
film's search document through the search sync's trigger on `media.videos`, and
`confirm_indexed` (queue `indexing`) watches for it there, logging how long it took
(`media.indexed`) or that it did not come in time (`media.index_lagging`): indexing lag an
operator can see.

A job runs under a PostgreSQL advisory lock on the video (a concurrent duplicate does
nothing) and under an attempt counter (a redelivered task of a finished job does nothing;
after `transcode_attempts` starts it ends `failed`). A worker killed mid-job loses its lock
with its connection; the broker redelivers the task (visibility timeout) or `sweep` re-sends
it once the heartbeat is stale (a lost artwork step of a ready video alike).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import anyio
import structlog

from kinoteka.infra import db as db_port
from kinoteka.infra import storage as storage_port
from kinoteka.infra import tasks as tasks_port
from kinoteka.infra.db import Database
from kinoteka.infra.search import SearchIndex
from kinoteka.infra.storage import ObjectNotFound, ObjectStorage
from kinoteka.infra.tasks import TaskQueue, WorkerRuntime
from kinoteka.media import repository, service
from kinoteka.media.models import Video
from kinoteka.media.processing import (
    LadderRung,
    MediaError,
    ProbeResult,
    Rendition,
    plan_ladder,
    probe,
    render,
)
from kinoteka.media.service import Job, version_prefix
from kinoteka.media.settings import MediaSettings

log = structlog.get_logger(__name__)

TRANSCODE_TASK = "tasks.transcoding.transcode_video"
ARTWORK_TASK = "tasks.thumbnails.make_artwork"
INDEXING_TASK = "tasks.indexing.mark_film"
PROGRESS_STEP = 2.0  # percent between two progress writes
HEARTBEAT_SECONDS = 5.0
INDEXED_WITHIN = 120.0  # seconds the search sync may take before indexing counts as lagging
INDEX_POLL = 0.5
QUICK = "quick/"  # where a version's quick rung lives, under its prefix
HASH_READ = 8 * 1024 * 1024  # bytes read per step when hashing a source


@dataclass
class JobEnv:
    settings: MediaSettings
    db: Database
    storage: ObjectStorage
    queue: TaskQueue


@asynccontextmanager
async def open_env(runtime: WorkerRuntime) -> AsyncIterator[JobEnv]:
    """The stores a job uses, opened for one task run and closed after it."""
    settings = runtime.settings
    db = db_port.from_url(runtime.urls.database_url)
    storage = storage_port.from_url(
        runtime.urls.storage_url, secret=settings.secret_key.get_secret_value()
    )
    queue = tasks_port.from_url(
        runtime.urls.redis_url, visibility_timeout=settings.media.visibility_timeout
    )
    try:
        yield JobEnv(settings.media, db, storage, queue)
    finally:
        queue.close()
        await storage.close()
        await db.close()


async def send(queue: TaskQueue, name: str, kwargs: dict[str, Any], *, queue_name: str) -> None:
    await anyio.to_thread.run_sync(lambda: queue.send(name, kwargs, queue=queue_name))


async def send_transcode(queue: TaskQueue, video_id: uuid.UUID, version: int) -> None:
    kwargs = {"video_id": str(video_id), "version": version}
    await send(queue, TRANSCODE_TASK, kwargs, queue_name="transcoding")


# --- transcode ---------------------------------------------------------------------------


async def transcode(
    env: JobEnv,
    video_id: uuid.UUID,
    *,
    version: int | None = None,
    film_id: uuid.UUID | None = None,
    key: str | None = None,
    original_file_path: str | None = None,
) -> None:
    """Run (or skip, when done or taken) the transcode of `video_id`."""
    bound = log.bind(video_id=str(video_id))
    if film_id is not None:
        await _adopt(env, video_id, film_id, key, original_file_path)
    async with _job_lock(env.db, video_id) as held:
        if not held:
            bound.info("media.job_busy")  # another worker runs it right now
            return
        async with env.db.session() as session:
            job = await service.start_job(
                session, video_id, version=version, max_attempts=env.settings.transcode_attempts
            )
        if job is None:
            return
        await _attempt(env, job, _transcode_steps, step="transcode")


async def _adopt(
    env: JobEnv,
    video_id: uuid.UUID,
    film_id: uuid.UUID,
    key: str | None,
    original_file_path: str | None,
) -> None:
    """A task sent by hand (the seed deployment's call) for a video we have no row for yet."""
    async with env.db.session() as session:
        if await session.get(Video, video_id) is not None:
            return
        if key and await env.storage.exists(key):
            size = await env.storage.size(key)
            name = key.rsplit("/", 1)[-1]
        elif original_file_path and await anyio.Path(original_file_path).is_file():
            path = Path(original_file_path)
            name = path.name
            key = service.source_key(video_id, name)
            stored = await env.storage.put(key, _file_chunks(path))
            size = stored.size
        else:
            raise MediaSourceMissing(f"neither s3_key {key!r} nor {original_file_path!r} exists")
        await service.register_video(
            session, film_id=film_id, key=key, name=name, size=size, checksum=None,
            video_id=video_id,
        )  # fmt: skip


class MediaSourceMissing(Exception):
    pass


async def _transcode_steps(env: JobEnv, job: Job, workdir: Path, progress: Progress) -> None:
    source = await download(env.storage, job.source_key, workdir / _source_name(job))
    try:
        probed, checksum = await _probe_and_hash(source, hashed=job.checksum is None)
        rungs = plan_ladder(probed, heights=tuple(env.settings.ladder_heights))
    except MediaError as error:
        raise JobRefused(str(error)) from error
    qualities = [rung.name for rung in rungs]
    async with env.db.session() as session:
        playing = await service.record_probe(
            session, job, duration=probed.duration, width=probed.width, height=probed.height,
            qualities=qualities, checksum=checksum,
        )  # fmt: skip
    if checksum is not None:
        log.info("media.checksum_taken", video_id=str(job.video_id), sha256=checksum)
    prefix = version_prefix(job.video_id, job.version)
    if playing:  # its quick rung plays (an earlier attempt switched it in): keep it on failure
        progress.keep = prefix + QUICK
    elif env.settings.quick_rung and len(rungs) > 1:
        await _quick_rung(env, job, source, probed, rungs[-1], workdir, progress)
    rendition, size = await _render_and_store(
        env, source, probed, rungs, workdir / "out", prefix, progress.update
    )
    outputs = {"hls": rendition.hls_master, "dash": rendition.dash_manifest}
    async with env.db.session() as session:
        previous = await service.switch_in(session, job, outputs, size)
    # From here the version plays: a failure must not remove its outputs, and what follows is
    # retried by the sweep (the artwork step's heartbeat goes stale) rather than by this job.
    progress.keep_outputs = True
    log.info("media.rendered", video_id=str(job.video_id), rungs=qualities, bytes=size)
    try:
        if previous is not None and previous != job.version:
            await delete_prefix(env.storage, version_prefix(job.video_id, previous))
        kwargs = {"video_id": str(job.video_id), "version": job.version}
        await send(env.queue, ARTWORK_TASK, kwargs, queue_name="thumbnails")
        kwargs = {"film_id": str(job.film_id), "video_id": str(job.video_id)}
        await send(env.queue, INDEXING_TASK, kwargs, queue_name="indexing")
    except Exception:
        log.warning("media.after_switch_in_failed", video_id=str(job.video_id), exc_info=True)


async def _probe_and_hash(source: Path, *, hashed: bool) -> tuple[ProbeResult, str | None]:
    """ffprobe's view of the downloaded source and, when `hashed`, its sha256 (None when
    not), read in a thread alongside the probe: an upload that declared no sha256 is not
    hashed on the request path, so its checksum is taken here, the first read of the file."""
    hashing = (
        asyncio.ensure_future(anyio.to_thread.run_sync(file_sha256, source)) if hashed else None
    )
    try:
        probed = await anyio.to_thread.run_sync(probe, source)
    except BaseException:
        if hashing is not None:  # the thread ends before the job's directory goes
            with contextlib.suppress(Exception):
                await asyncio.shield(hashing)
        raise
    return probed, (await hashing if hashing is not None else None)


def file_sha256(path: Path) -> str:
    """The sha256 (hex) of a file, read in `HASH_READ` steps."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while data := file.read(HASH_READ):
            digest.update(data)
    return digest.hexdigest()


async def _quick_rung(
    env: JobEnv,
    job: Job,
    source: Path,
    probed: ProbeResult,
    rung: LadderRung,
    workdir: Path,
    progress: Progress,
) -> None:
    """Render the lowest rung alone (a small share of the ladder's work) under the version's
    `quick/` and let it play while the whole ladder renders, when nothing plays yet."""
    prefix = version_prefix(job.video_id, job.version) + QUICK
    rendition, size = await _render_and_store(
        env, source, probed, [rung], workdir / "quick", prefix,
        lambda _: progress.update(0.0),  # cancellable; the ladder's % counts
    )  # fmt: skip
    outputs = {"hls": QUICK + rendition.hls_master, "dash": QUICK + rendition.dash_manifest}
    async with env.db.session() as session:
        switched = await service.play_quick(session, job, outputs, size, rung.name)
    if switched:
        progress.keep = prefix
        log.info("media.quick_rung_rendered", video_id=str(job.video_id), rung=rung.name)
    else:
        await delete_prefix(env.storage, prefix)


async def _render_and_store(
    env: JobEnv,
    source: Path,
    probed: ProbeResult,
    rungs: Sequence[LadderRung],
    out: Path,
    prefix: str,
    on_progress: Callable[[float], None],
) -> tuple[Rendition, int]:
    """Render `rungs` in one ffmpeg pass into `out` (a new directory), then store the files
    under `prefix`; the rendition and the bytes stored. A source ffmpeg cannot render refuses
    the job."""
    await anyio.Path(out).mkdir()
    try:
        rendition = await anyio.to_thread.run_sync(
            lambda: render(
                source,
                out,
                probed,
                rungs,
                segment_seconds=env.settings.segment_seconds,
                preset=env.settings.preset,
                on_progress=on_progress,
            )
        )
    except MediaError as error:
        raise JobRefused(str(error)) from error
    size = await upload_tree(env.storage, out, rendition.files, prefix)
    return rendition, size


# --- artwork ------------------------------------------------------------------------------


async def artwork(env: JobEnv, video_id: uuid.UUID, version: int) -> None:
    """Poster, sprite and previews for a switched-in version, added to it when made."""
    from kinoteka.media.processing import make_artwork

    async with _job_lock(env.db, video_id) as held:
        if not held:
            return
        async with env.db.session() as session:
            job = await service.start_artwork(
                session, video_id, version, max_attempts=env.settings.transcode_attempts
            )
        if job is None:
            return

        async def steps(env: JobEnv, job: Job, workdir: Path, progress: Progress) -> None:
            source = await download(env.storage, job.source_key, workdir / _source_name(job))
            out = workdir / "art"
            out.mkdir()
            try:
                probed = await anyio.to_thread.run_sync(probe, source)
                art = await anyio.to_thread.run_sync(
                    lambda: make_artwork(source, out, probed, on_progress=progress.update)
                )
            except MediaError as error:
                raise JobRefused(str(error)) from error
            files = [p.relative_to(out) for p in sorted(out.rglob("*")) if p.is_file()]
            prefix = version_prefix(job.video_id, job.version)
            size = await upload_tree(env.storage, out, files, prefix)
            described = {
                "poster": dict(art.poster), "sprite": art.sprite, "sprite_vtt": art.sprite_vtt,
                "preview_webp": art.preview_webp, "preview_gif": art.preview_gif,
            }  # fmt: skip
            async with env.db.session() as session:
                await service.add_artwork(session, job, described, size)

        await _attempt(env, job, steps, step="artwork")


async def confirm_indexed(
    index: SearchIndex,
    movies: str,
    film_id: uuid.UUID,
    video_id: uuid.UUID,
    *,
    within: float = INDEXED_WITHIN,
    poll: float = INDEX_POLL,
) -> bool:
    """Whether the film's search document shows a video within `within` seconds (polled
    every `poll`); logs `media.indexed` with the wait, or warns `media.index_lagging`. The
    sync does the indexing; this only watches it, so a lagging sync is not retried here."""
    started = time.monotonic()
    context = {"film_id": str(film_id), "video_id": str(video_id)}
    while True:
        document = await index.get(movies, str(film_id))
        waited = round(time.monotonic() - started, 3)
        if document is not None and document.get("has_video") is True:
            log.info("media.indexed", waited=waited, **context)
            return True
        if waited >= within:
            log.warning(
                "media.index_lagging", waited=waited, film_found=document is not None, **context
            )
            return False
        await asyncio.sleep(poll)


# --- one attempt, its heartbeat and its cleanup ------------------------------------------


class JobRefused(Exception):
    """The source itself is unusable (not a video, truncated, …): retrying will not help."""


class Progress:
    """Progress reported by ffmpeg's thread, written to the video by the heartbeat."""

    def __init__(self) -> None:
        self.percent = 0.0
        self.cancelled = threading.Event()
        self.keep_outputs = False
        """Set once the version is switched in: its outputs play and outlive any failure."""
        self.keep: str | None = None
        """A part of the version's prefix that plays already (its quick rung): a failure
        removes the rest of what the attempt wrote, never that."""

    def update(self, fraction: float) -> None:
        if self.cancelled.is_set():
            raise JobCancelled("the job was cancelled")  # stops ffmpeg (the runner kills it)
        self.percent = max(self.percent, min(fraction, 1.0) * 100)


class JobCancelled(Exception):
    pass


Steps = Callable[[JobEnv, Job, Path, Progress], Awaitable[None]]
Step = Literal["transcode", "artwork"]
RETRY: dict[Step, tuple[str, str]] = {
    "transcode": (TRANSCODE_TASK, "transcoding"),
    "artwork": (ARTWORK_TASK, "thumbnails"),
}


async def _attempt(env: JobEnv, job: Job, steps: Steps, *, step: Step) -> None:
    """Run one attempt; a refused source fails the job (the artwork step: gives up the
    artwork, the video plays on), any other error sends the step's task again (the next start
    decides between another attempt and giving up)."""
    bound = log.bind(video_id=str(job.video_id), version=job.version, attempt=job.attempt)
    progress = Progress()
    # The artwork step works on a version that plays: it never removes the version's outputs.
    progress.keep_outputs = step == "artwork"
    prefix = version_prefix(job.video_id, job.version)
    stop = asyncio.Event()
    heartbeat = asyncio.create_task(
        _heartbeat(env, job, progress, stop, store_progress=step == "transcode")
    )
    try:
        with tempfile.TemporaryDirectory(prefix="kinoteka-media-") as workdir:
            await steps(env, job, Path(workdir), progress)
    except JobRefused as error:
        bound.warning("media.job_refused", step=step, reason=str(error))
        async with env.db.session() as session:
            if step == "artwork":
                await service.fail_artwork(session, job, str(error))
            else:
                await service.fail_job(session, job, str(error))
        if not progress.keep_outputs:
            await delete_prefix(env.storage, prefix, keep=progress.keep)
    except BaseException as error:
        progress.cancelled.set()
        reason = f"{type(error).__name__}: {error}"[:500]
        bound.exception("media.job_error", step=step, reason=reason)
        if not progress.keep_outputs:
            await asyncio.shield(delete_prefix(env.storage, prefix, keep=progress.keep))
        if isinstance(error, Exception):
            async with env.db.session() as session:
                await service.note_error(session, job, reason)
            task, queue_name = RETRY[step]
            kwargs = {"video_id": str(job.video_id), "version": job.version}
            await send(env.queue, task, kwargs, queue_name=queue_name)
            return
        raise
    finally:
        # Stopped between two beats, never cancelled inside one (a query cut in half).
        stop.set()
        await asyncio.gather(heartbeat, return_exceptions=True)


async def _heartbeat(
    env: JobEnv, job: Job, progress: Progress, stop: asyncio.Event, *, store_progress: bool
) -> None:
    written = -PROGRESS_STEP
    last_beat = time.monotonic()
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)
        if stop.is_set():
            return
        moved = store_progress and progress.percent - written >= PROGRESS_STEP
        due = time.monotonic() - last_beat >= HEARTBEAT_SECONDS
        if not (moved or due):
            continue
        try:
            async with env.db.session() as session:
                await service.beat(session, job, progress.percent if moved else None)
        except Exception:  # a missed beat is retried at the next tick, the job goes on
            log.warning("media.heartbeat_failed", video_id=str(job.video_id), exc_info=True)
            continue
        if moved:
            written = progress.percent
        last_beat = time.monotonic()


@asynccontextmanager
async def _job_lock(db: Database, video_id: uuid.UUID) -> AsyncIterator[bool]:
    async with db.engine.connect() as connection:
        held = await repository.try_job_lock(connection, video_id)
        await connection.commit()
        try:
            yield held
        finally:
            if held:
                await repository.release_job_lock(connection, video_id)
                await connection.commit()


# --- storage helpers ----------------------------------------------------------------------


def _source_name(job: Job) -> str:
    return "source." + (job.source_key.rsplit(".", 1)[-1] if "." in job.source_key else "bin")


async def _file_chunks(path: Path, chunk: int = 4 * 1024 * 1024) -> AsyncIterator[bytes]:
    async with await anyio.open_file(path, "rb") as file:
        while data := await file.read(chunk):
            yield data


async def download(storage: ObjectStorage, key: str, target: Path) -> Path:
    try:
        async with await anyio.open_file(target, "wb") as file:
            async for chunk in storage.get(key):
                await file.write(chunk)
    except ObjectNotFound:
        raise JobRefused(f"the source file {key} is missing from storage") from None
    return target


async def upload_tree(
    storage: ObjectStorage, root: Path, files: Sequence[Path], prefix: str
) -> int:
    """Hand `files` (relative to `root`, which loses them) to storage under `prefix`: renamed
    into a local store on the same filesystem, streamed up otherwise; the bytes stored."""
    total = 0
    for relative in files:
        stored = await storage.adopt(
            root / relative, prefix + relative.as_posix(),
            content_type=_content_type(relative.name),
        )  # fmt: skip
        total += stored.size
    return total


async def delete_prefix(storage: ObjectStorage, prefix: str, *, keep: str | None = None) -> None:
    """Remove whatever a failed version wrote (keys recorded by the storage listing), except
    the keys under `keep` (a quick rung that plays)."""
    keys = [key async for key in storage.list_keys(prefix)]
    keys = [key for key in keys if keep is None or not key.startswith(keep)]
    for key in keys:
        await storage.delete(key)
    if keys:
        log.info("media.outputs_removed", prefix=prefix, objects=len(keys), kept=keep)


CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".mpd": "application/dash+xml",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".vtt": "text/vtt",
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".jpg": "image/jpeg",
    ".png": "image/png",
}


def _content_type(name: str) -> str | None:
    suffix = name[name.rfind(".") :] if "." in name else ""
    return CONTENT_TYPES.get(suffix.lower())


# --- the safety net ----------------------------------------------------------------------


async def sweep(env: JobEnv) -> int:
    """Re-send the jobs whose heartbeat is stale (their worker died); returns how many."""
    async with env.db.session() as session:
        stale = await service.stale_jobs(session, env.settings.stale_after)
        found = [(v.id, v.version, v.pending.get("step")) for v in stale]
        for video in stale:  # the next sweep waits a full period before sending it again
            video.heartbeat_at = service.utcnow()
    for video_id, version, step in found:
        log.warning("media.job_resent", video_id=str(video_id), version=version, step=step)
        if step == "artwork":
            kwargs = {"video_id": str(video_id), "version": version}
            await send(env.queue, ARTWORK_TASK, kwargs, queue_name="thumbnails")
        else:
            await send_transcode(env.queue, video_id, version)
    return len(found)
