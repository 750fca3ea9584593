"""Accounts through the pages: sign-up, sign-in, cookie flags, CSRF, the account page,
signing a device out, changing and resetting the password, token renewal."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
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
) -> AsyncIterator[httpx.AsyncClient]:
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
    assert "<td>Signed in</td>" in account.text  # the login history, said in words
    assert "<td>Other device</td>" in account.text  # httpx is no browser
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
    assert "This reset link or code is wrong, used or expired." in bad.text
    # The form is offered again, for a new code.
    assert 'action="/password-reset"' in bad.text


async def test_a_dead_reset_link_says_so_and_offers_a_new_one(client: httpx.AsyncClient) -> None:
    page = await client.get("/password-reset?token=never-issued")
    assert page.status_code == 400
    assert "This reset link is used or expired." in page.text
    assert 'action="/password-reset"' in page.text
    assert page.headers["referrer-policy"] == "same-origin"
    empty = await client.get("/password-reset?token=")
    assert empty.status_code == 400
    too_long = await client.get("/password-reset?token=" + "x" * 201)
    assert too_long.status_code == 400
    assert "wrong parameter" in too_long.text


async def test_the_mail_language_is_chosen_on_the_account_page(
    client: httpx.AsyncClient,
) -> None:
    await sign_up(client)  # on the English pages
    page = await client.get("/account")
    assert '<option value="en" selected>English</option>' in page.text
    chosen = await client.post(
        "/account/mail-language", data={"csrftoken": csrf_of(page.text), "locale": "ru"}
    )
    assert chosen.status_code == 303
    shown = await client.get(chosen.headers["location"])
    assert "Our emails to you will be in the language you chose." in shown.text
    assert '<option value="ru" selected>русский</option>' in shown.text
    wrong = await client.post(
        "/account/mail-language", data={"csrftoken": csrf_of(page.text), "locale": "klingon"}
    )
    assert wrong.status_code == 400
    assert "Choose one of the languages offered." in wrong.text


ERROR = re.compile(r'<p class="error" role="alert">(.*?)</p>', re.DOTALL)
LATIN = re.compile(r"[A-Za-z]")
LOANWORDS = re.compile(r"\b(email|Kinoteka)\b")
"""Latin words the Russian pages use as they are."""


def russian_error(page: httpx.Response) -> str:
    """The page's error message, checked to be Russian (no English word left in it)."""
    found = ERROR.search(page.text)
    assert found, f"no error on the page ({page.status_code})"
    message = found.group(1)
    assert re.search("[\u0430-\u044f\u0451]", message), message
    assert not LATIN.search(LOANWORDS.sub("", message)), f"English on a Russian page: {message!r}"
    return message


async def test_account_errors_are_in_the_language_of_the_page(
    client: httpx.AsyncClient,
) -> None:
    client.cookies.set("kinoteka_lang", "ru")

    async def post(path: str, page: httpx.Response, **fields: str) -> httpx.Response:
        return await client.post(path, data={"csrftoken": csrf_of(page.text), **fields})

    form = await client.get("/signup")
    signup = {"password": PASSWORD, "password_repeat": PASSWORD}
    bad_email = await post("/signup", form, **signup, email="not an address")
    assert bad_email.status_code == 400
    assert russian_error(bad_email) == "Это не похоже на адрес электронной почты."
    weak = await post("/signup", form, email=EMAIL, password="short", password_repeat="short")
    assert weak.status_code == 400
    assert russian_error(weak).startswith("Выберите другой пароль: он должен быть не короче")
    assert (await sign_up(client)).status_code == 303
    page = await client.get("/account")
    history = page.text[page.text.index('id="history"') :]
    assert "<td>Вход выполнен</td>" in history
    assert "<td>Другое устройство</td>" in history
    assert ">success<" not in history
    new = {"new_password": "a new long secret", "new_password_repeat": "a new long secret"}
    wrong = await post("/account/password", page, current_password="nope", **new)
    assert russian_error(wrong) == "Неверный пароль."
    weak = await post("/account/password", page, current_password=PASSWORD,
                      new_password="aaaaaaaaaaaa", new_password_repeat="aaaaaaaaaaaa")  # fmt: skip
    assert "содержать цифру или знак" in russian_error(weak)
    refused = await post("/account/delete", page, password="nope")
    assert russian_error(refused) == "Неверный пароль."
    await post("/signout", page)

    form = await client.get("/signup")
    taken = await post("/signup", form, **signup, email=EMAIL)
    assert russian_error(taken).startswith("Аккаунт с этим email уже есть.")  # noqa: RUF001
    form = await client.get("/password-reset")
    code = await post("/password-reset/confirm", form, code="wrong", password="brand new 12")
    russian_error(code)
    asked = [await post("/password-reset", form, email=EMAIL) for _ in range(4)]
    assert asked[-1].status_code == 429
    assert russian_error(asked[-1]).startswith("Слишком много попыток. Повторите через")


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


async def test_the_password_forms_ask_for_the_configured_length(client: httpx.AsyncClient) -> None:
    # The default minimum is 10 (AuthSettings.password_min_length); the forms said 8.
    english = (await client.get("/signup")).text
    assert 'minlength="10"' in english
    assert 'minlength="8"' not in english
    assert "At least 10 characters; not your email." in english
    russian = (await client.get("/signup", headers={"Accept-Language": "ru"})).text
    assert "Не короче 10 символов" in russian  # noqa: RUF001
