"""Auth's queries, in one place: the use cases (`service`, `login`, `sessions`, `account`,
`roles`) hold the rules and call these; every value reaches SQL as a bound parameter."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from kinoteka.auth.models import (
    SCHEMA,
    LoginHistory,
    LoginOutcome,
    LoginSession,
    OAuthAccount,
    PasswordReset,
    RefreshToken,
    Role,
    User,
    UserRole,
)


async def role_by_name(session: AsyncSession, name: str) -> Role | None:
    return (await session.scalars(select(Role).where(Role.name == name))).first()


async def all_roles(session: AsyncSession) -> list[Role]:
    return list(await session.scalars(select(Role).order_by(Role.name)))


async def user_roles(session: AsyncSession, user_id: uuid.UUID) -> list[Role]:
    statement = (
        select(Role).join(UserRole, UserRole.role_id == Role.id).where(UserRole.user_id == user_id)
    )
    return list(await session.scalars(statement.order_by(Role.name)))


async def remove_user_role(session: AsyncSession, user_id: uuid.UUID, role_id: uuid.UUID) -> None:
    await session.execute(
        delete(UserRole).where(UserRole.user_id == user_id, UserRole.role_id == role_id)
    )


async def user_by_email(session: AsyncSession, normalised: str) -> User | None:
    """The account with this already normalised email, if any."""
    return (await session.scalars(select(User).where(User.email == normalised))).first()


async def email_in_use(session: AsyncSession, normalised: str) -> bool:
    return await session.scalar(select(User.id).where(User.email == normalised)) is not None


async def user_by_id(
    session: AsyncSession, user_id: uuid.UUID, *, for_update: bool = False
) -> User | None:
    return await session.get(User, user_id, with_for_update=for_update)


@dataclass(frozen=True)
class LoginAccount:
    """What a password login reads about an account: one row, roles and permissions included."""

    id: uuid.UUID
    email: str
    password_hash: str | None
    is_active: bool
    locked_until: dt.datetime | None
    roles: list[str]
    permissions: list[str]


_LOGIN_ACCOUNT = text(
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


async def login_account(session: AsyncSession, normalised: str) -> LoginAccount | None:
    row = (await session.execute(_LOGIN_ACCOUNT, {"email": normalised})).first()
    return LoginAccount(**row._mapping) if row is not None else None


async def count_failed_login(session: AsyncSession, user_id: uuid.UUID) -> int:
    """Add one to the account's consecutive failures; the new count."""
    failures = await session.scalar(
        update(User).where(User.id == user_id)
        .values(failed_logins=User.failed_logins + 1).returning(User.failed_logins)
    )  # fmt: skip
    return failures or 0


async def lock_until(session: AsyncSession, user_id: uuid.UUID, until: dt.datetime) -> None:
    await session.execute(update(User).where(User.id == user_id).values(locked_until=until))


async def set_password_hash(session: AsyncSession, user_id: uuid.UUID, password_hash: str) -> None:
    await session.execute(
        update(User).where(User.id == user_id).values(password_hash=password_hash)
    )


async def add_history(session: AsyncSession, values: dict[str, Any]) -> None:
    session.add(LoginHistory(**values))
    await session.flush()


def _session_start_statement() -> Any:
    """The writes of a successful login as one statement with named parameters, built once.

    The session, its first refresh token, the history row and the account's counters go in one
    round trip; a constant statement is compiled once and served from SQLAlchemy's cache.
    """
    users, sessions, refresh_tokens, history = (
        cast(Table, model.__table__) for model in (User, LoginSession, RefreshToken, LoginHistory)
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


async def write_session_start(session: AsyncSession, parameters: dict[str, Any]) -> None:
    """Session, first refresh token, history row and counters (the `p_…` parameters)."""
    await session.execute(_SESSION_START, parameters)


async def refresh_token_by_hash(session: AsyncSession, token_hash: str) -> RefreshToken | None:
    return (
        await session.scalars(
            select(RefreshToken).where(RefreshToken.token_hash == token_hash).with_for_update()
        )
    ).first()


def add_refresh_token(session: AsyncSession, values: dict[str, Any]) -> None:
    session.add(RefreshToken(**values))


async def login_session(
    session: AsyncSession, session_id: uuid.UUID, *, for_update: bool = True
) -> LoginSession | None:
    return await session.get(LoginSession, session_id, with_for_update=for_update)


async def open_sessions(
    session: AsyncSession, user_id: uuid.UUID, *, except_id: uuid.UUID | None = None
) -> list[LoginSession]:
    """The account's unrevoked sessions (locked for update), but `except_id`."""
    statement = select(LoginSession).where(
        LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None)
    )
    if except_id is not None:
        statement = statement.where(LoginSession.id != except_id)
    return list(await session.scalars(statement.with_for_update()))


async def live_sessions(session: AsyncSession, user_id: uuid.UUID) -> list[LoginSession]:
    """Unrevoked, unexpired sessions, most recently used first."""
    statement = (
        select(LoginSession)
        .where(LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None),
               LoginSession.expires_at > func.now())
        .order_by(LoginSession.last_used.desc())
    )  # fmt: skip
    return list(await session.scalars(statement))


async def history_page(
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


async def reset_by_hash(
    session: AsyncSession, token_hash: str, *, lock: bool = True
) -> PasswordReset | None:
    statement = select(PasswordReset).where(PasswordReset.token_hash == token_hash)
    return (await session.scalars(statement.with_for_update() if lock else statement)).first()


async def oauth_link(session: AsyncSession, provider: str, subject: str) -> OAuthAccount | None:
    return (
        await session.scalars(
            select(OAuthAccount).where(
                OAuthAccount.provider == provider, OAuthAccount.subject == subject
            )
        )
    ).first()


async def delete_account_rows(session: AsyncSession, user_id: uuid.UUID) -> None:
    """The account and everything auth keeps about it.

    Sessions, refresh tokens, roles, reset tokens and social links go with the user row (their
    foreign keys cascade); the login history has no foreign key (it records unknown emails
    too), so its rows are deleted here.
    """
    await session.execute(delete(LoginHistory).where(LoginHistory.user_id == user_id))
    await session.execute(delete(User).where(User.id == user_id))


def _active_holders(role_name: str) -> Any:
    return (
        select(UserRole.user_id)
        .join(Role, Role.id == UserRole.role_id).join(User, User.id == UserRole.user_id)
        .where(Role.name == role_name, User.is_active.is_(True))
    )  # fmt: skip


async def lock_role_holders(session: AsyncSession, role_name: str) -> Sequence[uuid.UUID]:
    """Lock the rows of the role's active holders, so two removals cannot both pass the check."""
    statement = (
        select(User.id).where(User.id.in_(_active_holders(role_name)))
        .order_by(User.id).with_for_update()
    )  # fmt: skip
    return list(await session.scalars(statement))


async def user_by_confirm_hash(session: AsyncSession, digest: str) -> User | None:
    return await session.scalar(select(User).where(User.email_confirm_hash == digest))


async def known_device(session: AsyncSession, user_id: uuid.UUID, user_agent: str | None) -> bool:
    """Whether the account signed in successfully before from this User-Agent (or never did:
    the first sign-in is no news)."""
    seen = (
        await session.execute(
            select(
                func.count().filter(LoginHistory.user_agent.is_not_distinct_from(user_agent)),
                func.count(),
            ).where(LoginHistory.user_id == user_id, LoginHistory.outcome == LoginOutcome.SUCCESS)
        )
    ).one()
    return bool(seen[0]) or not seen[1]


async def account_addresses(
    session: AsyncSession, *, role: str | None = None, after: uuid.UUID | None = None,
    limit: int = 1000, among: Sequence[uuid.UUID] | None = None,
) -> list[tuple[uuid.UUID, str]]:  # fmt: skip
    """Active accounts' (id, email), of `role` or all (or only those of `among`, ids another
    context selected), in id order after `after`."""
    query = select(User.id, User.email).where(User.is_active).order_by(User.id).limit(limit)
    if after is not None:
        query = query.where(User.id > after)
    if among is not None:
        query = query.where(User.id.in_(among))
    if role is not None:
        query = query.where(
            select(UserRole.user_id).join(Role, Role.id == UserRole.role_id)
            .where(UserRole.user_id == User.id, Role.name == role).exists()
        )  # fmt: skip
    return [(row.id, row.email) for row in await session.execute(query)]
