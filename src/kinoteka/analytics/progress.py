""" "Continue watching": each viewer's latest `progress` per film, kept in PostgreSQL.

The collector upserts the read model (`analytics.watch_progress`) in the request that takes the
events, so a resume position is exact the moment the player has reported it, without waiting
for the loader; ClickHouse keeps the full history for the dashboards.
"""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from kinoteka.analytics import repository

FINISHED_SHARE = 0.95  # a film watched this far starts again from the beginning


class ResumePoint(BaseModel):
    film_id: uuid.UUID
    position: float
    duration: float | None
    watched_at: dt.datetime


def _resume_at(position: float, duration: float | None) -> float:
    if duration and duration > 0 and position >= FINISHED_SHARE * duration:
        return 0.0
    return position


async def resume_position(session: AsyncSession, user_id: uuid.UUID, film_id: uuid.UUID) -> float:
    """Where to start the film: the latest progress, or 0 when none or it was finished."""
    row = await repository.latest_progress(session, user_id, film_id)
    return 0.0 if row is None else _resume_at(row.position, row.duration)


async def continue_watching(
    session: AsyncSession, user_id: uuid.UUID, *, limit: int = 20
) -> list[ResumePoint]:
    """Films with saved progress and not finished, most recently watched first."""
    rows = await repository.recent_progress(session, user_id, limit * 2)
    points = [
        ResumePoint(
            film_id=row.film_id,
            position=row.position,
            duration=row.duration,
            watched_at=row.watched_at,
        )
        for row in rows
        if _resume_at(row.position, row.duration) > 0
    ]
    return points[:limit]
