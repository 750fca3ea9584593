"""Abuse protection over HTTP: rate limits with Retry-After, progressive lockout and expiry."""

from __future__ import annotations

import datetime as dt
import time

import httpx
from sqlalchemy import select, update

from kinoteka.auth.models import User
from kinoteka.auth.settings import LockoutSettings, RateLimitSettings
from kinoteka.infra.ratelimit.limits import storage_uri
from tests.auth.conftest import PASSWORD, app_client, make_services, new_email
from tests.auth.test_api import login


def test_storage_uri_for_every_redis_url_form() -> None:
    assert storage_uri("redis://127.0.0.1:6379/15") == "async+redis://127.0.0.1:6379/15"
    assert storage_uri("rediss://h:6380") == "async+rediss://h:6380"
    assert storage_uri("unix:///run/redis.sock") == "async+redis+unix:///run/redis.sock"


async def test_login_rate_limit_answers_429_with_retry_after(
    fresh_database: str, any_redis: str
) -> None:
    limits = RateLimitSettings(login_per_account="3/minute", signup_per_ip="2/minute")
    services = await make_services(fresh_database, any_redis, rate_limits=limits)
    async with app_client(services) as client:
        email = new_email()
        made = await client.post("/api/v1/auth/signup", json={"email": email, "password": PASSWORD})
        assert made.status_code == 201
        for _ in range(3):
            answer = await client.post(
                "/api/v1/auth/login", json={"email": email, "password": "wrong guess 1"}
            )
            assert answer.status_code == 401
        limited = await client.post(
            "/api/v1/auth/login", json={"email": email, "password": PASSWORD}
        )
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        # Other accounts are not held back by this one's limit.
        other = new_email()
        second = await client.post(
            "/api/v1/auth/signup", json={"email": other, "password": PASSWORD}
        )
        assert second.status_code == 201
        await login(client, other)
        # Sign-up is limited per IP: the third one in a minute is refused.
        third = await client.post(
            "/api/v1/auth/signup", json={"email": new_email(), "password": PASSWORD}
        )
        assert third.status_code == 429
        assert int(third.headers["Retry-After"]) >= 1
    await services.close()


async def test_global_per_client_limit(fresh_database: str, embedded_redis: str) -> None:
    limits = RateLimitSettings(api_per_client="5/minute")
    services = await make_services(fresh_database, embedded_redis, rate_limits=limits)
    async with app_client(services) as client:
        codes = [(await client.get("/api/v1/auth/me")).status_code for _ in range(6)]
        assert codes == [401] * 5 + [429]
    await services.close()


async def test_progressive_lockout_and_its_expiry(fresh_database: str, embedded_redis: str) -> None:
    services = await make_services(
        fresh_database, embedded_redis,
        rate_limits=RateLimitSettings(enabled=False),
        lockout=LockoutSettings(threshold=3, base_seconds=120, max_seconds=1000),
    )  # fmt: skip
    async with app_client(services) as client:
        email = new_email()
        await client.post("/api/v1/auth/signup", json={"email": email, "password": PASSWORD})
        wrong = {"email": email, "password": "wrong guess 1"}
        codes = [
            (await client.post("/api/v1/auth/login", json=wrong)).status_code for _ in range(3)
        ]
        assert codes == [401, 401, 401]
        locked = await client.post(
            "/api/v1/auth/login", json={"email": email, "password": PASSWORD}
        )
        assert locked.status_code == 429
        assert 110 <= int(locked.headers["Retry-After"]) <= 120

        async def expire_lock() -> None:
            async with services.db.session() as session:
                await session.execute(
                    update(User).where(User.email == email.lower())
                    .values(locked_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
                )  # fmt: skip

        await expire_lock()
        await login(client, email)  # the lock is over; success resets the count

        codes = [
            (await client.post("/api/v1/auth/login", json=wrong)).status_code for _ in range(4)
        ]
        assert codes == [401, 401, 401, 429]
        await expire_lock()
        # One more failure after the lock: the next lock is twice as long.
        assert (await client.post("/api/v1/auth/login", json=wrong)).status_code == 401
        async with services.db.session() as session:
            user = (await session.scalars(select(User).where(User.email == email.lower()))).one()
            assert user.failed_logins == 4
            assert user.locked_until is not None
            remaining = (user.locked_until - dt.datetime.now(dt.UTC)).total_seconds()
            assert 230 <= remaining <= 240
    await services.close()


async def test_unknown_email_costs_like_a_wrong_password(
    fresh_database: str, embedded_redis: str
) -> None:
    services = await make_services(
        fresh_database, embedded_redis, rate_limits=RateLimitSettings(enabled=False),
        lockout=LockoutSettings(threshold=1000),
    )  # fmt: skip
    async with app_client(services) as client:
        email = new_email()
        await client.post("/api/v1/auth/signup", json={"email": email, "password": PASSWORD})

        async def timed(body: dict[str, str]) -> tuple[float, httpx.Response]:
            started = time.perf_counter()
            answer = await client.post("/api/v1/auth/login", json=body)
            return time.perf_counter() - started, answer

        known, unknown = [], []
        for _ in range(8):
            spent, answer = await timed({"email": email, "password": "wrong guess 1"})
            known.append(spent)
            spent, other = await timed({"email": new_email(), "password": "wrong guess 1"})
            unknown.append(spent)
            assert (answer.status_code, answer.json()) == (other.status_code, other.json())
        known.sort()
        unknown.sort()
        # Medians within a factor of two: both paths do one Argon2 verify and one audit write.
        assert 0.5 < unknown[4] / known[4] < 2.0
    await services.close()
