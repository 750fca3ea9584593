"""The media Celery tasks: thin, they parse ids and run the job in `jobs.py`.

`tasks.transcoding.transcode_video` keeps the seed deployment's call working as written:
`send_task('tasks.transcoding.transcode_video', kwargs={'video_id', 'movie_id', 's3_key',
'original_file_path'}, queue='transcoding')`.
"""

from __future__ import annotations

import asyncio
import uuid

import structlog

from kinoteka.infra.tasks import WorkerRuntime, task
from kinoteka.media import jobs
from kinoteka.search import open_search_index

TRANSCODE_LIMIT = 6 * 3600
ARTWORK_LIMIT = 3600
INDEXING_LIMIT = int(jobs.INDEXED_WITHIN) + 60


@task(jobs.TRANSCODE_TASK, queue="transcoding", soft_time_limit=TRANSCODE_LIMIT)
def transcode_video(
    runtime: WorkerRuntime,
    video_id: str,
    movie_id: str | None = None,
    s3_key: str | None = None,
    original_file_path: str | None = None,
    version: int | None = None,
) -> None:
    """Probe and transcode a video's source (registering it first when sent by hand)."""

    async def run() -> None:
        async with jobs.open_env(runtime) as env:
            await jobs.transcode(
                env,
                uuid.UUID(video_id),
                version=version,
                film_id=uuid.UUID(movie_id) if movie_id else None,
                key=s3_key,
                original_file_path=original_file_path,
            )

    with structlog.contextvars.bound_contextvars(video_id=video_id):
        asyncio.run(run())


@task(jobs.ARTWORK_TASK, queue="thumbnails", soft_time_limit=ARTWORK_LIMIT)
def make_artwork(runtime: WorkerRuntime, video_id: str, version: int) -> None:
    """Poster, seek sprite and previews of a rendered version, then its switch-in."""

    async def run() -> None:
        async with jobs.open_env(runtime) as env:
            await jobs.artwork(env, uuid.UUID(video_id), version)

    with structlog.contextvars.bound_contextvars(video_id=video_id):
        asyncio.run(run())


@task(jobs.INDEXING_TASK, queue="indexing", soft_time_limit=INDEXING_LIMIT)
def mark_film(runtime: WorkerRuntime, film_id: str, video_id: str) -> None:
    """A film gained a playable video: watch it reach the film's search document.

    The search sync indexes it (its trigger on `media.videos` queued the film when the
    version was switched in); this task logs `media.indexed` with how long that took, or
    `media.index_lagging` past `jobs.INDEXED_WITHIN` seconds, so indexing lag shows.
    """

    async def run() -> None:
        settings = runtime.settings.search
        index = open_search_index(runtime.urls.search_url, settings)
        try:
            await jobs.confirm_indexed(
                index, settings.indexes.movies, uuid.UUID(film_id), uuid.UUID(video_id)
            )
        finally:
            await index.close()

    with structlog.contextvars.bound_contextvars(video_id=video_id):
        asyncio.run(run())
