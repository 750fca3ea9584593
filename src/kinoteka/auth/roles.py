"""Role management: create roles, grant and revoke them (super users' use cases)."""

from __future__ import annotations

import re
import uuid

import structlog
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from kinoteka.auth.errors import Conflict, InvalidInput
from kinoteka.auth.models import Role, UserRole
from kinoteka.auth.permissions import is_valid_permission
from kinoteka.auth.service import get_role, get_user

log = structlog.get_logger(__name__)

_ROLE_NAME = re.compile(r"^[a-z][a-z0-9_]{1,62}$")


async def list_roles(session: AsyncSession) -> list[Role]:
    return list(await session.scalars(select(Role).order_by(Role.name)))


async def create_role(
    session: AsyncSession, name: str, permissions: list[str], description: str = ""
) -> Role:
    if not _ROLE_NAME.fullmatch(name):
        raise InvalidInput("name: lowercase letters, digits and underscores, 2-63 characters")
    bad = [permission for permission in permissions if not is_valid_permission(permission)]
    if bad:
        raise InvalidInput(f"permissions: not dotted names: {', '.join(bad)}")
    if await session.scalar(select(Role.id).where(Role.name == name)) is not None:
        raise Conflict(f"role {name!r} already exists")
    role = Role(name=name, description=description, permissions=sorted(set(permissions)))
    session.add(role)
    await session.flush()
    log.info("auth.role_created", role=name)
    return role


async def grant_role(session: AsyncSession, user_id: uuid.UUID, role_name: str) -> None:
    """Takes effect in the user's next access token (at the next refresh)."""
    user = await get_user(session, user_id)
    role = await get_role(session, role_name)
    held = await session.get(UserRole, (user.id, role.id))
    if held is None:
        session.add(UserRole(user_id=user.id, role_id=role.id))
        await session.flush()
        log.info("auth.role_granted", user_id=str(user.id), role=role.name)


async def revoke_role(session: AsyncSession, user_id: uuid.UUID, role_name: str) -> None:
    user = await get_user(session, user_id)
    role = await get_role(session, role_name)
    await session.execute(
        delete(UserRole).where(UserRole.user_id == user.id, UserRole.role_id == role.id)
    )
    log.info("auth.role_revoked", user_id=str(user.id), role=role.name)
