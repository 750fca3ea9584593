"""Sessions: a login's family of rotated refresh tokens, its one live access token, logout,
and the revocation of what an account's tokens carry when the account changes."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import secrets
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from kinoteka.auth import repository
from kinoteka.auth.devices import ClientInfo
from kinoteka.auth.errors import InvalidRefreshToken, NotFound
from kinoteka.auth.kit import AuthKit
from kinoteka.auth.models import LoginHistory, LoginMethod, LoginOutcome, LoginSession, Role, User
from kinoteka.auth.tokens import (
    AccessClaims,
    SigningKeyPair,
    denylist_key,
    sign_access_token,
    valid_after_key,
)

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    claims: AccessClaims


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def token_digest(token: str) -> str:
    """How one-time and refresh tokens are stored: SHA-256, so a leaked table grants nothing."""
    return hashlib.sha256(token.encode()).hexdigest()


def _sign(
    signer: SigningKeyPair,
    kit: AuthKit,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    roles: Iterable[str],
    permissions: Iterable[str],
) -> tuple[str, AccessClaims]:
    return sign_access_token(
        signer,
        subject=user_id,
        session_id=session_id,
        roles=roles,
        permissions=permissions,
        issuer=kit.settings.issuer,
        audience=kit.settings.audience,
        ttl_seconds=kit.settings.access_ttl_seconds,
    )  # fmt: skip


def grants(roles: Sequence[Role]) -> tuple[list[str], set[str]]:
    """The role names and the union of their permissions, as a token carries them."""
    return [role.name for role in roles], {perm for role in roles for perm in role.permissions}


def _new_refresh_token(kit: AuthKit, session_id: uuid.UUID) -> tuple[str, dict[str, Any]]:
    """An opaque token and the row that stores only its hash."""
    token = secrets.token_urlsafe(32)
    row = {
        "id": uuid.uuid4(),
        "session_id": session_id,
        "token_hash": token_digest(token),
        "expires_at": _now() + dt.timedelta(seconds=kit.settings.refresh_ttl_seconds),
    }
    return token, row


async def new_session(
    session: AsyncSession,
    kit: AuthKit,
    *,
    user_id: uuid.UUID,
    email: str,
    roles: Iterable[str],
    permissions: Iterable[str],
    client: ClientInfo,
    method: LoginMethod,
    now: dt.datetime,
) -> TokenPair:
    """Sign the first access token and write the session family in one statement."""
    session_id = uuid.uuid4()
    access, claims = _sign(await kit.keys.signer(), kit, user_id, session_id, roles, permissions)
    refresh, refresh_row = _new_refresh_token(kit, session_id)
    await repository.write_session_start(
        session,
        {
            "p_session_id": session_id, "p_user_id": user_id, "p_now": now,
            "p_refresh_expires": refresh_row["expires_at"], "p_ip": client.ip,
            "p_user_agent": client.stored_user_agent, "p_device_type": client.device_type,
            "p_jti": claims.jti,
            "p_access_expires": dt.datetime.fromtimestamp(claims.expires_at, dt.UTC),
            "p_refresh_id": refresh_row["id"], "p_token_hash": refresh_row["token_hash"],
            "p_history_id": uuid.uuid4(), "p_email": email, "p_method": method,
            "p_outcome": LoginOutcome.SUCCESS,
        },
    )  # fmt: skip
    log.info("auth.login", user_id=str(user_id), session_id=str(session_id), method=str(method))
    return TokenPair(access, refresh, kit.settings.access_ttl_seconds, claims)


async def start_session(
    session: AsyncSession,
    kit: AuthKit,
    user: User,
    client: ClientInfo,
    method: LoginMethod = LoginMethod.PASSWORD,
) -> TokenPair:
    """A new session family for `user` (after a successful authentication), in `session`."""
    roles, permissions = grants(await repository.user_roles(session, user.id))
    now = _now()
    pair = await new_session(
        session, kit, user_id=user.id, email=user.email, roles=roles, permissions=permissions,
        client=client, method=method, now=now,
    )  # fmt: skip
    mark_logged_in(user, now)
    return pair


def mark_logged_in(user: User, now: dt.datetime) -> None:
    """What the login's write did to the account row, on an ORM object of it (no reload)."""
    for name, value in (("failed_logins", 0), ("locked_until", None), ("last_login_at", now)):
        set_committed_value(user, name, value)


async def _deny(kit: AuthKit, jti: str | None, expires_at: dt.datetime | None) -> None:
    if jti is None or expires_at is None:
        return
    remaining = (expires_at - _now()).total_seconds() + kit.settings.leeway_seconds
    if remaining > 0:
        await kit.cache.set(denylist_key(kit.settings.redis_prefix, jti), "1", ttl=remaining)


async def void_issued_tokens(kit: AuthKit, user_id: uuid.UUID) -> None:
    """Every access token the account holds now stops working (its roles or status changed).

    The account's valid-after moment is set to now for one access-token lifetime; verifiers
    refuse tokens issued before it, and a refresh issues one with what holds now.
    """
    moment = math.floor(time.time() * 1000) / 1000
    ttl = kit.settings.access_ttl_seconds + kit.settings.leeway_seconds
    await kit.cache.set(valid_after_key(kit.settings.redis_prefix, user_id), repr(moment), ttl=ttl)
    log.info("auth.tokens_voided", user_id=str(user_id))


async def revoke_sessions(kit: AuthKit, sessions: Sequence[LoginSession], reason: str) -> int:
    """Mark sessions revoked and denylist their live access tokens; the count newly revoked."""
    now = _now()
    count = 0
    for login in sessions:
        if login.revoked_at is None:
            login.revoked_at = now
            login.revoked_reason = reason
            count += 1
        await _deny(kit, login.access_jti, login.access_expires_at)
    return count


async def refresh(
    session: AsyncSession, kit: AuthKit, refresh_token: str, client: ClientInfo
) -> TokenPair:
    """Rotate: the presented refresh token is spent, a new pair is issued with fresh roles.

    Presenting a spent token again means it leaked: the whole session family is revoked.
    """
    row = await repository.refresh_token_by_hash(session, token_digest(refresh_token))
    if row is None:
        raise InvalidRefreshToken("unknown refresh token")
    if row.rotated_at is not None:
        async with kit.db.session() as audit:
            family = await repository.login_session(audit, row.session_id)
            if family is not None:
                await revoke_sessions(kit, [family], "refresh_token_reuse")
        log.warning("auth.refresh_reuse", session_id=str(row.session_id))
        raise InvalidRefreshToken("refresh token already used; the session is revoked")
    login = await repository.login_session(session, row.session_id)
    now = _now()
    if login is None or login.revoked_at is not None or login.expires_at <= now:
        raise InvalidRefreshToken("the session is no longer active")
    if row.expires_at <= now:
        raise InvalidRefreshToken("refresh token expired")
    user = await repository.user_by_id(session, login.user_id)
    if user is None or not user.is_active:
        raise InvalidRefreshToken("the account is no longer active")
    row.rotated_at = now
    login.last_used = now
    # One live access token per session: the one it replaces stops working now.
    await _deny(kit, login.access_jti, login.access_expires_at)
    roles = await repository.user_roles(session, user.id)
    access, claims = _sign(await kit.keys.signer(), kit, user.id, login.id, *grants(roles))
    login.access_jti = claims.jti
    login.access_expires_at = dt.datetime.fromtimestamp(claims.expires_at, dt.UTC)
    token, next_row = _new_refresh_token(kit, login.id)
    repository.add_refresh_token(session, next_row)
    await session.flush()
    return TokenPair(access, token, kit.settings.access_ttl_seconds, claims)


async def logout(session: AsyncSession, kit: AuthKit, claims: AccessClaims) -> None:
    """End the session the access token belongs to; the token stops working at once."""
    await _deny(kit, claims.jti, dt.datetime.fromtimestamp(claims.expires_at, dt.UTC))
    login = await repository.login_session(session, claims.session_id)
    if login is not None and login.user_id == claims.subject:
        await revoke_sessions(kit, [login], "logout")
    await session.flush()


async def logout_everywhere(
    session: AsyncSession, kit: AuthKit, user_id: uuid.UUID, reason: str = "logout_everywhere"
) -> int:
    active = await repository.open_sessions(session, user_id)
    count = await revoke_sessions(kit, active, reason)
    await session.flush()
    return count


async def logout_others(
    session: AsyncSession, kit: AuthKit, user_id: uuid.UUID, keep: uuid.UUID, reason: str
) -> int:
    """End every session of the account but `keep` (the caller's)."""
    others = await repository.open_sessions(session, user_id, except_id=keep)
    count = await revoke_sessions(kit, others, reason)
    await session.flush()
    return count


async def active_sessions(session: AsyncSession, user_id: uuid.UUID) -> list[LoginSession]:
    return await repository.live_sessions(session, user_id)


async def revoke_session(
    session: AsyncSession, kit: AuthKit, user_id: uuid.UUID, session_id: uuid.UUID
) -> None:
    login = await repository.login_session(session, session_id)
    if login is None or login.user_id != user_id:
        raise NotFound("no such session")
    await revoke_sessions(kit, [login], "revoked_by_user")
    await session.flush()


async def login_history(
    session: AsyncSession, user_id: uuid.UUID, *, page: int, size: int
) -> tuple[list[LoginHistory], int]:
    return await repository.history_page(session, user_id, page=page, size=size)
