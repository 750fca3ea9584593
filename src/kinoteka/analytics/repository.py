"""PostgreSQL queries of the analytics context: refused events (the collector's and the
loader's)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import orjson
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from kinoteka.analytics.loader import RefusedRow, RefusedSink
from kinoteka.analytics.models import FailedEvent

FAILED_EVENT_NAMESPACE = uuid.UUID("0b6f3c1e-5d0a-4c55-8f1e-2a7d9c4b6e13")


def failed_event_key(
    user_id: uuid.UUID | None, playback_id: uuid.UUID | None, reason: str, payload: Any
) -> uuid.UUID:
    """The `dedup_key` of a refused event: the same viewer, playback, reason and event as
    sent (`payload`, as `jsonable` gave it) name the same refusal, which is kept once; a
    batch resent after a 503 gives the same keys, as it gives the same derived event ids."""
    content = orjson.dumps(
        [str(user_id), str(playback_id), reason, payload], option=orjson.OPT_SORT_KEYS
    )
    return uuid.uuid5(FAILED_EVENT_NAMESPACE, content.decode())


async def add_failed_events(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Keep `rows` (each with its `failed_event_key`); a row whose key is kept already is
    left out."""
    if rows:
        await session.execute(
            insert(FailedEvent).on_conflict_do_nothing(index_elements=[FailedEvent.dedup_key]),
            list(rows),
        )


async def count_failed_events(session: AsyncSession, user_id: uuid.UUID | None = None) -> int:
    query = select(func.count()).select_from(FailedEvent)
    if user_id is not None:
        query = query.where(FailedEvent.user_id == user_id)
    return int((await session.execute(query)).scalar_one())


async def forget_account(session: AsyncSession, user_id: uuid.UUID) -> None:
    await session.execute(delete(FailedEvent).where(FailedEvent.user_id == user_id))


def text_for_postgres(value: str | None) -> str | None:
    """PostgreSQL text holds no NUL character: it is kept as U+FFFD."""
    return None if value is None else value.replace("\x00", "\ufffd")


def jsonable(value: Any) -> Any:
    """`value` as PostgreSQL's JSON can store it (no NUL, else its text)."""
    try:
        return orjson.loads(orjson.dumps(value).replace(b"\\u0000", b"\\ufffd"))
    except (TypeError, orjson.JSONEncodeError, orjson.JSONDecodeError):
        return text_for_postgres(str(value)[:10_000])


def _refused_row(row: RefusedRow) -> dict[str, Any]:
    try:
        payload: Any = orjson.loads(row.line)
    except orjson.JSONDecodeError:
        payload = row.line.decode("utf-8", "replace")[:10_000]
    fields = payload if isinstance(payload, dict) else {}
    try:
        user_id = uuid.UUID(str(fields.get("user_id")))
    except ValueError:
        user_id = None
    event_id = fields.get("event_id")
    reason = text_for_postgres(row.reason) or ""
    kept = jsonable(payload)
    return dict(
        user_id=user_id,
        source=f"loader:{row.topic}",
        batch_index=row.index,
        event_id=text_for_postgres(event_id[:64]) if isinstance(event_id, str) else None,
        reason=reason,
        payload=kept,
        # The record names its playback; a row refused again after a redelivery is kept once.
        dedup_key=failed_event_key(user_id, None, reason, kept),
    )


def refused_rows_sink(
    sessions: Callable[[], AbstractAsyncContextManager[AsyncSession]],
) -> RefusedSink:
    """The loader's `on_refused`: each refused row kept as a failed event, in one statement."""

    async def keep(rows: list[RefusedRow]) -> None:
        async with sessions() as session:
            await add_failed_events(session, [_refused_row(row) for row in rows])

    return keep
