"""Accounts through the pages: sign-up, sign-in, cookie flags, CSRF, the account page,
signing a device out, changing and resetting the password, token renewal."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from kinoteka.infra.search import SearchIndex
from kinoteka.settings import Environment
from tests.web.conftest import BASE_URL, PASSWORD, web_client, web_services

Index = tuple[str, SearchIndex]
TOKEN = re.compile(r'name="csrftoken" value="([^"]+)"')
EMAIL = "viewer@example.com"


def csrf_of(html: str) -> str:
    found = TOKEN.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


async def sign_up(client: httpx.AsyncClient, email: str = EMAIL) -> httpx.Response:
    form = await client.get("/signup")
    return await client.post(
        "/signup",
        data={
            "csrftoken": csrf_of(form.text),
            "email": email,
            "password": PASSWORD,
            "password_repeat": PASSWORD,
            "next": "/account",
        },
    )


@pytest.fixture
async def client(
    fresh_database: str, flushed_redis: str, web_index: Index, tmp_path: Path
) -> httpx.AsyncClient:
    services = web_services(fresh_database, flushed_redis, web_index, tmp_path)
    async with web_client(services) as client:
        yield client


async def test_sign_up_signs_in_with_a_strict_session_cookie(client: httpx.AsyncClient) -> None:
    form = await client.get("/signup")
    # A visitor has no session, only the CSRF guard's signed cookie.
    assert form.headers["set-cookie"].startswith("kinoteka_csrf=")
    assert "kinoteka_session" not in client.cookies

    response = await sign_up(client)
    assert response.status_code == 303
    assert response.headers["location"] == "/account"
    cookie = response.headers["set-cookie"].lower()
    assert cookie.startswith("kinoteka_session=")
    assert "httponly" in cookie
    assert "secure" in cookie
    assert "samesite=lax" in cookie
    assert "path=/" in cookie
    # Signing in again gives a new id: none is ever promoted (no session fixation).
    first = client.cookies["kinoteka_session"]
    page = await client.get("/account")
    await client.post("/signout", data={"csrftoken": csrf_of(page.text)})
    assert "kinoteka_session" not in client.cookies
    form = await client.get("/signin")
    await client.post(
        "/signin",
        data={"csrftoken": csrf_of(form.text), "email": EMAIL, "password": PASSWORD},
    )
    assert client.cookies["kinoteka_session"] not in ("", first)

    account = await client.get("/account")
    assert account.status_code == 200
    assert EMAIL in account.text
    assert account.text.count('<tr class="current">') == 1  # this device, marked
    assert "Sign out this device" in account.text
    assert "success" in account.text  # the login history
    # No token reaches the browser: the cookie is an opaque id.
    assert "eyJ" not in account.text


async def test_the_cookie_is_not_secure_in_development(
    fresh_database: str, flushed_redis: str, web_index: Index, tmp_path: Path
) -> None:
    services = web_services(
        fresh_database, flushed_redis, web_index, tmp_path, env=Environment.DEVELOPMENT
    )
    async with web_client(services) as client:
        guard = (await client.get("/signin")).headers["set-cookie"].lower()
        session = (await sign_up(client)).headers["set-cookie"].lower()
    for cookie in (guard, session):
        assert "httponly" in cookie
        assert "secure" not in cookie


async def test_sign_in_checks_the_password_and_returns_to_next(client: httpx.AsyncClient) -> None:
    await sign_up(client)
    page = await client.get("/account")
    await client.post("/signout", data={"csrftoken": csrf_of(page.text)})
    assert (await client.get("/account")).status_code == 303

    form = await client.get("/signin?next=/genres")
    wrong = await client.post(
        "/signin",
        data={
            "csrftoken": csrf_of(form.text),
            "email": EMAIL,
            "password": "nope",
            "next": "/genres",
        },
    )
    assert wrong.status_code == 400
    assert "Wrong email or password." in wrong.text

    right = await client.post(
        "/signin",
        data={
            "csrftoken": csrf_of(wrong.text),
            "email": EMAIL.upper(),
            "password": PASSWORD,
            "next": "https://evil.example/",
        },
    )
    assert right.status_code == 303
    assert right.headers["location"] == "/"


async def test_forms_without_a_valid_token_or_from_elsewhere_are_refused(
    client: httpx.AsyncClient,
) -> None:
    form = await client.get("/signin")
    token = csrf_of(form.text)
    credentials = {"email": EMAIL, "password": PASSWORD}
    missing = await client.post("/signin", data=credentials)
    assert missing.status_code == 403
    assert "CSRF token is missing" in missing.text
    wrong = await client.post("/signin", data={**credentials, "csrftoken": token + "x"})
    assert wrong.status_code == 403
    foreign = await client.post(
        "/signin",
        data={**credentials, "csrftoken": token},
        headers={"Origin": "https://evil.example"},
    )
    assert foreign.status_code == 403
    assert "another site" in foreign.text
    same_site = await client.post(
        "/signin", data={**credentials, "csrftoken": token}, headers={"Origin": BASE_URL}
    )
    assert same_site.status_code == 400  # past CSRF: the account does not exist


async def test_a_device_is_signed_out_from_another(
    fresh_database: str, flushed_redis: str, web_index: Index, tmp_path: Path
) -> None:
    services = web_services(fresh_database, flushed_redis, web_index, tmp_path)
    async with web_client(services) as phone:
        await sign_up(phone)
        app = phone._transport.app  # type: ignore[attr-defined]
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=BASE_URL
        ) as laptop:
            form = await laptop.get("/signin")
            await laptop.post(
                "/signin",
                data={"csrftoken": csrf_of(form.text), "email": EMAIL, "password": PASSWORD},
            )
            account = await laptop.get("/account")
            assert account.text.count("Sign out this device") == 2
            rows = re.findall(
                r'<tr( class="current")?>\s*<td>.*?action="(/account/sessions/[^"]+/revoke)"',
                account.text,
                re.DOTALL,
            )
            other = [action for current, action in rows if not current]
            assert len(other) == 1
            revoked = await laptop.post(other[0], data={"csrftoken": csrf_of(account.text)})
            assert revoked.status_code == 303
            assert "session_revoked" in revoked.headers["location"]
            assert (await laptop.get("/account")).status_code == 200
        # The phone's access token is on the denylist now: its page session is anonymous.
        assert (await phone.get("/account")).status_code == 303


async def test_changing_the_password(client: httpx.AsyncClient) -> None:
    await sign_up(client)
    page = await client.get("/account")
    differ = await client.post(
        "/account/password",
        data={
            "csrftoken": csrf_of(page.text),
            "current_password": PASSWORD,
            "new_password": "a new long secret",
            "new_password_repeat": "another one",
        },
    )
    assert differ.status_code == 400
    assert "The two passwords differ." in differ.text
    changed = await client.post(
        "/account/password",
        data={
            "csrftoken": csrf_of(page.text),
            "current_password": PASSWORD,
            "new_password": "a new long secret",
            "new_password_repeat": "a new long secret",
        },
    )
    assert changed.status_code == 303
    notice = await client.get(changed.headers["location"])
    assert "Your password is changed" in notice.text


async def test_resetting_a_forgotten_password(client: httpx.AsyncClient) -> None:
    await sign_up(client)
    page = await client.get("/account")
    await client.post("/signout", data={"csrftoken": csrf_of(page.text)})
    form = await client.get("/password-reset")
    sent = await client.post(
        "/password-reset", data={"csrftoken": csrf_of(form.text), "email": EMAIL}
    )
    assert sent.status_code == 200
    assert "a reset code is on its way" in sent.text
    bad = await client.post(
        "/password-reset/confirm",
        data={"csrftoken": csrf_of(sent.text), "code": "wrong", "password": "brand new secret"},
    )
    assert bad.status_code == 400
    assert "invalid" in bad.text


async def test_an_expiring_access_token_is_renewed_behind_the_page(
    client: httpx.AsyncClient, flushed_redis: str
) -> None:
    await sign_up(client)
    redis = Redis.from_url(flushed_redis)
    try:
        [key] = [k async for k in redis.scan_iter("web:session:*")
                 if json.loads(await redis.get(k) or b"{}").get("login")]  # fmt: skip
        stored = json.loads(await redis.get(key) or b"{}")
        old_access = stored["login"]["access_token"]
        stored["login"]["expires_at"] = 0
        await redis.set(key, json.dumps(stored))
        assert (await client.get("/account")).status_code == 200
        renewed = json.loads(await redis.get(key) or b"{}")
    finally:
        await redis.aclose()
    assert renewed["login"]["access_token"] != old_access
    assert renewed["login"]["expires_at"] > 0
