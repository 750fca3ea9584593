"""Issue #14's auth items: revocation takes effect, account deletion, forwarded headers only from
trusted proxies, and a super user cannot lock everyone out."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kinoteka.auth import off_account_deleted, on_account_deleted, service
from kinoteka.auth.kit import AuthKit
from kinoteka.auth.models import LoginHistory, LoginSession, User
from kinoteka.services import Services
from tests.auth.conftest import PASSWORD, app_client, make_services, new_email
from tests.auth.test_api import bearer, login, probe, sign_up_and_login

SPOOFED = "203.0.113.9"


@pytest.fixture
async def client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(services, probe) as built:
        yield built


async def _super_user(client: httpx.AsyncClient, kit: AuthKit) -> dict[str, Any]:
    email = new_email()
    async with kit.db.session() as session:
        user = await service.create_user(session, kit, email, PASSWORD, roles=["super_user"])
    return {"id": str(user.id), "email": email, **await login(client, email)}


async def _refresh(client: httpx.AsyncClient, refresh_token: str) -> dict[str, Any]:
    answer = await client.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})
    assert answer.status_code == 200, answer.text
    tokens: dict[str, Any] = answer.json()
    return tokens


async def test_a_role_change_takes_effect_on_the_next_request(
    client: httpx.AsyncClient, kit: AuthKit
) -> None:
    root = await _super_user(client, kit)
    user = await sign_up_and_login(client)
    granted = await client.post(
        f"/api/v1/auth/users/{user['id']}/roles", headers=bearer(root["access_token"]),
        json={"role": "admin"},
    )  # fmt: skip
    assert granted.status_code == 204
    # The token from before the grant is void at once; the refresh carries the new role.
    stale = await client.get("/probe/admin", headers=bearer(user["access_token"]))
    assert stale.status_code == 401
    assert "refresh" in stale.json()["detail"]
    editor = await _refresh(client, user["refresh_token"])
    assert (await client.get("/probe/admin", headers=bearer(editor["access_token"]))).is_success

    revoked = await client.delete(
        f"/api/v1/auth/users/{user['id']}/roles/admin", headers=bearer(root["access_token"])
    )
    assert revoked.status_code == 204
    # Not at the next refresh: the next request, with a token that has not expired.
    after = await client.get("/probe/admin", headers=bearer(editor["access_token"]))
    assert after.status_code == 401
    plain = await _refresh(client, editor["refresh_token"])
    assert (
        await client.get("/probe/admin", headers=bearer(plain["access_token"]))
    ).status_code == (403)
    # The super user's own token was never touched.
    assert (await client.get("/api/v1/auth/me", headers=bearer(root["access_token"]))).is_success


async def test_a_deactivated_account_is_refused_at_once(
    client: httpx.AsyncClient, kit: AuthKit
) -> None:
    root = await _super_user(client, kit)
    user = await sign_up_and_login(client)
    done = await client.post(
        f"/api/v1/auth/users/{user['id']}/deactivate", headers=bearer(root["access_token"])
    )
    assert done.status_code == 204
    assert (
        await client.get("/api/v1/auth/me", headers=bearer(user["access_token"]))
    ).status_code == 401
    refused = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": user["refresh_token"]}
    )
    assert refused.status_code == 401


async def _counts(session: AsyncSession, user_id: uuid.UUID) -> tuple[int, int, int]:
    users = await session.scalar(select(func.count()).select_from(User).where(User.id == user_id))
    sessions = await session.scalar(
        select(func.count()).select_from(LoginSession).where(LoginSession.user_id == user_id)
    )
    history = await session.scalar(
        select(func.count()).select_from(LoginHistory).where(LoginHistory.user_id == user_id)
    )
    return users or 0, sessions or 0, history or 0


async def test_holders_delete_their_account_and_its_data(
    client: httpx.AsyncClient, kit: AuthKit
) -> None:
    told: list[uuid.UUID] = []

    async def remember(session: AsyncSession, user_id: uuid.UUID) -> None:
        told.append(user_id)

    on_account_deleted(remember)
    try:
        await _delete_own_account(client, kit, told)
    finally:
        off_account_deleted(remember)


async def _delete_own_account(
    client: httpx.AsyncClient, kit: AuthKit, told: list[uuid.UUID]
) -> None:
    user = await sign_up_and_login(client)
    user_id = uuid.UUID(user["id"])
    wrong = await client.request(
        "DELETE", "/api/v1/auth/me", json={"password": "not the password 1"},
        headers=bearer(user["access_token"]),
    )  # fmt: skip
    assert wrong.status_code == 401
    async with kit.db.session() as session:
        assert await _counts(session, user_id) == (1, 1, 1)

    gone = await client.request(
        "DELETE", "/api/v1/auth/me", json={"password": PASSWORD},
        headers=bearer(user["access_token"]),
    )  # fmt: skip

    assert gone.status_code == 204
    assert user_id in told
    async with kit.db.session() as session:
        assert await _counts(session, user_id) == (0, 0, 0)
    assert (
        await client.get("/api/v1/auth/me", headers=bearer(user["access_token"]))
    ).status_code == 401
    again = await client.post(
        "/api/v1/auth/login", json={"email": user["email"], "password": PASSWORD}
    )
    assert again.status_code == 401
    # The email is free again.
    assert (await sign_up_and_login(client, user["email"]))["id"] != user["id"]


async def test_managers_delete_other_accounts_not_their_own(
    client: httpx.AsyncClient, kit: AuthKit
) -> None:
    root = await _super_user(client, kit)
    user = await sign_up_and_login(client)
    gone = await client.delete(
        f"/api/v1/auth/users/{user['id']}", headers=bearer(root["access_token"])
    )
    assert gone.status_code == 204
    assert (
        await client.get("/api/v1/auth/me", headers=bearer(user["access_token"]))
    ).status_code == 401
    missing = await client.delete(
        f"/api/v1/auth/users/{user['id']}", headers=bearer(root["access_token"])
    )
    assert missing.status_code == 404
    own = await client.delete(
        f"/api/v1/auth/users/{root['id']}", headers=bearer(root["access_token"])
    )
    assert own.status_code == 409
    forbidden = await client.delete(
        f"/api/v1/auth/users/{root['id']}",
        headers=bearer((await sign_up_and_login(client))["access_token"]),
    )
    assert forbidden.status_code == 403


async def test_a_super_user_cannot_lock_everyone_out(
    client: httpx.AsyncClient, kit: AuthKit
) -> None:
    root = await _super_user(client, kit)
    headers = bearer(root["access_token"])

    own = await client.post(f"/api/v1/auth/users/{root['id']}/deactivate", headers=headers)
    assert own.status_code == 409
    assert "own account" in own.json()["detail"]
    last = await client.delete(f"/api/v1/auth/users/{root['id']}/roles/super_user", headers=headers)
    assert last.status_code == 409
    assert "last active super user" in last.json()["detail"]
    closing = await client.post(
        "/api/v1/auth/deactivate", json={"password": PASSWORD}, headers=headers
    )
    assert closing.status_code == 409
    deleting = await client.request(
        "DELETE", "/api/v1/auth/me", json={"password": PASSWORD}, headers=headers
    )
    assert deleting.status_code == 409
    assert (await client.get("/api/v1/auth/me", headers=headers)).is_success

    # With a second super user, the first may step down.
    second = await _super_user(client, kit)
    stepped = await client.delete(
        f"/api/v1/auth/users/{root['id']}/roles/super_user", headers=bearer(second["access_token"])
    )
    assert stepped.status_code == 204
    now_last = await client.post(
        f"/api/v1/auth/users/{second['id']}/deactivate",
        headers=bearer((await _refresh(client, root["refresh_token"]))["access_token"]),
    )
    assert now_last.status_code == 403  # root no longer manages users


async def _spoofed_history_ip(client: httpx.AsyncClient) -> str | None:
    email = new_email()
    signed = await client.post(
        "/api/v1/auth/signup", json={"email": email, "password": PASSWORD},
        headers={"X-Forwarded-For": SPOOFED},
    )  # fmt: skip
    assert signed.status_code == 201, signed.text
    token = signed.json()["tokens"]["access_token"]
    page = await client.get("/api/v1/auth/history", headers=bearer(token))
    ip: str | None = page.json()["items"][0]["ip"]
    return ip


async def test_forwarded_for_is_ignored_without_a_trusted_proxy(
    fresh_database: str, flushed_redis: str
) -> None:
    services = await make_services(
        fresh_database, flushed_redis, rate_limits={"signup_per_ip": "1/hour"}
    )
    try:
        async with app_client(services) as client:
            assert await _spoofed_history_ip(client) == "127.0.0.1"
            # A new X-Forwarded-For does not buy a new per-IP allowance.
            other = await client.post(
                "/api/v1/auth/signup", json={"email": new_email(), "password": PASSWORD},
                headers={"X-Forwarded-For": "198.51.100.7"},
            )  # fmt: skip
            assert other.status_code == 429
    finally:
        await services.close()


async def test_forwarded_for_is_believed_from_a_trusted_proxy(
    fresh_database: str, flushed_redis: str
) -> None:
    services = await make_services(
        fresh_database, flushed_redis, trusted_proxies=["127.0.0.0/8"],
        rate_limits={"signup_per_ip": "1/hour"},
    )  # fmt: skip
    try:
        async with app_client(services) as client:
            assert await _spoofed_history_ip(client) == SPOOFED
            other = await client.post(
                "/api/v1/auth/signup", json={"email": new_email(), "password": PASSWORD},
                headers={"X-Forwarded-For": "198.51.100.7"},
            )  # fmt: skip
            assert other.status_code == 201
    finally:
        await services.close()


def test_trusted_proxies_are_read_as_a_list_of_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    from kinoteka.settings import SettingsError, load_settings

    monkeypatch.setenv("KINOTEKA_TRUSTED_PROXIES", "10.0.0.1, 192.168.0.0/16")
    assert load_settings().trusted_proxies == ["10.0.0.1", "192.168.0.0/16"]
    monkeypatch.setenv("KINOTEKA_TRUSTED_PROXIES", "proxy.example.com")
    with pytest.raises(SettingsError, match=r"KINOTEKA_TRUSTED_PROXIES: .*not an IP address"):
        load_settings()
