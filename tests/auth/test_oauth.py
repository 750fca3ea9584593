"""Social login end to end against an OpenID Connect provider running inside the test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from kinoteka.auth.models import LoginHistory, LoginMethod, OAuthAccount
from kinoteka.auth.oauth import registration
from kinoteka.auth.settings import OAuthProvider
from kinoteka.services import Services
from tests.auth.conftest import PASSWORD, app_client, make_services
from tests.auth.oidc_provider import Provider, running_provider

CALLBACK = "http://testserver/api/v1/auth/oauth/idp/callback"


@pytest.fixture
def provider() -> Iterator[Provider]:
    with running_provider("kinoteka", "provider-secret") as running:
        running.redirect_uris = [CALLBACK]
        yield running


@pytest.fixture
async def oauth_services(
    fresh_database: str, embedded_redis: str, provider: Provider
) -> AsyncIterator[Services]:
    idp = OAuthProvider(
        client_id="kinoteka",
        client_secret="provider-secret",
        discovery_url=f"{provider.issuer}/.well-known/openid-configuration",
    )
    services = await make_services(fresh_database, embedded_redis, oauth_providers={"idp": idp})
    yield services
    await services.close()


async def _authorize(client: httpx.AsyncClient, provider: Provider) -> tuple[str, dict[str, str]]:
    """Start at our login endpoint, let the provider consent; return the callback query."""
    started = await client.get("/api/v1/auth/oauth/idp/login")
    assert started.status_code == 302
    location = started.headers["location"]
    assert location.startswith(f"{provider.issuer}/authorize?")
    query = {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}
    assert query["code_challenge_method"] == "S256"
    assert query["redirect_uri"] == CALLBACK
    assert {"state", "nonce", "code_challenge"} <= set(query)
    async with httpx.AsyncClient() as browser:
        consent = await browser.get(location)
    assert consent.status_code == 302, consent.text
    back = consent.headers["location"]
    assert back.startswith(CALLBACK)
    answer = {key: values[0] for key, values in parse_qs(urlsplit(back).query).items()}
    return query["state"], answer


async def test_social_login_creates_then_reuses_the_account(
    oauth_services: Services, provider: Provider
) -> None:
    subject = uuid.uuid4().hex
    provider.user = {"sub": subject, "email": "Social.User@Example.com", "email_verified": True}
    async with app_client(oauth_services) as client:
        state, answer = await _authorize(client, provider)
        assert answer["state"] == state
        done = await client.get("/api/v1/auth/oauth/idp/callback", params=answer)
        assert done.status_code == 200, done.text
        tokens = done.json()
        me = await client.get(
            "/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        assert me.json()["email"] == "social.user@example.com"
        assert me.json()["roles"] == ["public_user"]
        # PKCE: the provider got an S256 challenge and accepted the verifier at the token call.
        assert provider.seen_challenges[-1][1] == "S256"

        _, again = await _authorize(client, provider)
        second = await client.get("/api/v1/auth/oauth/idp/callback", params=again)
        assert second.status_code == 200
        me_again = await client.get(
            "/api/v1/auth/me", headers={"Authorization": f"Bearer {second.json()['access_token']}"}
        )
        assert me_again.json()["id"] == me.json()["id"]

    async with oauth_services.db.session() as session:
        links = (await session.scalars(select(OAuthAccount))).all()
        assert [(link.provider, link.subject) for link in links] == [("idp", subject)]
        methods = (await session.scalars(select(LoginHistory.method))).all()
        assert methods == [LoginMethod.OAUTH, LoginMethod.OAUTH]


async def test_social_login_links_an_existing_account_by_verified_email(
    oauth_services: Services, provider: Provider
) -> None:
    async with app_client(oauth_services) as client:
        made = await client.post(
            "/api/v1/auth/signup", json={"email": "both@example.com", "password": PASSWORD}
        )
        provider.user = {"sub": "s-1", "email": "both@example.com", "email_verified": True}
        _, answer = await _authorize(client, provider)
        done = await client.get("/api/v1/auth/oauth/idp/callback", params=answer)
        me = await client.get(
            "/api/v1/auth/me", headers={"Authorization": f"Bearer {done.json()['access_token']}"}
        )
        assert me.json()["id"] == made.json()["id"]

        # An unverified address does not hand over somebody else's account.
        await client.post(
            "/api/v1/auth/signup", json={"email": "victim@example.com", "password": PASSWORD}
        )
        provider.user = {"sub": "s-2", "email": "victim@example.com", "email_verified": False}
        _, answer = await _authorize(client, provider)
        refused = await client.get("/api/v1/auth/oauth/idp/callback", params=answer)
        assert refused.status_code == 400
        assert "not verified" in refused.json()["detail"]


async def test_a_wrong_state_is_rejected(oauth_services: Services, provider: Provider) -> None:
    provider.user = {"sub": "s-3", "email": "state@example.com", "email_verified": True}
    async with app_client(oauth_services) as client:
        _, answer = await _authorize(client, provider)
        forged = await client.get(
            "/api/v1/auth/oauth/idp/callback", params={**answer, "state": "forged-state"}
        )
        assert forged.status_code == 400
        assert "mismatching_state" in forged.json()["detail"]
        # A callback from another browser (no session cookie) is refused too.
        client.cookies.clear()
        stranger = await client.get("/api/v1/auth/oauth/idp/callback", params=answer)
        assert stranger.status_code == 400
    async with oauth_services.db.session() as session:
        assert (await session.scalars(select(OAuthAccount))).all() == []


async def test_unknown_provider_is_404(oauth_services: Services) -> None:
    async with app_client(oauth_services) as client:
        assert (await client.get("/api/v1/auth/oauth/nobody/login")).status_code == 404


def test_presets_fill_the_well_known_endpoints() -> None:
    github = registration("github", OAuthProvider(preset="github", client_id="id"))
    assert github["authorize_url"] == "https://github.com/login/oauth/authorize"
    assert github["client_kwargs"] == {
        "scope": "read:user user:email",
        "code_challenge_method": "S256",
    }
    google = registration("google", OAuthProvider(preset="google", client_id="id"))
    assert google["server_metadata_url"].endswith("/.well-known/openid-configuration")
    with pytest.raises(ValueError, match="discovery_url"):
        registration("bare", OAuthProvider(client_id="id"))
    with pytest.raises(ValueError, match="unknown preset"):
        registration("odd", OAuthProvider(preset="myspace", client_id="id"))
