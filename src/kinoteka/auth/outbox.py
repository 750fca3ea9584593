"""Auth's domain events, through a transactional outbox.

A use case records its event with `record_event` in its own transaction, so the event exists
exactly when the change does; `relay_events` (run by a worker) hands the recorded events to a
publisher, oldest first, and deletes each once published. A crash between the two publishes the
event again: consumers deduplicate by the event id, which is the message id.

Topics (`AccountEvent`) and their payloads (every value a string):

- `account.created`: `user_id`, `email`, `confirm_url` (follows to set `email_verified`).
- `account.password_reset_requested`: `user_id`, `email`, `reset_url`, `token`, `expires_minutes`.
- `account.password_changed`: `user_id`, `email`.
- `account.new_device_sign_in`: `user_id`, `email`, `device`, `user_agent`, `ip`, `at`.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from enum import StrEnum

import orjson
import structlog
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from kinoteka.auth.models import OutboxEvent
from kinoteka.infra.db import Database

log = structlog.get_logger(__name__)


class AccountEvent(StrEnum):
    CREATED = "account.created"
    PASSWORD_RESET_REQUESTED = "account.password_reset_requested"  # noqa: S105 - a topic
    PASSWORD_CHANGED = "account.password_changed"  # noqa: S105 - a topic
    NEW_DEVICE_SIGN_IN = "account.new_device_sign_in"


Publish = Callable[[str, bytes, str], Awaitable[None]]
"""`publish(topic, body, message_id)`; returns once the broker holds the message."""


async def record_event(session: AsyncSession, topic: AccountEvent, payload: dict[str, str]) -> None:
    session.add(OutboxEvent(id=uuid.uuid4(), topic=str(topic), payload=payload))
    await session.flush()


async def relay_events(db: Database, publish: Publish, *, batch: int = 100) -> int:
    """Publish up to `batch` recorded events and delete them; how many were published.

    Rows are locked with SKIP LOCKED, so several relays can run side by side.
    """
    async with db.session() as session:
        rows = (
            await session.scalars(
                select(OutboxEvent).order_by(OutboxEvent.created).limit(batch)
                .with_for_update(skip_locked=True)
            )
        ).all()  # fmt: skip
        for row in rows:
            await publish(row.topic, orjson.dumps(row.payload), str(row.id))
        if rows:
            await session.execute(
                delete(OutboxEvent).where(OutboxEvent.id.in_([r.id for r in rows]))
            )
            log.info("auth.outbox.relayed", events=len(rows))
    return len(rows)
