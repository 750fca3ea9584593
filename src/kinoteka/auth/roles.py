"""Role management: create roles, grant and revoke them (super users' use cases).

A grant or a revocation voids the account's access tokens at once: its next request with an
old token is refused with "refresh it", and the refresh carries the roles that hold now.
"""

from __future__ import annotations

import re
import uuid

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from kinoteka.auth import repository
from kinoteka.auth.account import ensure_not_last_super_user
from kinoteka.auth.errors import Conflict, InvalidInput
from kinoteka.auth.kit import AuthKit
from kinoteka.auth.models import Role, UserRole
from kinoteka.auth.permissions import RoleName, is_valid_permission
from kinoteka.auth.service import get_role, get_user
from kinoteka.auth.sessions import void_issued_tokens

log = structlog.get_logger(__name__)

_ROLE_NAME = re.compile(r"^[a-z][a-z0-9_]{1,62}$")


async def list_roles(session: AsyncSession) -> list[Role]:
    return await repository.all_roles(session)


async def create_role(
    session: AsyncSession, name: str, permissions: list[str], description: str = ""
) -> Role:
    if not _ROLE_NAME.fullmatch(name):
        raise InvalidInput("name: lowercase letters, digits and underscores, 2-63 characters")
    bad = [permission for permission in permissions if not is_valid_permission(permission)]
    if bad:
        raise InvalidInput(f"permissions: not dotted names: {', '.join(bad)}")
    if await repository.role_by_name(session, name) is not None:
        raise Conflict(f"role {name!r} already exists")
    role = Role(name=name, description=description, permissions=sorted(set(permissions)))
    session.add(role)
    await session.flush()
    log.info("auth.role_created", role=name)
    return role


async def grant_role(
    session: AsyncSession, kit: AuthKit, user_id: uuid.UUID, role_name: str
) -> None:
    """The account's next token carries the role (its current ones are voided)."""
    user = await get_user(session, user_id)
    role = await get_role(session, role_name)
    held = await session.get(UserRole, (user.id, role.id))
    if held is None:
        session.add(UserRole(user_id=user.id, role_id=role.id))
        await session.flush()
        await void_issued_tokens(kit, user.id)
        log.info("auth.role_granted", user_id=str(user.id), role=role.name)


async def revoke_role(
    session: AsyncSession, kit: AuthKit, user_id: uuid.UUID, role_name: str
) -> None:
    """The account's tokens stop carrying the role from its next request.

    Taking super_user from its last active holder is refused (`Conflict`).
    """
    user = await get_user(session, user_id)
    role = await get_role(session, role_name)
    if role.name == RoleName.SUPER_USER:
        await ensure_not_last_super_user(session, user.id)
    await repository.remove_user_role(session, user.id, role.id)
    await void_issued_tokens(kit, user.id)
    log.info("auth.role_revoked", user_id=str(user.id), role=role.name)


async def role_names(session: AsyncSession) -> list[str]:
    """Every role's name, alphabetical."""
    return [role.name for role in await repository.all_roles(session)]


async def account_role_names(session: AsyncSession, user_id: uuid.UUID) -> list[str]:
    """The names of the roles the account holds, alphabetical."""
    return [role.name for role in await repository.user_roles(session, user_id)]


async def set_account_roles(
    session: AsyncSession, kit: AuthKit, user_id: uuid.UUID, wanted: set[str]
) -> tuple[list[str], list[str]]:
    """Make the account hold exactly `wanted`; the roles granted and revoked, sorted."""
    held = set(await account_role_names(session, user_id))
    granted, revoked = sorted(wanted - held), sorted(held - wanted)
    for name in granted:
        await grant_role(session, kit, user_id, name)
    for name in revoked:
        await revoke_role(session, kit, user_id, name)
    return granted, revoked
