"""The media context's queries."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from kinoteka.media.models import Upload, Video, VideoStatus


async def lock_video(session: AsyncSession, video_id: uuid.UUID) -> Video | None:
    """The video, its row locked until the transaction ends."""
    return await session.scalar(
        select(Video)
        .where(Video.id == video_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def playable_videos(session: AsyncSession, film_ids: Sequence[uuid.UUID]) -> list[Video]:
    """Videos with a switched-in version, newest first (the first per film is the one played)."""
    statement = (
        select(Video)
        .where(Video.film_id.in_(film_ids), Video.current_version.is_not(None))
        .order_by(Video.film_id, Video.created.desc())
    )
    return list(await session.scalars(statement))


async def videos_of_film(session: AsyncSession, film_id: uuid.UUID) -> list[Video]:
    statement = select(Video).where(Video.film_id == film_id).order_by(Video.created.desc())
    return list(await session.scalars(statement))


async def stale_jobs(session: AsyncSession, before: dt.datetime) -> list[Video]:
    """Jobs in progress whose worker has not beaten since `before` (or never started): the
    transcode of a video on its way to `ready`, or the artwork still due for a ready one."""
    statement = select(Video).where(
        Video.status.in_([VideoStatus.UPLOADED, VideoStatus.PROBING, VideoStatus.TRANSCODING])
        | (Video.pending["step"].astext == "artwork"),
        (Video.heartbeat_at.is_(None) & (Video.modified < before)) | (Video.heartbeat_at < before),
    )
    return list(await session.scalars(statement))


async def lock_upload(session: AsyncSession, upload_id: uuid.UUID) -> Upload | None:
    """The upload, locked; None when absent. Raises if another request holds it (NOWAIT)."""
    return await session.scalar(
        select(Upload).where(Upload.id == upload_id).with_for_update(nowait=True)
    )


async def expired_uploads(session: AsyncSession, now: dt.datetime) -> list[Upload]:
    statement = select(Upload).where(Upload.expires < now, Upload.video_id.is_(None))
    return list(await session.scalars(statement))


def job_lock_key(video_id: uuid.UUID) -> int:
    """A 63-bit advisory lock key for a video's job."""
    return int.from_bytes(video_id.bytes[:8], "big") & 0x7FFF_FFFF_FFFF_FFFF


async def try_job_lock(connection: AsyncConnection, video_id: uuid.UUID) -> bool:
    """Take the session-level advisory lock of a video's job on `connection`, if free."""
    held = await connection.scalar(
        text("SELECT pg_try_advisory_lock(:key)"), {"key": job_lock_key(video_id)}
    )
    return bool(held)


async def release_job_lock(connection: AsyncConnection, video_id: uuid.UUID) -> None:
    await connection.execute(
        text("SELECT pg_advisory_unlock(:key)"), {"key": job_lock_key(video_id)}
    )
