"""The media use cases over the database: the video state machine, jobs, playback reads.

Services flush, never commit: the request or the task owns the transaction.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from kinoteka.media import repository
from kinoteka.media.errors import InvalidTransition, NotPlayable, VideoNotFound
from kinoteka.media.models import TRANSITIONS, Video, VideoStatus

log = structlog.get_logger(__name__)

IN_PROGRESS = frozenset({VideoStatus.UPLOADED, VideoStatus.PROBING, VideoStatus.TRANSCODING})


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def version_prefix(video_id: uuid.UUID, version: int) -> str:
    """Where a version's outputs live: `media/{video_id}/v{n}/`."""
    return f"media/{video_id}/v{version}/"


def source_key(video_id: uuid.UUID, filename: str) -> str:
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"media/{video_id}/source/original.{extension}"


def transition(video: Video, status: VideoStatus, reason: str | None = None) -> None:
    """Move `video` to `status`, recording when (and why, for `failed`)."""
    if status not in TRANSITIONS[video.status]:
        raise InvalidTransition(f"a video cannot go from {video.status} to {status}")
    entry: dict[str, Any] = {"status": str(status), "at": utcnow().isoformat()}
    if reason is not None:
        entry["reason"] = reason
    video.transitions = [*video.transitions, entry]
    video.status = status
    video.failure_reason = reason if status is VideoStatus.FAILED else None
    log.info("media.status", video_id=str(video.id), status=str(status), reason=reason)


async def register_video(
    session: AsyncSession,
    *,
    film_id: uuid.UUID,
    key: str,
    name: str,
    size: int,
    checksum: str | None,
    video_id: uuid.UUID | None = None,
) -> Video:
    """A new video in `uploaded`, its source already in storage under `key`."""
    video = Video(
        id=video_id or uuid.uuid4(),
        film_id=film_id,
        status=VideoStatus.UPLOADED,
        transitions=[{"status": str(VideoStatus.UPLOADED), "at": utcnow().isoformat()}],
        attempt=0,
        progress=0.0,
        source_key=key,
        source_name=name,
        source_size=size,
        checksum=checksum,
        version=1,
        qualities=[],
        outputs_size=0,
        outputs={},
        pending={},
    )
    session.add(video)
    await session.flush()
    log.info("media.registered", video_id=str(video.id), film_id=str(film_id), size=size)
    return video


async def get_video(session: AsyncSession, video_id: uuid.UUID) -> Video:
    video = await session.get(Video, video_id)
    if video is None:
        raise VideoNotFound(f"no video {video_id}")
    return video


@dataclass(frozen=True)
class Job:
    """A job a worker took: which video, which version it writes, which attempt this is."""

    video_id: uuid.UUID
    film_id: uuid.UUID
    version: int
    attempt: int
    source_key: str
    source_name: str
    checksum: str | None
    """The source's sha256 when known (declared by the uploader and checked); None until the
    worker takes it as it first reads the file."""


async def start_job(
    session: AsyncSession, video_id: uuid.UUID, *, version: int | None, max_attempts: int
) -> Job | None:
    """Take the video's job for one attempt, or None when there is nothing (left) to do.

    A redelivered task for a job already done (or for an older version) is a no-op; a job
    started `max_attempts` times ends `failed`.
    """
    video = await repository.lock_video(session, video_id)
    if video is None:
        raise VideoNotFound(f"no video {video_id}")
    bound = log.bind(video_id=str(video_id), version=video.version)
    if (
        video.status not in IN_PROGRESS
        or (version is not None and version != video.version)
        or video.pending.get("step") == "artwork"  # rendered: the artwork task is under way
    ):
        bound.info("media.job_skipped", status=str(video.status), asked_version=version)
        return None
    if video.attempt >= max_attempts:
        last = video.failure_reason or "the worker was lost"
        transition(video, VideoStatus.FAILED, f"gave up after {video.attempt} attempts: {last}")
        await session.flush()
        return None
    video.attempt += 1
    video.progress = 0.0
    video.heartbeat_at = utcnow()
    video.pending = {"step": "transcode"}
    transition(video, VideoStatus.PROBING)
    await session.flush()
    bound.info("media.job_started", attempt=video.attempt)
    return _job(video)


async def start_artwork(
    session: AsyncSession, video_id: uuid.UUID, version: int, *, max_attempts: int
) -> Job | None:
    """Take the artwork step of a switched-in version, or None when it is not due (any more).

    Artwork that keeps failing is given up after `max_attempts` starts: the video stays
    `ready` (it plays without a poster, seek thumbnails or previews) with the reason kept in
    `outputs["artwork_error"]`.
    """
    video = await repository.lock_video(session, video_id)
    if (
        video is None
        or video.version != version
        or video.current_version != version
        or video.pending.get("step") != "artwork"
    ):
        log.info("media.artwork_skipped", video_id=str(video_id), version=version)
        return None
    if video.attempt >= max_attempts:
        last = video.pending.get("error") or "the worker was lost"
        give_up_artwork(video, f"gave up after {video.attempt} attempts: {last}")
        await session.flush()
        return None
    video.attempt += 1
    video.heartbeat_at = utcnow()
    await session.flush()
    return _job(video)


def _job(video: Video) -> Job:
    return Job(video.id, video.film_id, video.version, video.attempt, video.source_key,
               video.source_name, video.checksum)  # fmt: skip


async def record_probe(
    session: AsyncSession,
    job: Job,
    *,
    duration: float,
    width: int,
    height: int,
    qualities: Sequence[str],
    checksum: str | None = None,
) -> bool:
    """What the probe found, with the source's sha256 when the worker took it (kept only on a
    video that has none); returns whether the job's own version already plays (its quick
    rung, switched in by an earlier attempt)."""
    video = await _job_video(session, job)
    if checksum is not None and video.checksum is None:
        video.checksum = checksum
    video.duration = duration
    video.width = width
    video.height = height
    video.pending = {**video.pending, "qualities": list(qualities)}
    video.heartbeat_at = utcnow()
    transition(video, VideoStatus.TRANSCODING)
    await session.flush()
    return video.current_version == job.version


async def play_quick(
    session: AsyncSession, job: Job, outputs: dict[str, Any], size: int, quality: str
) -> bool:
    """Let the lowest rung, rendered alone under the version's `quick/`, play while the
    whole ladder renders: the version is switched in with that one quality and the video
    stays `transcoding`. Only a video with nothing playing gets it (a re-transcode keeps
    playing its previous version meanwhile); whether it was switched in."""
    video = await _job_video(session, job)
    if video.current_version is not None or video.version != job.version:
        return False
    video.outputs = dict(outputs)
    video.outputs_size = size
    video.qualities = [quality]
    video.current_version = job.version
    video.output_prefix = version_prefix(video.id, job.version)
    video.heartbeat_at = utcnow()
    await session.flush()
    log.info("media.quick_rung_playable", video_id=str(video.id), version=job.version,
             quality=quality)  # fmt: skip
    return True


async def beat(session: AsyncSession, job: Job, progress: float | None = None) -> None:
    """The job is alive; optionally its progress (percent)."""
    video = await session.get(Video, job.video_id, populate_existing=True)
    if video is None:
        return
    video.heartbeat_at = utcnow()
    if progress is not None:
        video.progress = max(0.0, min(100.0, round(progress, 1)))
    await session.flush()


async def switch_in(
    session: AsyncSession, job: Job, outputs: dict[str, Any], size: int
) -> int | None:
    """Make the job's rendered ladder the one played (`ready`); returns the version it replaced.

    The manifests and every rung are in storage under the version's prefix, so it plays from
    now on (a quick rung that played meanwhile stays under `quick/`, for the players that
    started on it, and goes with the version); its artwork (poster, seek sprite, previews) is
    still to come, marked by `pending = {"step": "artwork"}` on the ready video (a new job
    step: its attempts count from zero) and added by `add_artwork`.
    """
    video = await _job_video(session, job)
    previous = video.current_version
    quick = video.current_version == job.version  # its quick rung stays beside the ladder
    video.outputs = dict(outputs)
    video.outputs_size = size + (video.outputs_size if quick else 0)
    video.qualities = list(video.pending.get("qualities", []))
    video.current_version = job.version
    video.output_prefix = version_prefix(video.id, job.version)
    video.pending = {"step": "artwork"}
    video.attempt = 0
    video.progress = 100.0
    video.heartbeat_at = utcnow()
    transition(video, VideoStatus.READY)
    await session.flush()
    log.info("media.switched_in", video_id=str(video.id), version=job.version, previous=previous)
    return previous


async def add_artwork(
    session: AsyncSession, job: Job, artwork: dict[str, Any], artwork_size: int
) -> bool:
    """Add the artwork to the version it was made for, if that version still plays and
    still waits for it; whether it was added."""
    video = await _job_video(session, job)
    if video.current_version != job.version or video.pending.get("step") != "artwork":
        log.info("media.artwork_dropped", video_id=str(video.id), version=job.version)
        return False
    video.outputs = {**video.outputs, "artwork": artwork}
    video.outputs_size += artwork_size
    video.pending = {}
    await session.flush()
    log.info("media.artwork_added", video_id=str(video.id), version=job.version)
    return True


def give_up_artwork(video: Video, reason: str) -> None:
    """The artwork cannot be made: the video keeps playing without it, the reason is kept."""
    video.pending = {}
    video.outputs = {**video.outputs, "artwork_error": reason}
    log.warning("media.artwork_failed", video_id=str(video.id), reason=reason)


async def fail_artwork(session: AsyncSession, job: Job, reason: str) -> None:
    video = await _job_video(session, job)
    if video.current_version == job.version and video.pending.get("step") == "artwork":
        give_up_artwork(video, reason)
        await session.flush()


async def fail_job(session: AsyncSession, job: Job, reason: str) -> None:
    video = await _job_video(session, job)
    video.pending = {}
    transition(video, VideoStatus.FAILED, reason)
    await session.flush()


async def note_error(session: AsyncSession, job: Job, reason: str) -> None:
    """An attempt broke on something that may pass (storage down): keep the reason, retry.
    An artwork step keeps it in `pending` (its video is ready, not failing)."""
    video = await session.get(Video, job.video_id, populate_existing=True)
    if video is None:
        return
    if video.pending.get("step") == "artwork":
        video.pending = {**video.pending, "error": reason}
    else:
        video.failure_reason = reason
    await session.flush()


async def request_transcode(session: AsyncSession, video_id: uuid.UUID) -> Video:
    """Start a new version of a ready or failed video; the current one plays meanwhile."""
    video = await repository.lock_video(session, video_id)
    if video is None:
        raise VideoNotFound(f"no video {video_id}")
    if video.status in IN_PROGRESS:
        return video
    transition(video, VideoStatus.PROBING)
    video.version += 1
    video.pending = {}  # artwork still due for the playing version is not made any more
    video.attempt = 0
    video.progress = 0.0
    video.heartbeat_at = None
    await session.flush()
    return video


async def _job_video(session: AsyncSession, job: Job) -> Video:
    video = await repository.lock_video(session, job.video_id)
    if video is None:
        raise VideoNotFound(f"no video {job.video_id}")
    return video


async def stale_jobs(session: AsyncSession, stale_after: float) -> list[Video]:
    return await repository.stale_jobs(session, utcnow() - dt.timedelta(seconds=stale_after))


@dataclass(frozen=True)
class FilmVideo:
    """What the rest of the platform may know of a film's playable video."""

    film_id: uuid.UUID
    video_id: uuid.UUID
    duration: float | None
    qualities: list[str]


async def film_videos(
    session: AsyncSession, film_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, FilmVideo]:
    """The playable video of each film that has one (for the search documents: `has_video`,
    `duration`, `qualities`)."""
    found: dict[uuid.UUID, FilmVideo] = {}
    for video in await repository.playable_videos(session, film_ids):
        if video.film_id not in found:
            found[video.film_id] = FilmVideo(
                video.film_id, video.id, video.duration, list(video.qualities)
            )
    return found


async def playable_video(session: AsyncSession, film_id: uuid.UUID) -> Video:
    videos = await repository.playable_videos(session, [film_id])
    if not videos:
        raise NotPlayable(f"film {film_id} has no playable video")
    return videos[0]


async def latest_video(session: AsyncSession, film_id: uuid.UUID) -> Video | None:
    videos = await repository.videos_of_film(session, film_id)
    return videos[0] if videos else None
