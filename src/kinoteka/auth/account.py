"""Account life cycle: change and reset the password, deactivate and delete the account.

Deactivation and deletion end every session of the account and void its access tokens at
once (`sessions.void_issued_tokens`). Neither may leave the deployment without an active super
user, and an administrator cannot deactivate or delete their own account through the users
endpoints (the self-service ones, which ask for the password, are for that).
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from urllib.parse import urlencode

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from kinoteka.auth import repository
from kinoteka.auth.errors import Conflict, InvalidCredentials, InvalidResetToken, LastSuperUser
from kinoteka.auth.events import publish_account_deleted
from kinoteka.auth.kit import AuthKit
from kinoteka.auth.models import PasswordReset, User
from kinoteka.auth.outbox import AccountEvent, record_event
from kinoteka.auth.permissions import RoleName
from kinoteka.auth.service import check_new_password, enforce_limit, get_user, normalise_email
from kinoteka.auth.sessions import (
    logout_everywhere,
    logout_others,
    token_digest,
    void_issued_tokens,
)
from kinoteka.auth.tokens import AccessClaims

log = structlog.get_logger(__name__)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def _set_password(session: AsyncSession, kit: AuthKit, user: User, password: str) -> None:
    check_new_password(kit.settings, password, user.email)
    user.password_hash = await kit.passwords.hash(password)
    user.failed_logins = 0
    user.locked_until = None
    await session.flush()


async def _confirm_password(kit: AuthKit, user: User, password: str) -> None:
    if not (await kit.passwords.verify(user.password_hash, password)).valid:
        raise InvalidCredentials()


async def change_password(
    session: AsyncSession, kit: AuthKit, claims: AccessClaims, current: str, new: str
) -> None:
    """Needs the current password; every other session of the account is logged out."""
    user = await get_user(session, claims.subject)
    await _confirm_password(kit, user, current)
    await _set_password(session, kit, user, new)
    await logout_others(session, kit, user.id, claims.session_id, "password_changed")
    await record_event(
        session, AccountEvent.PASSWORD_CHANGED, {"user_id": str(user.id), "email": user.email}
    )


async def request_password_reset(session: AsyncSession, kit: AuthKit, email: str) -> None:
    """Record a one-time reset token in a `password_reset_requested` event; silent when no
    such account."""
    email = normalise_email(email)
    await enforce_limit(kit, kit.settings.rate_limits.password_reset_per_account, "reset", email)
    user = await repository.user_by_email(session, email)
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
    await record_event(
        session,
        AccountEvent.PASSWORD_RESET_REQUESTED,
        {
            "user_id": str(user.id),
            "email": user.email,
            "token": token,
            # The site's reset page: it opens with the code filled in and asks for a password.
            "reset_url": f"{kit.settings.public_url.rstrip('/')}/password-reset"
            f"?{urlencode({'token': token})}",
            "expires_minutes": str(kit.settings.reset_token_ttl_seconds // 60),
        },
    )


async def confirm_email(session: AsyncSession, token: str) -> None:
    """Follow the emailed confirmation link: the account's email is verified."""
    user = await repository.user_by_confirm_hash(session, token_digest(token))
    if user is None:
        raise InvalidResetToken("the confirmation link is invalid or already used")
    user.email_verified = True
    user.email_confirm_hash = None
    await session.flush()
    log.info("auth.email_verified", user_id=str(user.id))


async def reset_token_usable(session: AsyncSession, token: str) -> bool:
    """Whether `token` would reset a password now (known, unused, unexpired); spends nothing."""
    reset = await repository.reset_by_hash(session, token_digest(token), lock=False)
    return reset is not None and reset.used_at is None and reset.expires_at > _now()


async def reset_password(session: AsyncSession, kit: AuthKit, token: str, new: str) -> None:
    """Spend a reset token, set the password, log out every session of the account."""
    reset = await repository.reset_by_hash(session, token_digest(token))
    if reset is None or reset.used_at is not None or reset.expires_at <= _now():
        raise InvalidResetToken("the reset token is invalid, used or expired")
    reset.used_at = _now()
    user = await get_user(session, reset.user_id)
    await _set_password(session, kit, user, new)
    await logout_everywhere(session, kit, user.id, "password_reset")


async def ensure_not_last_super_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    """`Conflict` when `user_id` is the only active super user (they would lock everyone out).

    The active holders' rows are locked, so two concurrent removals cannot both pass.
    """
    holders = await repository.lock_role_holders(session, RoleName.SUPER_USER)
    if list(holders) == [user_id]:
        raise LastSuperUser(
            "this is the last active super user; grant super_user to another account first"
        )


def _refuse_self(actor: uuid.UUID | None, user_id: uuid.UUID, action: str) -> None:
    if actor is not None and actor == user_id:
        raise Conflict(f"you cannot {action} your own account here; use /api/v1/auth/me")


async def deactivate_own_account(
    session: AsyncSession, kit: AuthKit, claims: AccessClaims, password: str
) -> None:
    """The account holder closes their account; the password confirms it is them."""
    user = await get_user(session, claims.subject)
    await _confirm_password(kit, user, password)
    await deactivate(session, kit, user.id)


async def deactivate(
    session: AsyncSession, kit: AuthKit, user_id: uuid.UUID, *, actor: uuid.UUID | None = None
) -> None:
    """The account can no longer log in or refresh; its sessions and tokens end now.

    `actor` is the administrator doing it (None for the holder or the CLI): they cannot
    deactivate themselves this way.
    """
    _refuse_self(actor, user_id, "deactivate")
    user = await get_user(session, user_id, for_update=True)
    if not user.is_active:
        return
    await ensure_not_last_super_user(session, user.id)
    user.is_active = False
    await logout_everywhere(session, kit, user.id, "deactivated")
    await void_issued_tokens(kit, user.id)
    log.info("auth.deactivated", user_id=str(user_id), by=str(actor) if actor else None)


async def delete_own_account(
    session: AsyncSession, kit: AuthKit, claims: AccessClaims, password: str
) -> None:
    """The holder deletes their account; the password confirms it is them.

    An account made by a social login without a password has no password to confirm with:
    it sets one through the reset flow first.
    """
    user = await get_user(session, claims.subject)
    await _confirm_password(kit, user, password)
    await delete_account(session, kit, user.id)


async def delete_account(
    session: AsyncSession, kit: AuthKit, user_id: uuid.UUID, *, actor: uuid.UUID | None = None
) -> None:
    """Delete the account and what Kinoteka keeps about it, in the caller's transaction.

    Auth deletes its rows outright (account, roles, sessions, refresh and reset tokens, social
    links, login history): nothing needs them once the account is gone, and an anonymised
    row would still be personal data joined to its history. Other contexts remove or
    anonymise theirs in their `on_account_deleted` handlers. Live access tokens stop working
    at once (their sessions are revoked and the account's tokens voided).
    """
    _refuse_self(actor, user_id, "delete")
    user = await get_user(session, user_id, for_update=True)
    await ensure_not_last_super_user(session, user.id)
    # Denylist the sessions' live tokens before the rows that name them are gone.
    await logout_everywhere(session, kit, user.id, "deleted")
    await void_issued_tokens(kit, user.id)
    await publish_account_deleted(session, user.id)
    session.expunge(user)
    await repository.delete_account_rows(session, user.id)
    await session.flush()
    log.info("auth.account_deleted", user_id=str(user_id), by=str(actor) if actor else None)
