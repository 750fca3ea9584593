"""Social login: the account behind a provider's identity (linked, matched or created)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from kinoteka.auth import repository
from kinoteka.auth.devices import ClientInfo
from kinoteka.auth.errors import AccountInactive, OAuthFailed
from kinoteka.auth.kit import AuthKit
from kinoteka.auth.models import LoginMethod, OAuthAccount, User
from kinoteka.auth.service import create_user, normalise_email
from kinoteka.auth.sessions import TokenPair, start_session

log = structlog.get_logger(__name__)

AccountCreated = Callable[[AsyncSession, uuid.UUID], Awaitable[None]]
"""Told of an account a social login made, in the transaction that makes it (a front end
records what it knows of the new account there: the mail language of its pages)."""


async def social_login(
    session: AsyncSession,
    kit: AuthKit,
    *,
    provider: str,
    subject: str,
    email: str | None,
    email_verified: bool,
    client: ClientInfo,
    on_created: AccountCreated | None = None,
) -> TokenPair:
    """Log in through a provider: its linked account, else the account with the same verified
    email (linked now), else a new account without a password (handed to `on_created`)."""
    link = await repository.oauth_link(session, provider, subject)
    user: User | None = None
    if link is not None:
        user = await repository.user_by_id(session, link.user_id)
    else:
        normalised = normalise_email(email) if email else None
        if normalised is not None:
            user = await repository.user_by_email(session, normalised)
            if user is not None and not email_verified:
                # Linking on an unverified address would hand the account to whoever typed it.
                raise OAuthFailed(f"{provider} has not verified {normalised}; log in to link it")
        if user is None:
            if normalised is None:
                raise OAuthFailed(f"{provider} gave no email address")
            user = await create_user(session, kit, normalised, None)
            if on_created is not None:
                await on_created(session, user.id)
        session.add(OAuthAccount(provider=provider, subject=subject, user_id=user.id,
                                 email=normalised))  # fmt: skip
        await session.flush()
        log.info("auth.oauth_linked", user_id=str(user.id), provider=provider)
    if user is None or not user.is_active:
        raise AccountInactive("this account is deactivated")
    return await start_session(session, kit, user, client, LoginMethod.OAUTH)
