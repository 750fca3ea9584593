"""What auth tells other contexts: an account is being deleted (in-process, until the bus).

A context that keeps data about accounts subscribes a handler with `on_account_deleted`; the
handlers run inside the deleting transaction, with its session, so the account and every
context's data about it go together or not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

log = structlog.get_logger(__name__)

AccountDeletedHandler = Callable[[AsyncSession, uuid.UUID], Awaitable[None]]

_account_deleted: list[AccountDeletedHandler] = []


def on_account_deleted(handler: AccountDeletedHandler) -> AccountDeletedHandler:
    """Subscribe `handler(session, user_id)` (once; usable as a decorator)."""
    if handler not in _account_deleted:
        _account_deleted.append(handler)
    return handler


def off_account_deleted(handler: AccountDeletedHandler) -> None:
    """Unsubscribe `handler` (nothing happens when it was not subscribed)."""
    if handler in _account_deleted:
        _account_deleted.remove(handler)


async def publish_account_deleted(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Run every subscriber; an error aborts the deletion (the transaction rolls back)."""
    for handler in list(_account_deleted):
        await handler(session, user_id)
        log.info("auth.account_deleted.handled", handler=handler.__qualname__)
