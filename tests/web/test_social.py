"""Social sign-in from the sign-in page, against an OpenID Connect provider in the test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from kinoteka.auth.settings import OAuthProvider
from kinoteka.infra.search import SearchIndex
from kinoteka.services import Services
from kinoteka.web.i18n import LANG_COOKIE
from tests.auth.oidc_provider import Provider, running_provider
from tests.web.conftest import BASE_URL, web_client, web_services
from tests.web.test_accounts import csrf_of, sign_up

CALLBACK = f"{BASE_URL}/signin/idp/callback"


@pytest.fixture
def provider() -> Iterator[Provider]:
    with running_provider("kinoteka", "provider-secret") as running:
        running.redirect_uris = [CALLBACK]
        yield running


@pytest.mark.parametrize(
    "contexts",
    [("web", "auth"), ("web",)],
    ids=["beside-auth's-oauth-session", "web-alone"],
)
async def test_a_viewer_signs_in_with_a_provider_and_returns_to_the_page(
    contexts: tuple[str, ...],
    fresh_database: str,
    flushed_redis: str,
    web_index: tuple[str, SearchIndex],
    tmp_path: Path,
    provider: Provider,
) -> None:
    idp = OAuthProvider(
        client_id="kinoteka",
        client_secret="provider-secret",
        discovery_url=f"{provider.issuer}/.well-known/openid-configuration",
    )
    provider.user = {"sub": uuid.uuid4().hex, "email": "social@example.com", "email_verified": True}
    services = web_services(
        fresh_database, flushed_redis, web_index, tmp_path, oauth_providers={"idp": idp}
    )
    async with web_client(services, contexts) as client:
        signin = await client.get("/signin?next=/genres")
        assert 'href="/signin/idp?next=/genres"' in signin.text

        started = await client.get("/signin/idp?next=/genres")
        assert started.status_code == 302
        location = started.headers["location"]
        assert location.startswith(f"{provider.issuer}/authorize?")
        query = parse_qs(urlsplit(location).query)
        assert query["redirect_uri"] == [CALLBACK]
        async with httpx.AsyncClient() as browser:
            consent = await browser.get(location)
        back = consent.headers["location"]
        assert back.startswith(CALLBACK)

        done = await client.get(back.removeprefix(BASE_URL))
        assert done.status_code == 303, done.text
        assert done.headers["location"] == "/genres"
        account = await client.get("/account")
        assert account.status_code == 200
        assert "social@example.com" in account.text

        # The answer cannot be replayed: its state went with the first use.
        again = await client.get(back.removeprefix(BASE_URL))
        assert again.status_code == 400
        assert "took too long" in again.text

        assert (await client.get("/signin/nobody")).status_code == 404


async def _social_sign_in(client: httpx.AsyncClient, provider: Provider) -> None:
    started = await client.get("/signin/idp")
    assert started.status_code == 302
    async with httpx.AsyncClient() as browser:
        consent = await browser.get(started.headers["location"])
    done = await client.get(consent.headers["location"].removeprefix(BASE_URL))
    assert done.status_code == 303, done.text


async def _sign_out(client: httpx.AsyncClient) -> None:
    page = await client.get("/account")
    out = await client.post("/signout", data={"csrftoken": csrf_of(page.text)})
    assert out.status_code == 303, out.text


async def _mail_locale(services: Services, email: str) -> str | None:
    from kinoteka.auth.repository import user_by_email
    from kinoteka.notify import mail_locale

    async with services.db.session() as session:
        user = await user_by_email(session, email)
        assert user is not None
        found = await mail_locale(session, user.id, "none recorded")
    return None if found == "none recorded" else found


async def test_an_account_made_by_social_sign_in_gets_the_page_language_for_mail(
    fresh_database: str,
    flushed_redis: str,
    web_index: tuple[str, SearchIndex],
    tmp_path: Path,
    provider: Provider,
) -> None:
    """Issue #19: as a password sign-up does, the account records the language of the pages
    it was made on; signing in again, or linking an account that exists, changes nothing."""
    idp = OAuthProvider(
        client_id="kinoteka",
        client_secret="provider-secret",
        discovery_url=f"{provider.issuer}/.well-known/openid-configuration",
    )
    services = web_services(
        fresh_database, flushed_redis, web_index, tmp_path, oauth_providers={"idp": idp}
    )
    made = {"sub": uuid.uuid4().hex, "email": "russian@example.com", "email_verified": True}
    async with web_client(services) as client:
        client.cookies.set(LANG_COOKIE, "ru")
        provider.user = made
        await _social_sign_in(client, provider)
        assert await _mail_locale(services, "russian@example.com") == "ru"

        client.cookies.clear()  # another browser, on the English pages
        client.cookies.set(LANG_COOKIE, "en")
        await _social_sign_in(client, provider)
        assert await _mail_locale(services, "russian@example.com") == "ru"

        # An account of a password sign-up on the English pages, linked on the Russian ones.
        await _sign_out(client)
        signed_up = await sign_up(client, "english@example.com")
        assert signed_up.status_code == 303, signed_up.text
        await _sign_out(client)
        client.cookies.set(LANG_COOKIE, "ru")
        provider.user = {"sub": uuid.uuid4().hex, "email": "english@example.com",
                         "email_verified": True}  # fmt: skip
        await _social_sign_in(client, provider)
        assert await _mail_locale(services, "english@example.com") == "en"
