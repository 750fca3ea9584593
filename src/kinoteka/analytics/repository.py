"""PostgreSQL queries of the analytics context: refused events, the progress read model."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from kinoteka.analytics.models import FailedEvent, WatchProgress
from kinoteka.analytics.schemas import BusRecord


async def add_failed_events(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(FailedEvent), list(rows))


async def count_failed_events(session: AsyncSession, user_id: uuid.UUID | None = None) -> int:
    query = select(func.count()).select_from(FailedEvent)
    if user_id is not None:
        query = query.where(FailedEvent.user_id == user_id)
    return int((await session.execute(query)).scalar_one())


async def upsert_progress(session: AsyncSession, records: Sequence[BusRecord]) -> None:
    """Keep the latest progress (by client time) per account and film."""
    latest: dict[tuple[uuid.UUID, uuid.UUID], BusRecord] = {}
    for record in records:
        if record.user_id is None or record.film_id is None or record.client_at is None:
            continue
        key = (record.user_id, record.film_id)
        known = latest.get(key)
        if known is None or (known.client_at is not None and record.client_at >= known.client_at):
            latest[key] = record
    if not latest:
        return
    statement = pg_insert(WatchProgress).values(
        [
            {
                "user_id": r.user_id,
                "film_id": r.film_id,
                "position": r.position,
                "duration": r.duration,
                "watched_at": r.client_at,
            }
            for r in latest.values()
        ]
    )
    excluded = statement.excluded
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[WatchProgress.user_id, WatchProgress.film_id],
            set_={
                "position": excluded.position,
                "duration": excluded.duration,
                "watched_at": excluded.watched_at,
            },
            where=excluded.watched_at >= WatchProgress.watched_at,
        )
    )


async def latest_progress(
    session: AsyncSession, user_id: uuid.UUID, film_id: uuid.UUID
) -> WatchProgress | None:
    return (
        await session.execute(
            select(WatchProgress).where(
                WatchProgress.user_id == user_id, WatchProgress.film_id == film_id
            )
        )
    ).scalar_one_or_none()


async def recent_progress(
    session: AsyncSession, user_id: uuid.UUID, limit: int
) -> list[WatchProgress]:
    rows = await session.execute(
        select(WatchProgress)
        .where(WatchProgress.user_id == user_id)
        .order_by(WatchProgress.watched_at.desc())
        .limit(limit)
    )
    return list(rows.scalars())


async def forget_account(session: AsyncSession, user_id: uuid.UUID) -> None:
    await session.execute(delete(WatchProgress).where(WatchProgress.user_id == user_id))
    await session.execute(delete(FailedEvent).where(FailedEvent.user_id == user_id))
