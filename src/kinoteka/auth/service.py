"""Account use cases: sign-up, login, refresh, logout, sessions and login history.

Functions take the request's `AsyncSession` (they flush; the caller commits) and the process's
`AuthKit`. Audit writes that must outlive a failed request (failed logins, lockouts, a revoked
session family after refresh-token reuse) go through their own short unit of work.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from math import ceil
from typing import Any, cast

import structlog
from sqlalchemy import Table, bindparam, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from kinoteka.auth.devices import device_type_from_user_agent
from kinoteka.auth.errors import (
    AccountInactive,
    EmailTaken,
    InvalidCredentials,
    InvalidEmail,
    InvalidRefreshToken,
    NotFound,
    TooManyAttempts,
    WeakPassword,
)
from kinoteka.auth.kit import AuthKit
from kinoteka.auth.models import (
    SCHEMA,
    DeviceType,
    LoginHistory,
    LoginMethod,
    LoginOutcome,
    RefreshToken,
    Role,
    Session,
    User,
    UserRole,
)
from kinoteka.auth.passwords import PasswordPolicyError, check_password_policy
from kinoteka.auth.permissions import RoleName
from kinoteka.auth.settings import AuthSettings
from kinoteka.auth.tokens import AccessClaims, SigningKeyPair, denylist_key, sign_access_token

log = structlog.get_logger(__name__)

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")


@dataclass(frozen=True)
class ClientInfo:
    """Who is calling: for rate limits, sessions and the login history."""

    ip: str | None = None
    user_agent: str | None = None

    @cached_property
    def device_type(self) -> DeviceType:
        # Read for the session and its history row: the User-Agent is parsed once.
        return device_type_from_user_agent(self.user_agent)

    @property
    def stored_user_agent(self) -> str | None:
        """The User-Agent as sessions and the login history keep it (bounded, None if empty)."""
        return (self.user_agent or "")[:512] or None


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


def normalise_email(email: str) -> str:
    """Trimmed, NFKC, lower-cased, domain in IDNA; `InvalidEmail` when it is not an address."""
    value = unicodedata.normalize("NFKC", email).strip().lower()
    if len(value) > 254 or not _EMAIL.fullmatch(value):
        raise InvalidEmail("email: not a valid email address")
    local, domain = value.rsplit("@", 1)
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidEmail("email: the domain is not valid") from None
    return f"{local}@{domain}"


async def enforce_limit(kit: AuthKit, rule: str, what: str, *identity: str) -> None:
    """`TooManyAttempts` when this hit of `rule` (named `what`) for `identity` is one too many."""
    if not kit.settings.rate_limits.enabled:
        return
    decision = await kit.limiter.hit(rule, what, *identity)
    if not decision.allowed:
        log.info("auth.rate_limited", rule=what)
        raise TooManyAttempts(f"too many requests; retry in {decision.retry_after} s",
                              decision.retry_after)  # fmt: skip


async def check_client_rate(kit: AuthKit, client_key: str) -> None:
    """The global per-client limit on the auth API."""
    await enforce_limit(kit, kit.settings.rate_limits.api_per_client, "api", client_key)


def check_new_password(settings: AuthSettings, password: str, email: str) -> None:
    """`WeakPassword` (naming the rules broken) unless the password meets the policy."""
    try:
        check_password_policy(password, email=email, min_length=settings.password_min_length)
    except PasswordPolicyError as error:
        raise WeakPassword(f"password: {error}") from None


async def get_role(session: AsyncSession, name: str) -> Role:
    """The role called `name`, or `NotFound`."""
    role = (await session.scalars(select(Role).where(Role.name == name))).first()
    if role is None:
        raise NotFound(f"role {name!r} does not exist")
    return role


async def user_roles(session: AsyncSession, user_id: uuid.UUID) -> list[Role]:
    statement = (
        select(Role).join(UserRole, UserRole.role_id == Role.id).where(UserRole.user_id == user_id)
    )
    return list(await session.scalars(statement.order_by(Role.name)))


async def create_user(
    session: AsyncSession,
    kit: AuthKit,
    email: str,
    password: str | None,
    *,
    roles: Sequence[str] = (RoleName.PUBLIC_USER,),
) -> User:
    """A new account holding `roles`; the password is checked against the policy."""
    email = normalise_email(email)
    password_hash = None
    if password is not None:
        check_new_password(kit.settings, password, email)
        password_hash = await kit.passwords.hash(password)
    if await session.scalar(select(User.id).where(User.email == email)) is not None:
        raise EmailTaken("email: an account with this email already exists")
    user = User(email=email, password_hash=password_hash, is_active=True, failed_logins=0)
    session.add(user)
    await session.flush()
    for name in roles:
        session.add(UserRole(user_id=user.id, role_id=(await get_role(session, name)).id))
    await session.flush()
    log.info("auth.user_created", user_id=str(user.id))
    return user


async def sign_up(
    session: AsyncSession, kit: AuthKit, email: str, password: str, client: ClientInfo
) -> User:
    await enforce_limit(kit, kit.settings.rate_limits.signup_per_ip, "signup", client.ip or "-")
    return await create_user(session, kit, email, password)


def _history_values(
    *,
    email: str,
    user_id: uuid.UUID | None,
    client: ClientInfo,
    outcome: LoginOutcome,
    method: LoginMethod = LoginMethod.PASSWORD,
) -> dict[str, Any]:
    """The columns of one login-history row (its `created` is left to the caller or the server)."""
    return {
        "id": uuid.uuid4(),
        "device_type": client.device_type,
        "user_id": user_id,
        "email": email,
        "ip": client.ip,
        "user_agent": client.stored_user_agent,
        "method": method,
        "outcome": outcome,
    }


async def _record(session: AsyncSession, **fields: Any) -> None:
    session.add(LoginHistory(**_history_values(**fields)))
    await session.flush()


def lockout_seconds(kit: AuthKit, failures: int) -> float:
    """Progressive lock after `failures` in a row: base, then doubling, up to the cap."""
    lockout = kit.settings.lockout
    if failures < lockout.threshold:
        return 0.0
    return float(
        min(lockout.base_seconds * 2 ** (failures - lockout.threshold), lockout.max_seconds)
    )


async def _register_failure(
    kit: AuthKit, user_id: uuid.UUID, email: str, client: ClientInfo
) -> None:
    async with kit.db.session() as audit:
        failures = await audit.scalar(
            update(User).where(User.id == user_id)
            .values(failed_logins=User.failed_logins + 1).returning(User.failed_logins)
        )  # fmt: skip
        seconds = lockout_seconds(kit, failures or 0)
        if seconds:
            locked_until = _now() + dt.timedelta(seconds=seconds)
            await audit.execute(
                update(User).where(User.id == user_id).values(locked_until=locked_until)
            )
            log.info("auth.locked", user_id=str(user_id), seconds=seconds)
        await _record(audit, email=email, user_id=user_id, client=client,
                      outcome=LoginOutcome.WRONG_PASSWORD)  # fmt: skip


async def _audit(kit: AuthKit, **fields: Any) -> None:
    async with kit.db.session() as audit:
        await _record(audit, **fields)


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


def _grants(roles: Sequence[Role]) -> tuple[list[str], set[str]]:
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


def _session_start_statement() -> Any:
    """The writes of a successful login as one statement with named parameters, built once.

    The session, its first refresh token, the history row and the account's counters go in one
    round trip; a constant statement is compiled once and served from SQLAlchemy's cache.
    """
    users, sessions, refresh_tokens, history = (
        cast(Table, model.__table__) for model in (User, Session, RefreshToken, LoginHistory)
    )
    family = insert(sessions).values(
        id=bindparam("p_session_id"), user_id=bindparam("p_user_id"), created=bindparam("p_now"),
        last_used=bindparam("p_now"), expires_at=bindparam("p_refresh_expires"),
        ip=bindparam("p_ip"), user_agent=bindparam("p_user_agent"),
        device_type=bindparam("p_device_type"), access_jti=bindparam("p_jti"),
        access_expires_at=bindparam("p_access_expires"),
    ).cte("new_session")  # fmt: skip
    first_token = insert(refresh_tokens).values(
        id=bindparam("p_refresh_id"), session_id=bindparam("p_session_id"),
        token_hash=bindparam("p_token_hash"), created=bindparam("p_now"),
        expires_at=bindparam("p_refresh_expires"),
    ).cte("new_refresh")  # fmt: skip
    entry = insert(history).values(
        id=bindparam("p_history_id"), device_type=bindparam("p_device_type"),
        user_id=bindparam("p_user_id"), email=bindparam("p_email"), created=bindparam("p_now"),
        ip=bindparam("p_ip"), user_agent=bindparam("p_user_agent"), method=bindparam("p_method"),
        outcome=bindparam("p_outcome"),
    ).cte("new_history")  # fmt: skip
    return (
        update(users).where(users.c.id == bindparam("p_user_id"))
        .values(failed_logins=0, locked_until=None, last_login_at=bindparam("p_now"))
        .add_cte(family, first_token, entry)
    )  # fmt: skip


_SESSION_START = _session_start_statement()


async def _new_session(
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
    await session.execute(
        _SESSION_START,
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
    roles, permissions = _grants(await user_roles(session, user.id))
    now = _now()
    pair = await _new_session(
        session, kit, user_id=user.id, email=user.email, roles=roles, permissions=permissions,
        client=client, method=method, now=now,
    )  # fmt: skip
    _mark_logged_in(user, now)
    return pair


def _mark_logged_in(user: User, now: dt.datetime) -> None:
    """What the login's write did to the account row, on an ORM object of it (no reload)."""
    for name, value in (("failed_logins", 0), ("locked_until", None), ("last_login_at", now)):
        set_committed_value(user, name, value)


@dataclass(frozen=True)
class _Account:
    """What a password login reads about an account: one row, roles and permissions included."""

    id: uuid.UUID
    email: str
    password_hash: str | None
    is_active: bool
    locked_until: dt.datetime | None
    roles: list[str]
    permissions: list[str]


_ACCOUNT = text(
    f"""
    SELECT u.id, u.email, u.password_hash, u.is_active, u.locked_until,
           ARRAY(SELECT r.name FROM {SCHEMA}.user_role ur JOIN {SCHEMA}.role r ON r.id = ur.role_id
                 WHERE ur.user_id = u.id ORDER BY r.name) AS roles,
           ARRAY(SELECT DISTINCT p
                 FROM {SCHEMA}.user_role ur JOIN {SCHEMA}.role r ON r.id = ur.role_id,
                      unnest(r.permissions) AS p
                 WHERE ur.user_id = u.id) AS permissions
    FROM {SCHEMA}.users u WHERE u.email = :email
    """  # noqa: S608 - SCHEMA is a constant; the email is a bound parameter
)


async def login(
    session: AsyncSession, kit: AuthKit, email: str, password: str, client: ClientInfo
) -> TokenPair:
    """Email + password to an access and a refresh token (what the admin panel calls too).

    A login is the hot path next to Argon2, so its database work is two constant statements:
    one reads the account with its roles and permissions; after the hash checks out, one writes
    the session, its refresh token, the history row and the account's counters. Both run in
    the caller's `session` (its commit makes the login stick), not through the ORM.

    Unknown emails cost one Argon2 verification too, and answer the same as a wrong password.
    """
    limits = kit.settings.rate_limits
    await enforce_limit(kit, limits.login_per_ip, "login-ip", client.ip or "-")
    try:
        email = normalise_email(email)
    except InvalidEmail:
        await kit.passwords.verify(None, password)
        raise InvalidCredentials() from None
    await enforce_limit(kit, limits.login_per_account, "login-account", email)
    row = (await session.execute(_ACCOUNT, {"email": email})).first()
    account = _Account(**row._mapping) if row is not None else None
    if account is not None and account.locked_until is not None:
        wait = ceil((account.locked_until - _now()).total_seconds())
        if wait > 0:
            await _audit(kit, email=email, user_id=account.id, client=client,
                         outcome=LoginOutcome.LOCKED)  # fmt: skip
            raise TooManyAttempts(f"too many failed logins; retry in {wait} s", wait)
    check = await kit.passwords.verify(account.password_hash if account else None, password)
    if account is None:
        await _audit(kit, email=email, user_id=None, client=client,
                     outcome=LoginOutcome.UNKNOWN_ACCOUNT)  # fmt: skip
        raise InvalidCredentials()
    if not check.valid:
        await _register_failure(kit, account.id, email, client)
        raise InvalidCredentials()
    if not account.is_active:
        await _audit(kit, email=email, user_id=account.id, client=client,
                     outcome=LoginOutcome.INACTIVE)  # fmt: skip
        raise AccountInactive("this account is deactivated")
    if check.needs_rehash:
        # The cost settings changed since this hash was made: upgrade it while we have the
        # password, hashing before the login's write takes the account row's lock.
        upgraded = await kit.passwords.hash(password)
        await session.execute(
            update(User).where(User.id == account.id).values(password_hash=upgraded)
        )
        log.info("auth.password_rehashed", user_id=str(account.id))
    now = _now()
    pair = await _new_session(
        session, kit, user_id=account.id, email=account.email, roles=account.roles,
        permissions=account.permissions, client=client, method=LoginMethod.PASSWORD,
        now=now,
    )  # fmt: skip
    known = session.identity_map.get(identity_key(User, account.id))
    if known is not None:  # keep an account object the caller holds in step with the write
        _mark_logged_in(known, now)
    return pair


async def _deny(kit: AuthKit, jti: str | None, expires_at: dt.datetime | None) -> None:
    if jti is None or expires_at is None:
        return
    remaining = (expires_at - _now()).total_seconds() + kit.settings.leeway_seconds
    if remaining > 0:
        await kit.cache.set(denylist_key(kit.settings.redis_prefix, jti), "1", ttl=remaining)


async def revoke_sessions(kit: AuthKit, sessions: Sequence[Session], reason: str) -> int:
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
    row = (
        await session.scalars(
            select(RefreshToken).where(RefreshToken.token_hash == token_digest(refresh_token))
            .with_for_update()
        )
    ).first()  # fmt: skip
    if row is None:
        raise InvalidRefreshToken("unknown refresh token")
    if row.rotated_at is not None:
        async with kit.db.session() as audit:
            family = await audit.get(Session, row.session_id, with_for_update=True)
            if family is not None:
                await revoke_sessions(kit, [family], "refresh_token_reuse")
        log.warning("auth.refresh_reuse", session_id=str(row.session_id))
        raise InvalidRefreshToken("refresh token already used; the session is revoked")
    login = await session.get(Session, row.session_id, with_for_update=True)
    now = _now()
    if login is None or login.revoked_at is not None or login.expires_at <= now:
        raise InvalidRefreshToken("the session is no longer active")
    if row.expires_at <= now:
        raise InvalidRefreshToken("refresh token expired")
    user = await session.get(User, login.user_id)
    if user is None or not user.is_active:
        raise InvalidRefreshToken("the account is no longer active")
    row.rotated_at = now
    login.last_used = now
    # One live access token per session: the one it replaces stops working now.
    await _deny(kit, login.access_jti, login.access_expires_at)
    roles = await user_roles(session, user.id)
    access, claims = _sign(await kit.keys.signer(), kit, user.id, login.id, *_grants(roles))
    login.access_jti = claims.jti
    login.access_expires_at = dt.datetime.fromtimestamp(claims.expires_at, dt.UTC)
    token, next_row = _new_refresh_token(kit, login.id)
    session.add(RefreshToken(**next_row))
    await session.flush()
    return TokenPair(access, token, kit.settings.access_ttl_seconds, claims)


async def logout(session: AsyncSession, kit: AuthKit, claims: AccessClaims) -> None:
    """End the session the access token belongs to; the token stops working at once."""
    await _deny(kit, claims.jti, dt.datetime.fromtimestamp(claims.expires_at, dt.UTC))
    login = await session.get(Session, claims.session_id, with_for_update=True)
    if login is not None and login.user_id == claims.subject:
        await revoke_sessions(kit, [login], "logout")
    await session.flush()


async def logout_everywhere(session: AsyncSession, kit: AuthKit, user_id: uuid.UUID) -> int:
    active = await session.scalars(
        select(Session).where(Session.user_id == user_id, Session.revoked_at.is_(None))
        .with_for_update()
    )  # fmt: skip
    count = await revoke_sessions(kit, list(active), "logout_everywhere")
    await session.flush()
    return count


async def active_sessions(session: AsyncSession, user_id: uuid.UUID) -> list[Session]:
    statement = (
        select(Session)
        .where(Session.user_id == user_id, Session.revoked_at.is_(None),
               Session.expires_at > func.now())
        .order_by(Session.last_used.desc())
    )  # fmt: skip
    return list(await session.scalars(statement))


async def revoke_session(
    session: AsyncSession, kit: AuthKit, user_id: uuid.UUID, session_id: uuid.UUID
) -> None:
    login = await session.get(Session, session_id, with_for_update=True)
    if login is None or login.user_id != user_id:
        raise NotFound("no such session")
    await revoke_sessions(kit, [login], "revoked_by_user")
    await session.flush()


async def login_history(
    session: AsyncSession, user_id: uuid.UUID, *, page: int, size: int
) -> tuple[list[LoginHistory], int]:
    total = await session.scalar(
        select(func.count()).select_from(LoginHistory).where(LoginHistory.user_id == user_id)
    )
    rows = await session.scalars(
        select(LoginHistory).where(LoginHistory.user_id == user_id)
        .order_by(LoginHistory.created.desc(), LoginHistory.id)
        .offset((page - 1) * size).limit(size)
    )  # fmt: skip
    return list(rows), total or 0


async def user_by_email(session: AsyncSession, normalised: str) -> User | None:
    """The account with this already normalised email, if any."""
    return (await session.scalars(select(User).where(User.email == normalised))).first()


async def find_user(session: AsyncSession, email: str) -> User:
    """The account with this email (normalised), or `NotFound`."""
    normalised = normalise_email(email)
    user = await user_by_email(session, normalised)
    if user is None:
        raise NotFound(f"email: no account for {normalised}")
    return user


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("no such user")
    return user
