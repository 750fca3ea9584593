"""The signing keys of a deployment, kept in `auth.signing_key` so every process shares them.

The newest unretired key signs; rotation retires it but keeps serving its public half (JWKS)
until the last access token it signed has expired.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from kinoteka.auth.models import SigningKey
from kinoteka.auth.tokens import ALGORITHM, SigningKeyPair, public_jwk, public_key_from_jwk
from kinoteka.infra.db import Database

# Serialises the first-start key creation between processes of one deployment.
_KEY_LOCK = 0x6B696E6F


class KeyStoreError(RuntimeError):
    """The stored keys cannot be used with this deployment's settings."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class SigningKeys:
    """Signing and verification keys from the database, cached for `cache_seconds`."""

    def __init__(
        self, db: Database, *, passphrase: bytes, access_ttl: int, cache_seconds: float = 30.0
    ) -> None:
        self.db = db
        self._passphrase = passphrase
        self.access_ttl = access_ttl
        self.cache_seconds = cache_seconds
        self._signer: SigningKeyPair | None = None
        self._signer_loaded = 0.0

    def _decrypt(self, pem: str) -> Ed25519PrivateKey:
        try:
            key = serialization.load_pem_private_key(pem.encode(), password=self._passphrase)
        except ValueError:
            raise KeyStoreError(
                "the signing key was encrypted with another KINOTEKA_SECRET_KEY; restore it, "
                "or run `kinoteka auth rotate-keys` to start a new key"
            ) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise TypeError("a signing key in the store is not Ed25519")
        return key

    def _new_row(self) -> SigningKey:
        private = Ed25519PrivateKey.generate()
        kid = uuid.uuid4().hex[:16]
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(self._passphrase),
        ).decode()
        return SigningKey(
            kid=kid,
            algorithm=ALGORITHM,
            private_pem=pem,
            public_jwk=public_jwk(private.public_key(), kid),
        )

    async def _current_row(self, session: AsyncSession) -> SigningKey | None:
        statement = (
            select(SigningKey)
            .where(SigningKey.retired_at.is_(None))
            .order_by(SigningKey.created.desc(), SigningKey.kid)
            .limit(1)
        )
        return (await session.scalars(statement)).first()

    async def _ensure_row(self, session: AsyncSession) -> SigningKey:
        """The signing key's row, made when the deployment has none (one query when it exists)."""
        row = await self._current_row(session)
        if row is None:
            await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _KEY_LOCK})
            row = await self._current_row(session)
            if row is None:
                row = self._new_row()
                session.add(row)
                await session.flush()
        return row

    async def rotate(self, session: AsyncSession) -> str:
        """Retire the signing key (served until its tokens expire) and start a new one."""
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _KEY_LOCK})
        now = _now()
        current = await self._current_row(session)
        if current is not None:
            current.retired_at = now
            current.verify_until = now + dt.timedelta(seconds=self.access_ttl + 60)
        row = self._new_row()
        # Strictly newer than the retired one even within one clock tick.
        row.created = now + dt.timedelta(microseconds=1)
        session.add(row)
        await session.flush()
        self._signer = None
        return row.kid

    async def signer(self) -> SigningKeyPair:
        """The key to sign with now (created on first use, re-read after `cache_seconds`)."""
        if self._signer is not None and time.monotonic() - self._signer_loaded < self.cache_seconds:
            return self._signer
        async with self.db.session() as session:
            row = await self._ensure_row(session)
            self._signer = SigningKeyPair(kid=row.kid, private_key=self._decrypt(row.private_pem))
        self._signer_loaded = time.monotonic()
        return self._signer

    async def jwks(self) -> dict[str, Any]:
        async with self.db.sessions() as session:
            rows = await session.scalars(
                select(SigningKey)
                .where(or_(SigningKey.verify_until.is_(None), SigningKey.verify_until > _now()))
                .order_by(SigningKey.created.desc())
            )
            return {"keys": [dict(row.public_jwk) for row in rows]}

    async def public_keys(self) -> dict[str, Ed25519PublicKey]:
        """`KeySource` over the store: what the JWKS serves, as key objects."""
        jwks = await self.jwks()
        return {jwk["kid"]: public_key_from_jwk(jwk) for jwk in jwks["keys"]}
