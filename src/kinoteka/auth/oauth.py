"""Social login (OAuth2 / OpenID Connect) with Authlib's Starlette client.

Providers come from `auth.oauth_providers`: any OIDC issuer by its discovery URL, or a preset
(google, yandex, github). State and nonce live in a signed session cookie scoped to the OAuth
paths; PKCE (S256) is used with every provider.
"""

from __future__ import annotations

from typing import Any

import structlog
from authlib.integrations.base_client import OAuthError
from authlib.integrations.starlette_client import OAuth
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.middleware.sessions import SessionMiddleware

from kinoteka.auth import social
from kinoteka.auth.api import PREFIX, client_info, token_out
from kinoteka.auth.devices import ClientInfo
from kinoteka.auth.errors import NotFound, OAuthFailed
from kinoteka.auth.kit import AuthKit
from kinoteka.auth.schemas import TokenOut
from kinoteka.auth.sessions import TokenPair
from kinoteka.auth.settings import OAuthProvider
from kinoteka.services import Services, SessionDep

log = structlog.get_logger(__name__)

OAUTH_PATH = f"{PREFIX}/oauth"

PRESETS: dict[str, dict[str, Any]] = {
    "google": {
        "server_metadata_url": "https://accounts.google.com/.well-known/openid-configuration",
        "scope": "openid email profile",
    },
    "yandex": {
        "authorize_url": "https://oauth.yandex.ru/authorize",
        "access_token_url": "https://oauth.yandex.ru/token",
        "userinfo_endpoint": "https://login.yandex.ru/info?format=json",
        "scope": "login:email login:info",
        "email_claim": "default_email",
        "subject_claim": "id",
    },
    "github": {
        "authorize_url": "https://github.com/login/oauth/authorize",
        "access_token_url": "https://github.com/login/oauth/access_token",
        "userinfo_endpoint": "https://api.github.com/user",
        "scope": "read:user user:email",
        "subject_claim": "id",
    },
}


def registration(name: str, provider: OAuthProvider) -> dict[str, Any]:
    """Authlib `register()` arguments for a provider: its preset, overridden by the settings."""
    if provider.preset is not None and provider.preset not in PRESETS:
        raise ValueError(f"oauth provider {name}: unknown preset {provider.preset!r}")
    merged = dict(PRESETS.get(provider.preset or "", {}))
    for key, value in (
        ("server_metadata_url", provider.discovery_url),
        ("authorize_url", provider.authorize_url),
        ("access_token_url", provider.token_url),
        ("userinfo_endpoint", provider.userinfo_url),
        ("scope", provider.scope),
    ):
        if value is not None:
            merged[key] = str(value)
    merged.setdefault("scope", "openid email profile")
    if not merged.get("server_metadata_url") and not merged.get("authorize_url"):
        raise ValueError(f"oauth provider {name}: set discovery_url, preset or authorize_url")
    userinfo = merged.pop("userinfo_endpoint", None)
    merged.pop("email_claim", None)
    merged.pop("subject_claim", None)
    return {
        "name": name,
        "client_id": provider.client_id,
        "client_secret": provider.client_secret.get_secret_value(),
        "server_metadata_url": merged.pop("server_metadata_url", None),
        "client_kwargs": {"scope": merged.pop("scope"), "code_challenge_method": "S256"},
        "userinfo_endpoint": userinfo,
        **merged,
    }


def _claim_names(provider: OAuthProvider) -> tuple[str, str]:
    preset = PRESETS.get(provider.preset or "", {})
    subject = preset.get("subject_claim", provider.subject_claim)
    email = preset.get("email_claim", provider.email_claim)
    return str(subject), str(email)


def build_oauth(providers: dict[str, OAuthProvider]) -> OAuth:
    oauth = OAuth()
    for name, provider in providers.items():
        oauth.register(**registration(name, provider))
    return oauth


async def start_social_login(
    oauth: OAuth, provider: str, request: Request, redirect_uri: str
) -> RedirectResponse:
    """The redirect to the provider; its state goes to `request.session` (any dict-like)."""
    client = oauth.create_client(provider)
    if client is None:
        raise NotFound(f"no oauth provider {provider!r}")
    response: RedirectResponse = await client.authorize_redirect(request, redirect_uri)
    return response


async def finish_social_login(
    session: AsyncSession,
    kit: AuthKit,
    oauth: OAuth,
    provider: str,
    request: Request,
    client: ClientInfo,
    on_created: social.AccountCreated | None = None,
) -> TokenPair:
    """The provider's answer (code and state in `request`) to a signed-in pair of tokens;
    an account made for it is handed to `on_created` in the transaction that makes it."""
    oauth_client = oauth.create_client(provider)
    if oauth_client is None or provider not in kit.settings.oauth_providers:
        raise NotFound(f"no oauth provider {provider!r}")
    try:
        token = await oauth_client.authorize_access_token(request)
        info = token.get("userinfo") or await oauth_client.userinfo(token=token)
    except OAuthError as error:
        log.info("auth.oauth_failed", provider=provider, error=error.error)
        raise OAuthFailed(f"{provider}: {error.error}") from None
    subject_claim, email_claim = _claim_names(kit.settings.oauth_providers[provider])
    subject = info.get(subject_claim)
    if subject is None:
        raise OAuthFailed(f"{provider} gave no subject")
    return await social.social_login(
        session,
        kit,
        provider=provider,
        subject=str(subject),
        email=info.get(email_claim),
        # OIDC says so explicitly; the presets without the claim only return verified ones.
        email_verified=bool(info.get("email_verified", "email_verified" not in info)),
        client=client,
        on_created=on_created,
    )


def oauth_router(oauth: OAuth, providers: dict[str, OAuthProvider], kit: AuthKit) -> APIRouter:
    router = APIRouter(prefix=OAUTH_PATH, tags=["auth"])

    def client_for(provider: str) -> Any:
        client = oauth.create_client(provider) if provider in providers else None
        if client is None:
            raise NotFound(f"no oauth provider {provider!r}")
        return client

    @router.get("/{provider}/login", summary="Start a social login (redirects to the provider)")
    async def oauth_login(provider: str, request: Request) -> RedirectResponse:
        client_for(provider)
        redirect_uri = request.url_for("oauth_callback", provider=provider)
        return await start_social_login(oauth, provider, request, str(redirect_uri))

    @router.get("/{provider}/callback", name="oauth_callback", summary="The provider's answer")
    async def oauth_callback(provider: str, request: Request, session: SessionDep) -> TokenOut:
        client_for(provider)
        pair = await finish_social_login(
            session, kit, oauth, provider, request, client_info(request)
        )
        return token_out(pair)

    return router


def install_oauth(app: FastAPI, services: Services, kit: AuthKit) -> None:
    providers = kit.settings.oauth_providers
    if not providers:
        return
    app.include_router(oauth_router(build_oauth(providers), providers, kit))
    app.add_middleware(
        SessionMiddleware,
        secret_key=services.settings.secret_key.get_secret_value(),
        session_cookie="kinoteka_oauth",
        path=OAUTH_PATH,
        max_age=600,
        same_site="lax",
        https_only=kit.settings.public_url.startswith("https://"),
    )
