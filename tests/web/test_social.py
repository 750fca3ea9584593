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
from tests.auth.oidc_provider import Provider, running_provider
from tests.web.conftest import BASE_URL, web_client, web_services

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
        client_secret="provider-secret",  # type: ignore[arg-type]
        discovery_url=f"{provider.issuer}/.well-known/openid-configuration",  # type: ignore[arg-type]
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
