"""An account's mail language: the one it chose (through the API's preferences, the account
page, or the page language it signed up in), or the deployment's default."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from kinoteka.notify import repository
from kinoteka.notify.rendering import pick_locale


async def mail_locale(session: AsyncSession, user_id: uuid.UUID, default: str) -> str:
    """The locale mail to `user_id` is written in (`default` until the account chooses)."""
    found = await repository.locales(session, [user_id])
    return found.get(user_id, default)


async def set_mail_locale(session: AsyncSession, user_id: uuid.UUID, locale: str) -> str:
    """Record the account's mail language (one without templates falls back to English)."""
    chosen = pick_locale(locale)
    await repository.set_locale(session, user_id, chosen)
    await session.flush()
    return chosen
