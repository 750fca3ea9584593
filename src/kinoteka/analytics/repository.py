"""PostgreSQL queries of the analytics context: refused events."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from kinoteka.analytics.models import FailedEvent


async def add_failed_events(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(FailedEvent), list(rows))


async def count_failed_events(session: AsyncSession, user_id: uuid.UUID | None = None) -> int:
    query = select(func.count()).select_from(FailedEvent)
    if user_id is not None:
        query = query.where(FailedEvent.user_id == user_id)
    return int((await session.execute(query)).scalar_one())


async def forget_account(session: AsyncSession, user_id: uuid.UUID) -> None:
    await session.execute(delete(FailedEvent).where(FailedEvent.user_id == user_id))
