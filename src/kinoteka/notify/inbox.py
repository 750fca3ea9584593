"""The in-app inbox for other front ends (the web pages): read it, mark it read, follow its count.

The notify API serves the same to token holders; these are the use cases under both.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncSession

from kinoteka.notify import repository, service
from kinoteka.notify.errors import InboxItemNotFound
from kinoteka.notify.kit import NotifyKit
from kinoteka.notify.schemas import InboxItemOut

WAKE_SECONDS = 15.0  # a stream rechecks at least this often (a lost notification heals)

__all__ = ["InboxItemNotFound", "InboxItemOut", "list_inbox", "mark_read", "unread_count",
           "unread_counts"]  # fmt: skip


async def list_inbox(
    session: AsyncSession, user_id: uuid.UUID, *, limit: int = 50
) -> list[InboxItemOut]:
    """The account's notifications, newest first."""
    items = await repository.inbox(session, user_id, unread_only=False, before=None, limit=limit)
    return [InboxItemOut.model_validate(item) for item in items]


async def unread_count(session: AsyncSession, user_id: uuid.UUID) -> int:
    return await repository.unread_count(session, user_id)


async def mark_read(session: AsyncSession, user_id: uuid.UUID, item_id: uuid.UUID | None) -> None:
    """Mark one item (or all with None) read; `InboxItemNotFound` when it is not the account's."""
    await service.mark_read(session, user_id, item_id)


async def unread_counts(kit: NotifyKit, user_id: uuid.UUID) -> AsyncIterator[int]:
    """The unread count now, then each time it changes (woken by the inbox channel)."""
    last: int | None = None
    while True:
        async with kit.db.session() as session:
            count = await repository.unread_count(session, user_id)
        if count != last:
            last = count
            yield count
        await kit.signal.wait(WAKE_SECONDS)
