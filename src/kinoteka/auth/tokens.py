"""Access tokens: EdDSA (Ed25519) JWTs signed by auth, verified offline by any service.

Import `TokenVerifier` (or the FastAPI deps in `kinoteka.auth.deps`) to check a token without
calling auth: the public keys come from a `KeySource`, either the JWKS endpoint of the auth
service (`JwksKeySource`) or the shared key store (`kinoteka.auth.keys.SigningKeys`).
"""

from __future__ import annotations

import math
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jwt.algorithms import OKPAlgorithm

ALGORITHM = "EdDSA"
REQUIRED_CLAIMS = ["sub", "sid", "jti", "exp", "iat", "iss", "aud"]


class TokenError(Exception):
    """The token is not acceptable; the message is safe to show (it never echoes the token)."""


class UnknownSigningKey(TokenError):
    """The token names a key (`kid`) that none of the known public keys has."""


@dataclass(frozen=True, slots=True)
class AccessClaims:
    subject: uuid.UUID
    session_id: uuid.UUID
    roles: frozenset[str]
    permissions: frozenset[str]
    jti: str
    # Seconds with millisecond precision, so a revocation in the same second as a refresh
    # still tells the tokens before it from the one after it.
    issued_at: float
    expires_at: int

    def has(self, permission: str) -> bool:
        return permission in self.permissions


@dataclass(frozen=True)
class SigningKeyPair:
    kid: str
    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()


def public_jwk(key: Ed25519PublicKey, kid: str) -> dict[str, Any]:
    jwk: dict[str, Any] = OKPAlgorithm.to_jwk(key, as_dict=True)
    return {**jwk, "kid": kid, "alg": ALGORITHM, "use": "sig"}


def public_key_from_jwk(jwk: Mapping[str, Any]) -> Ed25519PublicKey:
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise TokenError("unsupported key type in the key set")
    key = OKPAlgorithm.from_jwk(dict(jwk))
    if not isinstance(key, Ed25519PublicKey):
        raise TokenError("the key set holds a private key or a non-Ed25519 key")
    return key


def sign_access_token(
    key: SigningKeyPair,
    *,
    subject: uuid.UUID,
    session_id: uuid.UUID,
    roles: Iterable[str],
    permissions: Iterable[str],
    issuer: str,
    audience: str,
    ttl_seconds: int,
    now: float | None = None,
) -> tuple[str, AccessClaims]:
    moment = now if now is not None else time.time()
    issued = math.floor(moment * 1000) / 1000
    claims = AccessClaims(
        subject=subject,
        session_id=session_id,
        roles=frozenset(roles),
        permissions=frozenset(permissions),
        jti=uuid.uuid4().hex,
        issued_at=issued,
        expires_at=int(moment) + ttl_seconds,
    )
    payload = {
        "sub": str(subject),
        "sid": str(session_id),
        "roles": sorted(claims.roles),
        "permissions": sorted(claims.permissions),
        "jti": claims.jti,
        "iat": issued,
        "exp": claims.expires_at,
        "iss": issuer,
        "aud": audience,
    }
    token = jwt.encode(payload, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})
    return token, claims


# Every token one key signs has the same header segment, so its parse is remembered (bounded:
# only well-formed EdDSA headers are kept, and the memo is cleared when it fills up).
_HEADER_KIDS: dict[str, str] = {}
_HEADER_MEMO_SIZE = 64


def _signing_kid(token: str) -> str:
    """The `kid` of a token's header, refusing any algorithm but ours before any crypto runs."""
    segment = token.split(".", 1)[0]
    kid = _HEADER_KIDS.get(segment)
    if kid is not None:
        return kid
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise TokenError("malformed token") from None
    if header.get("alg") != ALGORITHM:
        raise TokenError("unexpected signing algorithm")
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise UnknownSigningKey("the token names no signing key")
    if len(_HEADER_KIDS) >= _HEADER_MEMO_SIZE:
        _HEADER_KIDS.clear()
    _HEADER_KIDS[segment] = kid
    return kid


def verify_access_token(
    token: str,
    keys: Mapping[str, Ed25519PublicKey],
    *,
    issuer: str,
    audience: str,
    leeway: float = 0,
) -> AccessClaims:
    """Check signature, algorithm, expiry, issuer and audience; raise `TokenError` otherwise."""
    return _verified(token, keys, issuer=issuer, audience=audience, leeway=leeway).claims


@dataclass(frozen=True, slots=True)
class _Verified:
    """A token whose signature, issuer and audience checked out, and the moments between
    which its time claims hold (PyJWT's rules: `iat` and `nbf` not after now + leeway, `exp`
    after now - leeway)."""

    claims: AccessClaims
    valid_from: int
    valid_until: int

    def holds_at(self, now: float, leeway: float) -> bool:
        return self.valid_from <= now + leeway and now - leeway < self.valid_until


def _verified(
    token: str,
    keys: Mapping[str, Ed25519PublicKey],
    *,
    issuer: str,
    audience: str,
    leeway: float,
) -> _Verified:
    key = keys.get(_signing_kid(token))
    if key is None:
        raise UnknownSigningKey("unknown signing key")
    try:
        payload = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            leeway=leeway,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("token expired") from None
    except jwt.PyJWTError as error:
        raise TokenError(f"invalid token: {error}") from None
    try:
        claims = AccessClaims(
            subject=uuid.UUID(payload["sub"]),
            session_id=uuid.UUID(payload["sid"]),
            roles=frozenset(payload.get("roles", ())),
            permissions=frozenset(payload.get("permissions", ())),
            jti=str(payload["jti"]),
            issued_at=float(payload["iat"]),
            expires_at=int(payload["exp"]),
        )
        # As PyJWT reads them (it has just accepted these very values).
        valid_from = max(int(payload["iat"]), int(payload.get("nbf", payload["iat"])))
    except (TypeError, ValueError):
        raise TokenError("invalid token claims") from None
    return _Verified(claims, valid_from, int(payload["exp"]))


def denylist_key(prefix: str, jti: str) -> str:
    """The cache key marking an access token revoked until it expires."""
    return f"{prefix}:deny:{jti}"


def valid_after_key(prefix: str, user_id: uuid.UUID) -> str:
    """The cache key holding the moment before which the account's access tokens are void.

    Set (for one access-token lifetime) when the account's roles change, or it is deactivated
    or deleted: a token issued earlier carries what no longer holds.
    """
    return f"{prefix}:valid-after:{user_id}"


def revocation_reason(
    claims: AccessClaims, denied: bytes | None, after: bytes | None
) -> str | None:
    """Why `claims` no longer count, given the denylist entry and the account's valid-after."""
    if denied is not None:
        return "token revoked"
    if after is not None and claims.issued_at < float(after):
        return "token outdated by an account change; refresh it"
    return None


class KeySource(Protocol):
    """Where a verifier gets the public keys: `public_keys()` maps kid to key."""

    async def public_keys(self) -> dict[str, Ed25519PublicKey]: ...


class JwksKeySource:
    """The auth service's `/.well-known/jwks.json`, for services running elsewhere."""

    def __init__(self, url: str, *, client: httpx.AsyncClient | None = None) -> None:
        self.url = url
        self._client = client

    async def public_keys(self) -> dict[str, Ed25519PublicKey]:
        if self._client is not None:
            response = await self._client.get(self.url)
        else:
            async with httpx.AsyncClient(timeout=5.0) as client:
                response = await client.get(self.url)
        response.raise_for_status()
        keys: dict[str, Ed25519PublicKey] = {}
        for jwk in response.json().get("keys", []):
            if jwk.get("alg", ALGORITHM) == ALGORITHM and "kid" in jwk:
                keys[jwk["kid"]] = public_key_from_jwk(jwk)
        return keys


class TokenVerifier:
    """Offline verification with cached public keys, reloaded when an unknown `kid` shows up
    (at most every `refresh_interval` seconds, so garbage kids cannot hammer the source).

    The last `remembered` tokens that verified are kept with their claims, so a client's next
    requests skip the signature check (most of a request's auth cost); a remembered token is
    still refused once its time claims no longer hold (it is then checked afresh, for the
    same error), and all are forgotten when the keys reload. Revocation is not decided here:
    `check_access_token` asks Redis on every request whatever this remembers.
    """

    def __init__(
        self,
        source: KeySource,
        *,
        issuer: str,
        audience: str,
        leeway: float = 0,
        refresh_interval: float = 30.0,
        remembered: int = 4096,
    ) -> None:
        self.source = source
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self.refresh_interval = refresh_interval
        self.remembered = remembered
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._loaded_at: float | None = None
        self._verified: OrderedDict[str, _Verified] = OrderedDict()

    async def reload(self) -> None:
        keys = await self.source.public_keys()
        # What was verified with the keys before is checked again with these.
        self._verified.clear()
        self._keys = keys
        self._loaded_at = time.monotonic()

    def verify_cached(self, token: str) -> AccessClaims:
        """Verify with the keys already loaded (no I/O)."""
        known = self._verified.get(token)
        if known is not None:
            if known.holds_at(time.time(), self.leeway):
                self._verified.move_to_end(token)
                return known.claims
            del self._verified[token]
        verified = _verified(
            token, self._keys, issuer=self.issuer, audience=self.audience, leeway=self.leeway
        )
        if self.remembered > 0:
            self._verified[token] = verified
            if len(self._verified) > self.remembered:
                self._verified.popitem(last=False)
        return verified.claims

    async def verify(self, token: str) -> AccessClaims:
        try:
            return self.verify_cached(token)
        except UnknownSigningKey:
            loaded = self._loaded_at
            if loaded is not None and time.monotonic() - loaded < self.refresh_interval:
                raise
        await self.reload()
        return self.verify_cached(token)
