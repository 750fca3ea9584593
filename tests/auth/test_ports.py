"""The small pieces auth stands on: device detection, the rate-limit port, and the
verification dependency in a process where auth itself is not mounted."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import update

from kinoteka.app import create_app
from kinoteka.auth.deps import CurrentUser, require_permission
from kinoteka.auth.devices import device_type_from_user_agent
from kinoteka.auth.kit import AuthKit
from kinoteka.auth.models import DeviceType, SigningKey
from kinoteka.auth.tokens import AccessClaims, TokenVerifier, UnknownSigningKey, sign_access_token
from kinoteka.infra import ratelimit
from kinoteka.services import Services


@pytest.mark.parametrize(
    ("agent", "device"),
    [
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0 Safari/537.36", DeviceType.WEB),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Version/17.5 Safari/605.1.15",
         DeviceType.WEB),
        ("Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/131.0 Mobile Safari/537.36",
         DeviceType.MOBILE),
        ("Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) Mobile/15E148", DeviceType.MOBILE),
        ("okhttp/4.12.0", DeviceType.MOBILE),
        ("Mozilla/5.0 (Linux; Android 12; BRAVIA 4K) AppleWebKit/537.36", DeviceType.SMART_TV),
        ("Mozilla/5.0 (Web0S; Linux/SmartTV) AppleWebKit/537.36 Chrome/94", DeviceType.SMART_TV),
        ("Roku/DVP-12.5 (12.5.0.4178)", DeviceType.SMART_TV),
        ("AppleTV14,1/17.5", DeviceType.SMART_TV),
        ("curl/8.5.0", DeviceType.OTHER),
        ("", DeviceType.OTHER),
        (None, DeviceType.OTHER),
    ],
)  # fmt: skip
def test_device_type_from_user_agent(agent: str | None, device: DeviceType) -> None:
    assert device_type_from_user_agent(agent) is device


@given(st.text(max_size=300))
def test_every_user_agent_maps_to_a_partition(agent: str) -> None:
    assert device_type_from_user_agent(agent) in set(DeviceType)


@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_rate_limiter_counts_per_identity_and_resets(kind: str, embedded_redis: str) -> None:
    url = "memory://" if kind == "memory" else embedded_redis
    limiter = ratelimit.from_url(url, namespace=f"t{uuid.uuid4().hex[:8]}")
    try:
        decisions = [await limiter.hit("2/minute", "login", "a") for _ in range(3)]
        assert [decision.allowed for decision in decisions] == [True, True, False]
        assert 1 <= decisions[-1].retry_after <= 60
        assert (await limiter.hit("2/minute", "login", "b")).allowed
        await limiter.reset("2/minute", "login", "a")
        assert (await limiter.hit("2/minute", "login", "a")).allowed
    finally:
        await limiter.close()


async def test_deps_work_where_auth_is_not_mounted(services: Services, kit: AuthKit) -> None:
    """What the content API does: only `require_permission`, the kit built on first use."""
    signer = await kit.keys.signer()
    token, _ = sign_access_token(
        signer, subject=uuid.uuid4(), session_id=uuid.uuid4(), roles=["subscriber"],
        permissions=["content.premium"], issuer=kit.settings.issuer,
        audience=kit.settings.audience, ttl_seconds=60,
    )  # fmt: skip
    del services.auth  # as in a process that has not built the kit yet
    router = APIRouter()

    @router.get("/premium")
    async def premium(
        claims: Annotated[AccessClaims, Depends(require_permission("content.premium"))],
    ) -> dict[str, list[str]]:
        return {"roles": sorted(claims.roles)}

    @router.get("/anyone")
    async def anyone(claims: CurrentUser) -> dict[str, str]:
        return {"sub": str(claims.subject)}

    app: FastAPI = create_app(services, [])
    app.include_router(router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://other") as client:
        allowed = await client.get("/premium", headers={"Authorization": f"Bearer {token}"})
        assert allowed.status_code == 200
        assert allowed.json() == {"roles": ["subscriber"]}
        assert (await client.get("/premium")).status_code == 401
        garbage = await client.get("/anyone", headers={"Authorization": "Bearer x.y.z"})
        assert garbage.status_code == 401
    assert services.auth is not None


async def test_a_retired_key_leaves_the_jwks_once_its_tokens_expired(kit: AuthKit) -> None:
    old = await kit.keys.signer()
    token, _ = sign_access_token(
        old, subject=uuid.uuid4(), session_id=uuid.uuid4(), roles=[], permissions=[],
        issuer=kit.settings.issuer, audience=kit.settings.audience, ttl_seconds=60,
    )  # fmt: skip
    async with kit.db.session() as session:
        await kit.keys.rotate(session)
        await session.execute(
            update(SigningKey).where(SigningKey.kid == old.kid)
            .values(verify_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )  # fmt: skip
    assert old.kid not in [key["kid"] for key in (await kit.keys.jwks())["keys"]]
    verifier = TokenVerifier(kit.keys, issuer=kit.settings.issuer, audience=kit.settings.audience)
    with pytest.raises(UnknownSigningKey):
        await verifier.verify(token)
