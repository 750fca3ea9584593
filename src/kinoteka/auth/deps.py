"""FastAPI dependencies any service imports to trust a caller's access token, offline.

    from kinoteka.auth.deps import CurrentUser, require_permission

    @router.get("/films/{id}/stream")
    async def stream(user: Annotated[AccessClaims, Depends(require_permission("content.premium"))]):
        ...

The signature is checked with the deployment's public keys (the shared key store, or the JWKS
of `auth.jwks_url`); then one Redis round trip reads the token's `jti` in the denylist and the
account's valid-after moment (set on role changes, deactivation and deletion). When Redis
cannot answer, that read raises `CacheUnavailable` and the request gets a 503: the check fails
closed (see the package docstring for why).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from kinoteka.auth.kit import AuthKit
from kinoteka.auth.tokens import (
    AccessClaims,
    TokenError,
    denylist_key,
    revocation_reason,
    valid_after_key,
)
from kinoteka.services import ServicesDep

bearer = HTTPBearer(auto_error=False, description="An access token from /api/v1/auth/login.")


def get_auth_kit(services: ServicesDep) -> AuthKit:
    """The process's auth kit (`services.auth`, built on first use where the app starts)."""
    return services.auth


async def auth_kit(services: ServicesDep) -> AuthKit:
    """`get_auth_kit` as a request dependency: async, so FastAPI runs it inline instead of
    handing it to its thread pool on every request."""
    return services.auth


AuthKitDep = Annotated[AuthKit, Depends(auth_kit)]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


async def check_access_token(kit: AuthKit, token: str) -> AccessClaims:
    """Verified, unrevoked claims of `token`, or a 401; `CacheUnavailable` (a 503) when the
    revocation state cannot be read: an unchecked token is never let through."""
    try:
        claims = await kit.verifier.verify(token)
    except TokenError as error:
        raise _unauthorized(str(error)) from None
    prefix = kit.settings.redis_prefix
    denied, after = await kit.cache.get_many(
        denylist_key(prefix, claims.jti), valid_after_key(prefix, claims.subject)
    )
    reason = revocation_reason(claims, denied, after)
    if reason is not None:
        raise _unauthorized(reason)
    return claims


async def verified_claims(kit: AuthKit, token: str) -> AccessClaims | None:
    """The claims of `token` when its signature and time claims hold, else None (never an
    error for a bad token). A token verified before is remembered, so a repeat costs no
    signature check. Offline: revocation is not read (that is `check_access_token`'s Redis
    round trip), so this names a caller for what it records (a page view), never to let one
    in."""
    try:
        return await kit.verifier.verify(token)
    except TokenError:
        return None


async def current_user(
    kit: AuthKitDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> AccessClaims:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("not authenticated")
    return await check_access_token(kit, credentials.credentials)


CurrentUser = Annotated[AccessClaims, Depends(current_user)]


def require_permission(permission: str) -> Callable[[AccessClaims], Awaitable[AccessClaims]]:
    """A dependency giving the caller's claims when they hold `permission`, else a 403."""

    async def check(claims: CurrentUser) -> AccessClaims:
        if not claims.has(permission):
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"requires {permission}")
        return claims

    check.__name__ = f"require_{permission.replace('.', '_')}"
    return check
