"""The auth API over HTTP: the full flow, sessions, history partitions, roles, resets, CORS."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends
from sqlalchemy import text

from kinoteka.auth import service
from kinoteka.auth.deps import require_permission
from kinoteka.auth.kit import AuthKit
from kinoteka.auth.outbox import AccountEvent
from kinoteka.auth.tokens import AccessClaims, JwksKeySource, TokenVerifier
from kinoteka.services import Services
from tests.auth.conftest import PASSWORD, app_client, make_services, new_email

WEB = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
MOBILE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"
SMART_TV = "Mozilla/5.0 (SMART-TV; Linux; Tizen 7.0) AppleWebKit/537.36 SamsungBrowser/4.0 TV"
OTHER = "curl/8.5.0"

probe = APIRouter()


@probe.get("/probe/admin")
async def admin_only(
    claims: Annotated[AccessClaims, Depends(require_permission("admin.access"))],
) -> dict[str, str]:
    return {"sub": str(claims.subject)}


async def recorded_event(kit: AuthKit, topic: AccountEvent, email: str) -> dict[str, str]:
    """The newest event of `topic` about `email` waiting in auth's outbox."""
    async with kit.db.session() as session:
        payload = await session.scalar(
            text(
                "SELECT payload FROM auth.outbox"
                " WHERE topic = :topic AND payload->>'email' = :email"
                " ORDER BY created DESC LIMIT 1"
            ),
            {"topic": str(topic), "email": email},
        )
    assert payload is not None, f"no {topic} event for {email}"
    return dict(payload)


@pytest.fixture
async def client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(services, probe) as built:
        yield built


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def sign_up_and_login(
    client: httpx.AsyncClient, email: str | None = None, agent: str = WEB
) -> dict[str, Any]:
    """Sign-up answers the account and its first tokens: no separate login."""
    email = email or new_email()
    answer = await client.post(
        "/api/v1/auth/signup", json={"email": email, "password": PASSWORD},
        headers={"User-Agent": agent},
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["email"] == email.lower()
    assert body["tokens"]["token_type"] == "bearer"
    return {"email": email, "id": body["id"], **body["tokens"]}


async def login(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD, agent: str = WEB
) -> dict[str, Any]:
    answer = await client.post(
        "/api/v1/auth/login", json={"email": email, "password": password},
        headers={"User-Agent": agent},
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    tokens: dict[str, Any] = answer.json()
    return tokens


async def test_full_flow(fresh_database: str, any_redis: str, embedded_postgres: str) -> None:
    services = await make_services(fresh_database, any_redis)
    async with app_client(services) as client:
        account = await sign_up_and_login(client, agent=WEB)
        me = await client.get("/api/v1/auth/me", headers=bearer(account["access_token"]))
        assert me.status_code == 200
        assert me.json()["roles"] == ["public_user"]

        answer = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": account["refresh_token"]}
        )
        assert answer.status_code == 200
        renewed = answer.json()
        assert (
            await client.get("/api/v1/auth/me", headers=bearer(renewed["access_token"]))
        ).is_success
        # Reusing the spent refresh token revokes the whole family, new pair included.
        reuse = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": account["refresh_token"]}
        )
        assert reuse.status_code == 401
        assert "revoked" in reuse.json()["detail"]
        follow = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": renewed["refresh_token"]}
        )
        assert follow.status_code == 401
        gone = await client.get("/api/v1/auth/me", headers=bearer(renewed["access_token"]))
        assert gone.status_code == 401

        # Logout: the access token is refused at once.
        mobile = await login(client, account["email"], agent=MOBILE)
        assert (
            await client.get("/api/v1/auth/me", headers=bearer(mobile["access_token"]))
        ).is_success
        out = await client.post("/api/v1/auth/logout", headers=bearer(mobile["access_token"]))
        assert out.status_code == 204
        after = await client.get("/api/v1/auth/me", headers=bearer(mobile["access_token"]))
        assert after.status_code == 401
        assert after.headers["WWW-Authenticate"] == "Bearer"

        tv = await login(client, account["email"], agent=SMART_TV)
        wrong = await client.post(
            "/api/v1/auth/login", json={"email": account["email"], "password": "nope nope 1"},
            headers={"User-Agent": OTHER},
        )  # fmt: skip
        assert wrong.status_code == 401

        page = await client.get("/api/v1/auth/history?size=2", headers=bearer(tv["access_token"]))
        assert page.status_code == 200
        body = page.json()
        assert body["total"] == 4
        assert len(body["items"]) == 2
        assert [item["outcome"] for item in body["items"]] == ["wrong_password", "success"]
        assert [item["device_type"] for item in body["items"]] == ["other", "smart_tv"]
        second = await client.get(
            "/api/v1/auth/history?size=2&page=2", headers=bearer(tv["access_token"])
        )
        assert [item["device_type"] for item in second.json()["items"]] == ["mobile", "web"]

    # Each row sits in the partition table of its device type.
    async with services.db.session() as session:
        for device, outcome in (("web", "success"), ("mobile", "success"),
                                ("smart_tv", "success"), ("other", "wrong_password")):  # fmt: skip
            rows = (
                await session.execute(
                    text(f"SELECT outcome FROM auth.login_history_{device} WHERE user_id = :u"),  # noqa: S608 - device from the fixed tuple above
                    {"u": uuid.UUID(account["id"])},
                )
            ).scalars().all()  # fmt: skip
            assert rows == [outcome], device
    await services.close()


async def test_sessions_are_listed_and_revocable(client: httpx.AsyncClient) -> None:
    account = await sign_up_and_login(client, agent=WEB)
    phone = await login(client, account["email"], agent=MOBILE)
    listed = await client.get("/api/v1/auth/sessions", headers=bearer(account["access_token"]))
    sessions = listed.json()
    assert len(sessions) == 2
    current = [item for item in sessions if item["current"]]
    assert [item["device_type"] for item in current] == ["web"]
    other = next(item for item in sessions if not item["current"])
    gone = await client.delete(
        f"/api/v1/auth/sessions/{other['id']}", headers=bearer(account["access_token"])
    )
    assert gone.status_code == 204
    assert (
        await client.get("/api/v1/auth/me", headers=bearer(phone["access_token"]))
    ).status_code == 401
    refused = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]}
    )
    assert refused.status_code == 401
    # Someone else's session id is not found, not revoked.
    stranger = await sign_up_and_login(client)
    foreign = await client.delete(
        f"/api/v1/auth/sessions/{sessions[0]['id']}", headers=bearer(stranger["access_token"])
    )
    assert foreign.status_code == 404

    everywhere = await client.post(
        "/api/v1/auth/logout-all", headers=bearer(account["access_token"])
    )
    assert everywhere.status_code == 204
    assert (
        await client.get("/api/v1/auth/me", headers=bearer(account["access_token"]))
    ).status_code == 401


async def test_roles_need_permissions_and_grants_apply_after_refresh(
    client: httpx.AsyncClient, kit: AuthKit
) -> None:
    user = await sign_up_and_login(client)
    assert (
        await client.get("/probe/admin", headers=bearer(user["access_token"]))
    ).status_code == 403
    assert (
        await client.get("/api/v1/auth/roles", headers=bearer(user["access_token"]))
    ).status_code == 403
    assert (await client.get("/probe/admin")).status_code == 401

    root_email = new_email()
    async with kit.db.session() as session:
        await service.create_user(session, kit, root_email, PASSWORD, roles=["super_user"])
    root = await login(client, root_email)
    made = await client.post(
        "/api/v1/auth/roles", headers=bearer(root["access_token"]),
        json={"name": "moderator", "permissions": ["ugc.moderate", "admin.access"]},
    )  # fmt: skip
    assert made.status_code == 201, made.text
    again = await client.post(
        "/api/v1/auth/roles", headers=bearer(root["access_token"]),
        json={"name": "moderator", "permissions": []},
    )  # fmt: skip
    assert again.status_code == 409
    bad = await client.post(
        "/api/v1/auth/roles", headers=bearer(root["access_token"]),
        json={"name": "x y", "permissions": ["Not A Permission"]},
    )  # fmt: skip
    assert bad.status_code == 422
    granted = await client.post(
        f"/api/v1/auth/users/{user['id']}/roles", headers=bearer(root["access_token"]),
        json={"role": "moderator"},
    )  # fmt: skip
    assert granted.status_code == 204

    renewed = (
        await client.post("/api/v1/auth/refresh", json={"refresh_token": user["refresh_token"]})
    ).json()
    allowed = await client.get("/probe/admin", headers=bearer(renewed["access_token"]))
    assert allowed.status_code == 200
    assert allowed.json() == {"sub": user["id"]}

    revoked = await client.delete(
        f"/api/v1/auth/users/{user['id']}/roles/moderator", headers=bearer(root["access_token"])
    )
    assert revoked.status_code == 204
    again_renewed = (
        await client.post("/api/v1/auth/refresh", json={"refresh_token": renewed["refresh_token"]})
    ).json()
    denied = await client.get("/probe/admin", headers=bearer(again_renewed["access_token"]))
    assert denied.status_code == 403


async def test_password_reset_change_and_deactivation(
    client: httpx.AsyncClient, kit: AuthKit
) -> None:
    account = await sign_up_and_login(client)
    email = account["email"].lower()
    unknown = await client.post("/api/v1/auth/password/reset-request", json={"email": new_email()})
    asked = await client.post("/api/v1/auth/password/reset-request", json={"email": email})
    assert unknown.status_code == asked.status_code == 202
    assert unknown.json() == asked.json()
    event = await recorded_event(kit, AccountEvent.PASSWORD_RESET_REQUESTED, email)
    token = event["token"]
    assert event["reset_url"].endswith(f"?token={token}")

    weak = await client.post(
        "/api/v1/auth/password/reset", json={"token": token, "new_password": "x"}
    )
    assert weak.status_code == 422
    assert weak.json()["detail"].startswith("password:")
    done = await client.post(
        "/api/v1/auth/password/reset", json={"token": token, "new_password": "brand new pass 7"}
    )
    assert done.status_code == 204
    # Every session ended; the old password no longer works; the token is spent.
    assert (
        await client.get("/api/v1/auth/me", headers=bearer(account["access_token"]))
    ).status_code == 401
    old = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert old.status_code == 401
    spent = await client.post(
        "/api/v1/auth/password/reset", json={"token": token, "new_password": "another pass 8"}
    )
    assert spent.status_code == 400

    tokens = await login(client, email, "brand new pass 7")
    changed = await client.post(
        "/api/v1/auth/password/change", headers=bearer(tokens["access_token"]),
        json={"current_password": "wrong current 1", "new_password": "third pass 99"},
    )  # fmt: skip
    assert changed.status_code == 401
    changed = await client.post(
        "/api/v1/auth/password/change", headers=bearer(tokens["access_token"]),
        json={"current_password": "brand new pass 7", "new_password": "third pass 99"},
    )  # fmt: skip
    assert changed.status_code == 204
    tokens = await login(client, email, "third pass 99")

    closed = await client.post(
        "/api/v1/auth/deactivate", headers=bearer(tokens["access_token"]),
        json={"password": "third pass 99"},
    )  # fmt: skip
    assert closed.status_code == 204
    refused = await client.post(
        "/api/v1/auth/login", json={"email": email, "password": "third pass 99"}
    )
    assert refused.status_code == 403


async def test_jwks_serves_the_keys_tokens_verify_with(
    client: httpx.AsyncClient, kit: AuthKit
) -> None:
    account = await sign_up_and_login(client)
    answer = await client.get("/.well-known/jwks.json")
    assert answer.status_code == 200
    assert [key["kty"] for key in answer.json()["keys"]] == ["OKP"]
    # What a service in another process does: fetch the JWKS over HTTP and verify offline.
    remote = TokenVerifier(
        JwksKeySource("http://testserver/.well-known/jwks.json", client=client),
        issuer=kit.settings.issuer, audience=kit.settings.audience,
    )  # fmt: skip
    claims = await remote.verify(account["access_token"])
    assert str(claims.subject) == account["id"]


async def test_request_id_is_returned_or_generated(client: httpx.AsyncClient) -> None:
    given = await client.get("/.well-known/jwks.json", headers={"X-Request-Id": "abc-123"})
    assert given.headers["X-Request-Id"] == "abc-123"
    made = await client.get("/.well-known/jwks.json")
    assert len(made.headers["X-Request-Id"]) == 32


async def test_cors_allows_the_configured_origins(fresh_database: str, flushed_redis: str) -> None:
    services = await make_services(
        fresh_database, flushed_redis, cors_origins=["https://app.example"]
    )
    async with app_client(services) as client:
        preflight = await client.options(
            "/api/v1/auth/login",
            headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://app.example"
        stranger = await client.options(
            "/api/v1/auth/login",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in stranger.headers
    await services.close()


async def test_account_events_are_recorded_and_the_confirmation_link_verifies(
    client: httpx.AsyncClient, kit: AuthKit
) -> None:
    account = await sign_up_and_login(client)
    email = account["email"].lower()
    created = await recorded_event(kit, AccountEvent.CREATED, email)
    link = httpx.URL(created["confirm_url"])
    assert link.path == "/email/confirm"  # the site's page; apps call the API with the token
    api = "/api/v1/auth/email/confirm"
    bad = await client.get(api, params={"token": "not-a-token"})
    assert bad.status_code == 400
    confirmed = await client.get(api, params=link.params)
    assert confirmed.status_code == 200
    again = await client.get(api, params=link.params)
    assert again.status_code == 400  # spent
    async with kit.db.session() as session:
        verified = await session.scalar(
            text("SELECT email_verified FROM auth.users WHERE email = :email"), {"email": email}
        )
    assert verified is True

    # A sign-in from a device never seen before is news; one from a known device is not.
    async with kit.db.session() as session:
        await session.execute(text("DELETE FROM auth.outbox WHERE payload->>'email' = :e"),
                              {"e": email})  # fmt: skip
    body = {"email": email, "password": PASSWORD}
    assert (await client.post("/api/v1/auth/login", json=body,
                              headers={"User-Agent": MOBILE})).status_code == 200  # fmt: skip
    event = await recorded_event(kit, AccountEvent.NEW_DEVICE_SIGN_IN, email)
    assert event["device"] == "mobile"
    assert event["user_agent"] == MOBILE
    async with kit.db.session() as session:
        await session.execute(text("DELETE FROM auth.outbox WHERE payload->>'email' = :e"),
                              {"e": email})  # fmt: skip
    assert (await client.post("/api/v1/auth/login", json=body,
                              headers={"User-Agent": MOBILE})).status_code == 200  # fmt: skip
    async with kit.db.session() as session:
        left = await session.scalar(
            text("SELECT count(*) FROM auth.outbox WHERE payload->>'email' = :e"), {"e": email}
        )
    assert left == 0


@pytest.mark.parametrize("page", ["4611686018427387904", "9223372036854775807", "1000001"])
async def test_history_page_past_the_bound_is_a_422(client: httpx.AsyncClient, page: str) -> None:
    """Found by fuzzing: a page whose offset overflows bigint was a 500 from PostgreSQL."""
    account = await sign_up_and_login(client)
    answer = await client.get(
        f"/api/v1/auth/history?page={page}", headers=bearer(account["access_token"])
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == ["query", "page"]


async def test_history_last_allowed_page_is_empty(client: httpx.AsyncClient) -> None:
    account = await sign_up_and_login(client)
    answer = await client.get(
        "/api/v1/auth/history?page=1000000&size=100", headers=bearer(account["access_token"])
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["items"] == []
