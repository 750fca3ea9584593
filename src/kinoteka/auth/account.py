"""Account self-service: change and reset the password, close the account."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kinoteka.auth.errors import InvalidCredentials, InvalidResetToken
from kinoteka.auth.kit import AuthKit
from kinoteka.auth.models import PasswordReset, Session, User
from kinoteka.auth.service import (
    check_new_password,
    enforce_limit,
    get_user,
    logout_everywhere,
    normalise_email,
    revoke_sessions,
    token_digest,
    user_by_email,
)
from kinoteka.auth.tokens import AccessClaims
from kinoteka.notify import Message

log = structlog.get_logger(__name__)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def _set_password(session: AsyncSession, kit: AuthKit, user: User, password: str) -> None:
    check_new_password(kit.settings, password, user.email)
    user.password_hash = await kit.passwords.hash(password)
    user.failed_logins = 0
    user.locked_until = None
    await session.flush()


async def change_password(
    session: AsyncSession, kit: AuthKit, claims: AccessClaims, current: str, new: str
) -> None:
    """Needs the current password; every other session of the account is logged out."""
    user = await get_user(session, claims.subject)
    if not (await kit.passwords.verify(user.password_hash, current)).valid:
        raise InvalidCredentials()
    await _set_password(session, kit, user, new)
    others = await session.scalars(
        select(Session).where(Session.user_id == user.id, Session.revoked_at.is_(None),
                              Session.id != claims.session_id)
    )  # fmt: skip
    await revoke_sessions(kit, list(others), "password_changed")
    await session.flush()


async def request_password_reset(session: AsyncSession, kit: AuthKit, email: str) -> None:
    """Send a one-time reset token through the notifier; silent when no such account."""
    email = normalise_email(email)
    await enforce_limit(kit, kit.settings.rate_limits.password_reset_per_account, "reset", email)
    user = await user_by_email(session, email)
    if user is None or not user.is_active:
        return
    token = secrets.token_urlsafe(32)
    session.add(
        PasswordReset(
            user_id=user.id,
            token_hash=token_digest(token),
            expires_at=_now() + dt.timedelta(seconds=kit.settings.reset_token_ttl_seconds),
        )
    )
    await session.flush()
    await kit.notifier.send(
        Message(
            recipient=user.email,
            kind="password_reset",
            subject="Reset your Kinoteka password",
            body=f"Use this code to set a new password (valid "
            f"{kit.settings.reset_token_ttl_seconds // 60} min): {token}",
            data={"token": token},
        )
    )


async def reset_password(session: AsyncSession, kit: AuthKit, token: str, new: str) -> None:
    """Spend a reset token, set the password, log out every session of the account."""
    reset = (
        await session.scalars(
            select(PasswordReset).where(PasswordReset.token_hash == token_digest(token))
            .with_for_update()
        )
    ).first()  # fmt: skip
    if reset is None or reset.used_at is not None or reset.expires_at <= _now():
        raise InvalidResetToken("the reset token is invalid, used or expired")
    reset.used_at = _now()
    user = await get_user(session, reset.user_id)
    await _set_password(session, kit, user, new)
    await logout_everywhere(session, kit, user.id)


async def deactivate_own_account(
    session: AsyncSession, kit: AuthKit, claims: AccessClaims, password: str
) -> None:
    """The account holder closes their account; the password confirms it is them."""
    user = await get_user(session, claims.subject)
    if not (await kit.passwords.verify(user.password_hash, password)).valid:
        raise InvalidCredentials()
    await deactivate(session, kit, user.id)


async def deactivate(session: AsyncSession, kit: AuthKit, user_id: uuid.UUID) -> None:
    """The account can no longer log in or refresh; its sessions end now."""
    user = await get_user(session, user_id)
    user.is_active = False
    await logout_everywhere(session, kit, user.id)
    log.info("auth.deactivated", user_id=str(user_id))
