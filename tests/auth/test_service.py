"""The use cases the admin panel and other contexts call: sign-up, login, refresh, roles."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kinoteka.auth import login as login_service
from kinoteka.auth import roles, service, sessions
from kinoteka.auth.devices import ClientInfo
from kinoteka.auth.errors import (
    EmailTaken,
    InvalidCredentials,
    InvalidEmail,
    InvalidRefreshToken,
    WeakPassword,
)
from kinoteka.auth.kit import AuthKit
from kinoteka.auth.models import LoginSession, User
from kinoteka.auth.permissions import BUILTIN_ROLES, Permission, RoleName
from kinoteka.auth.tokens import denylist_key
from tests.auth.conftest import PASSWORD, new_email

CLIENT = ClientInfo(ip="10.0.0.1", user_agent="Mozilla/5.0 (X11; Linux) Firefox/130.0")


async def test_login_gives_verifiable_tokens_with_the_default_role(kit: AuthKit) -> None:
    email = new_email()
    async with kit.db.session() as session:
        user, _ = await service.sign_up(session, kit, email, PASSWORD, CLIENT)
        assert user.email == email.lower()
    async with kit.db.session() as session:
        pair = await login_service.login(session, kit, email.upper(), PASSWORD, CLIENT)
    claims = await kit.verifier.verify(pair.access_token)
    assert claims.subject == user.id
    assert claims.roles == {"public_user"}
    assert claims.permissions == set(BUILTIN_ROLES[RoleName.PUBLIC_USER][1])
    assert claims.expires_at - int(claims.issued_at) == kit.settings.access_ttl_seconds
    assert not claims.has(Permission.ADMIN_ACCESS)


async def test_builtin_roles_in_the_migration_match_the_code(kit: AuthKit) -> None:
    async with kit.db.session() as session:
        stored = {role.name: set(role.permissions) for role in await roles.list_roles(session)}
    assert stored == {str(name): set(perms) for name, (_, perms) in BUILTIN_ROLES.items()}


async def test_sign_up_rejects_bad_input_with_field_named(kit: AuthKit) -> None:
    async with kit.db.session() as session:
        with pytest.raises(InvalidEmail, match="email"):
            await service.sign_up(session, kit, "not-an-email", PASSWORD, CLIENT)
        with pytest.raises(WeakPassword, match="at least 10 characters"):
            await service.sign_up(session, kit, new_email(), "short1", CLIENT)
        with pytest.raises(WeakPassword, match="digit or a symbol"):
            await service.sign_up(session, kit, new_email(), "onlylettershere", CLIENT)
        email = new_email()
        await service.sign_up(session, kit, email, PASSWORD, CLIENT)
        with pytest.raises(EmailTaken):
            await service.sign_up(session, kit, "  " + email.upper() + " ", PASSWORD, CLIENT)


async def test_unknown_email_and_wrong_password_answer_the_same(kit: AuthKit) -> None:
    email = new_email()
    async with kit.db.session() as session:
        await service.sign_up(session, kit, email, PASSWORD, CLIENT)
    messages = []
    for who, password in ((email, "wrong password 1"), (new_email(), PASSWORD)):
        async with kit.db.session() as session:
            with pytest.raises(InvalidCredentials) as caught:
                await login_service.login(session, kit, who, password, CLIENT)
            messages.append(str(caught.value))
    assert messages[0] == messages[1] == "invalid email or password"


async def test_refresh_rotates_and_reuse_revokes_the_family(kit: AuthKit) -> None:
    email = new_email()
    async with kit.db.session() as session:
        await service.sign_up(session, kit, email, PASSWORD, CLIENT)
        first = await login_service.login(session, kit, email, PASSWORD, CLIENT)
    async with kit.db.session() as session:
        second = await sessions.refresh(session, kit, first.refresh_token, CLIENT)
    assert second.refresh_token != first.refresh_token
    assert second.claims.session_id == first.claims.session_id
    # The replaced access token is denylisted: one live access token per session.
    assert await kit.cache.exists(denylist_key(kit.settings.redis_prefix, first.claims.jti))

    async with kit.db.session() as session:
        with pytest.raises(InvalidRefreshToken, match="already used"):
            await sessions.refresh(session, kit, first.refresh_token, CLIENT)
    async with kit.db.session() as session:
        family = await session.get(LoginSession, first.claims.session_id)
        assert family is not None
        assert family.revoked_reason == "refresh_token_reuse"
        with pytest.raises(InvalidRefreshToken):
            await sessions.refresh(session, kit, second.refresh_token, CLIENT)
    assert await kit.cache.exists(denylist_key(kit.settings.redis_prefix, second.claims.jti))


async def test_granted_role_shows_after_the_next_refresh(kit: AuthKit) -> None:
    email = new_email()
    async with kit.db.session() as session:
        user, _ = await service.sign_up(session, kit, email, PASSWORD, CLIENT)
        pair = await login_service.login(session, kit, email, PASSWORD, CLIENT)
    async with kit.db.session() as session:
        await roles.grant_role(session, kit, user.id, "admin")
    async with kit.db.session() as session:
        renewed = await sessions.refresh(session, kit, pair.refresh_token, CLIENT)
    assert renewed.claims.has(Permission.ADMIN_ACCESS)
    assert "admin" in renewed.claims.roles


async def test_login_rehashes_when_the_cost_changes(kit: AuthKit) -> None:
    email = new_email()
    async with kit.db.session() as session:
        await service.sign_up(session, kit, email, PASSWORD, CLIENT)
    kit.passwords.hasher = type(kit.passwords.hasher)(
        time_cost=2, memory_cost=512, parallelism=1, hash_len=32, salt_len=16
    )
    async with kit.db.session() as session:
        await login_service.login(session, kit, email, PASSWORD, CLIENT)
    async with kit.db.session() as session:
        user = (await session.scalars(select(User).where(User.email == email.lower()))).one()
        assert user.password_hash is not None
        assert "m=512,t=2,p=1" in user.password_hash
