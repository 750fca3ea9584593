"""Access-token verification: the attacks a verifier must refuse, and key rotation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from fastapi import HTTPException

from kinoteka.auth.deps import check_access_token
from kinoteka.auth.keys import KeyStoreError, SigningKeys
from kinoteka.auth.kit import AuthKit
from kinoteka.auth.tokens import (
    SigningKeyPair,
    TokenError,
    TokenVerifier,
    UnknownSigningKey,
    sign_access_token,
    verify_access_token,
)

ISSUER, AUDIENCE = "kinoteka-auth", "kinoteka"
KEY = SigningKeyPair("k1", Ed25519PrivateKey.generate())
KEYS = {"k1": KEY.public_key}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _token(key: SigningKeyPair = KEY, **overrides: object) -> str:
    arguments: dict[str, object] = {
        "subject": uuid.uuid4(), "session_id": uuid.uuid4(), "roles": ["public_user"],
        "permissions": ["catalog.read"], "issuer": ISSUER, "audience": AUDIENCE,
        "ttl_seconds": 900,
    }  # fmt: skip
    arguments.update(overrides)
    token, _ = sign_access_token(key, **arguments)  # type: ignore[arg-type]
    return token


def _verify(token: str) -> object:
    return verify_access_token(token, KEYS, issuer=ISSUER, audience=AUDIENCE)


def _payload(**changes: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": str(uuid.uuid4()), "sid": str(uuid.uuid4()), "jti": "x", "iat": now,
        "exp": now + 900, "iss": ISSUER, "aud": AUDIENCE, "roles": [], "permissions": [],
    }  # fmt: skip
    claims.update(changes)
    return claims


def test_a_good_token_verifies() -> None:
    claims = verify_access_token(_token(), KEYS, issuer=ISSUER, audience=AUDIENCE)
    assert claims.has("catalog.read")
    assert claims.roles == {"public_user"}


def test_alg_none_is_refused() -> None:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": "k1"}).encode())
    token = f"{header}.{_b64(json.dumps(_payload(permissions=['roles.manage'])).encode())}."
    with pytest.raises(TokenError):
        _verify(token)


def test_hs256_signed_with_the_public_key_is_refused() -> None:
    public_pem = KEY.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode())
    body = _b64(json.dumps(_payload(permissions=["roles.manage"])).encode())
    for secret in (public_pem, KEY.public_key.public_bytes_raw()):
        signature = hmac.new(secret, f"{header}.{body}".encode(), hashlib.sha256).digest()
        with pytest.raises(TokenError):
            _verify(f"{header}.{body}.{_b64(signature)}")


def test_a_token_signed_with_another_key_is_refused() -> None:
    impostor = SigningKeyPair("k1", Ed25519PrivateKey.generate())
    with pytest.raises(TokenError, match="invalid token"):
        _verify(_token(impostor))
    with pytest.raises(TokenError, match="unknown signing key"):
        _verify(_token(SigningKeyPair("k9", Ed25519PrivateKey.generate())))


def test_expired_wrong_audience_and_wrong_issuer_are_refused() -> None:
    with pytest.raises(TokenError, match="expired"):
        _verify(_token(now=time.time() - 3600))
    with pytest.raises(TokenError, match=r"(?i)audience"):
        _verify(_token(audience="someone-else"))
    with pytest.raises(TokenError, match=r"(?i)issuer"):
        _verify(_token(issuer="evil"))


def test_a_tampered_payload_is_refused() -> None:
    header, _, signature = _token().split(".")
    forged = _b64(json.dumps(_payload(permissions=["roles.manage"])).encode())
    with pytest.raises(TokenError, match="invalid token"):
        _verify(f"{header}.{forged}.{signature}")


def test_missing_claims_and_garbage_are_refused() -> None:
    payload = _payload()
    del payload["sid"]
    token = jwt.encode(payload, KEY.private_key, algorithm="EdDSA", headers={"kid": "k1"})
    with pytest.raises(TokenError):
        _verify(token)
    with pytest.raises(TokenError, match="malformed"):
        _verify("not.a.token")


async def test_a_denylisted_jti_is_refused(kit: AuthKit) -> None:
    signer = await kit.keys.signer()
    token, claims = sign_access_token(
        signer, subject=uuid.uuid4(), session_id=uuid.uuid4(), roles=[], permissions=[],
        issuer=kit.settings.issuer, audience=kit.settings.audience, ttl_seconds=60,
    )  # fmt: skip
    assert (await check_access_token(kit, token)).jti == claims.jti
    await kit.cache.set(f"{kit.settings.redis_prefix}:deny:{claims.jti}", "1", ttl=60)
    with pytest.raises(HTTPException) as caught:
        await check_access_token(kit, token)
    assert caught.value.status_code == 401


async def test_rotation_keeps_old_tokens_valid_and_signs_with_the_new_key(kit: AuthKit) -> None:
    old_signer = await kit.keys.signer()
    old_token = _token(old_signer, issuer=kit.settings.issuer, audience=kit.settings.audience)
    async with kit.db.session() as session:
        new_kid = await kit.keys.rotate(session)
    assert new_kid != old_signer.kid
    assert (await kit.keys.signer()).kid == new_kid
    jwks = await kit.keys.jwks()
    assert [key["kid"] for key in jwks["keys"]] == [new_kid, old_signer.kid]
    assert all(set(key) == {"kty", "crv", "x", "kid", "alg", "use"} for key in jwks["keys"])
    # A verifier that knew only the old key learns the new one on first sight of its kid.
    fresh = TokenVerifier(kit.keys, issuer=kit.settings.issuer, audience=kit.settings.audience)
    await fresh.verify(old_token)
    new_token = _token(await kit.keys.signer(), issuer=kit.settings.issuer,
                       audience=kit.settings.audience)  # fmt: skip
    await fresh.verify(new_token)


async def test_keys_sealed_with_another_secret_say_how_to_recover(kit: AuthKit) -> None:
    await kit.keys.signer()
    other = SigningKeys(kit.db, passphrase=b"a different secret", access_ttl=60, cache_seconds=0)
    with pytest.raises(KeyStoreError, match="rotate-keys"):
        await other.signer()
    async with kit.db.session() as session:
        await other.rotate(session)
    assert (await other.signer()).kid != (await kit.keys.jwks())["keys"][-1]["kid"]


class _Keys:
    """A key source whose keys the test changes."""

    def __init__(self, keys: dict[str, Ed25519PublicKey]) -> None:
        self.keys = keys

    async def public_keys(self) -> dict[str, Ed25519PublicKey]:
        return dict(self.keys)


async def _loaded(source: _Keys, **options: Any) -> TokenVerifier:
    verifier = TokenVerifier(source, issuer=ISSUER, audience=AUDIENCE, **options)
    await verifier.reload()
    return verifier


async def test_a_verified_token_is_remembered_up_to_the_bound() -> None:
    verifier = await _loaded(_Keys(KEYS), remembered=2)
    first, second, third = _token(), _token(), _token()
    claims = await verifier.verify(first)
    assert await verifier.verify(first) is claims  # not decoded again
    await verifier.verify(second)
    await verifier.verify(first)  # used last: second is now the oldest
    third_claims = await verifier.verify(third)
    assert await verifier.verify(first) is claims
    assert await verifier.verify(third) is third_claims
    assert await verifier.verify(second) == await verifier.verify(second)
    forgetful = await _loaded(_Keys(KEYS), remembered=0)
    assert await forgetful.verify(first) is not await forgetful.verify(first)


async def test_a_remembered_token_is_refused_once_it_expired() -> None:
    # Expired two seconds ago, within a leeway of five: accepted, and remembered.
    token = _token(now=time.time() - 902, ttl_seconds=900)
    verifier = await _loaded(_Keys(KEYS), leeway=5)
    await verifier.verify(token)
    verifier.leeway = 0
    with pytest.raises(TokenError, match="expired"):
        await verifier.verify(token)


async def test_remembered_tokens_are_forgotten_when_the_keys_reload() -> None:
    source = _Keys(KEYS)
    verifier = await _loaded(source)
    token = _token()
    await verifier.verify(token)
    source.keys = {}  # the key was retired
    await verifier.reload()
    with pytest.raises(UnknownSigningKey):
        await verifier.verify(token)
