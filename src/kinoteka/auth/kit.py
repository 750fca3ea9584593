"""What the auth use cases share in one process: keys, verifier, hasher, limiter."""

from __future__ import annotations

from dataclasses import dataclass

from kinoteka.auth.keys import SigningKeys
from kinoteka.auth.passwords import Passwords
from kinoteka.auth.settings import AuthSettings
from kinoteka.auth.tokens import JwksKeySource, KeySource, TokenVerifier
from kinoteka.infra import ratelimit
from kinoteka.infra.cache import Cache
from kinoteka.infra.db import Database
from kinoteka.infra.ratelimit import RateLimiter
from kinoteka.settings import Settings


@dataclass
class AuthKit:
    settings: AuthSettings
    db: Database
    cache: Cache
    keys: SigningKeys
    verifier: TokenVerifier
    passwords: Passwords
    limiter: RateLimiter

    async def close(self) -> None:
        await self.limiter.close()
        self.passwords.close()


def build_auth_kit(settings: Settings, db: Database, cache: Cache, redis_url: str) -> AuthKit:
    """Nothing connects here; keys are created or loaded on first use."""
    auth = settings.auth
    keys = SigningKeys(
        db,
        passphrase=settings.secret_key.get_secret_value().encode(),
        access_ttl=auth.access_ttl_seconds,
        cache_seconds=auth.key_refresh_seconds,
    )
    source: KeySource = JwksKeySource(auth.jwks_url) if auth.jwks_url else keys
    verifier = TokenVerifier(
        source,
        issuer=auth.issuer,
        audience=auth.audience,
        leeway=auth.leeway_seconds,
        refresh_interval=auth.key_refresh_seconds,
        remembered=auth.remembered_tokens,
    )
    return AuthKit(
        settings=auth,
        db=db,
        cache=cache,
        keys=keys,
        verifier=verifier,
        passwords=Passwords(auth.password_hash),
        limiter=ratelimit.from_url(redis_url, namespace=auth.redis_prefix, settings=settings.cache),
    )
