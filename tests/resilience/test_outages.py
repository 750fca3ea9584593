"""Store outages over HTTP: Redis and PostgreSQL stopped or frozen for real.

Every API needing the store answers a JSON 503 naming it, with `Retry-After`, within a bound;
the next request after the store returns is served, with no restart of the app.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from kinoteka.catalog.admin import CSRF_COOKIE
from kinoteka.infra import csrf, tasks
from tests.catalog.app_fixtures import PASSWORD
from tests.resilience.conftest import ADMIN_EMAIL
from tests.resilience.stores import PostgresProxy, RedisProcess

pytestmark = pytest.mark.slow

FROZEN_REDIS_BOUND = 3.0
"""Seconds a request may take with Redis frozen: one 1 s socket timeout, plus scheduling."""
FROZEN_POSTGRES_BOUND = 5.0
"""With PostgreSQL frozen: the 1 s statement timeout, a 1 s rollback attempt, scheduling."""


async def log_in(client: httpx.AsyncClient) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": PASSWORD}
    )


async def token_of(client: httpx.AsyncClient) -> dict[str, str]:
    answer = await log_in(client)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


async def timed(request: Any) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    answer: httpx.Response = await request
    return answer, time.monotonic() - started


def assert_unavailable(answer: httpx.Response, store: str) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["store"] == store
    assert "unavailable" in answer.json()["detail"]
    assert int(answer.headers["retry-after"]) > 0


@pytest.mark.parametrize("outage", ["frozen", "stopped"])
async def test_redis_outage_is_a_503_on_authenticated_routes_and_login(
    client: httpx.AsyncClient, redis_process: RedisProcess, outage: str
) -> None:
    headers = await token_of(client)
    assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 200
    redis_process.freeze() if outage == "frozen" else redis_process.stop()
    try:
        for request in (
            client.get("/api/v1/auth/me", headers=headers),  # the revocation check fails closed
            client.get("/api/v1/auth/sessions", headers=headers),
            log_in(client),  # no brute-force limit without Redis: refused
        ):
            answer, took = await timed(request)
            assert_unavailable(answer, "redis")
            assert took < FROZEN_REDIS_BOUND, took
        # What needs no Redis keeps working.
        assert (await client.get("/api/v1/movies/")).status_code == 200
    finally:
        redis_process.thaw() if outage == "frozen" else redis_process.start()
    assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 200
    assert (await log_in(client)).status_code == 200


async def test_postgres_stopped_is_a_503_then_recovers(
    client: httpx.AsyncClient, postgres_proxy: PostgresProxy
) -> None:
    headers = await token_of(client)
    assert (await client.get("/api/v1/movies/")).status_code == 200
    await postgres_proxy.cut()
    try:
        for request in (
            client.get("/api/v1/movies/"),
            log_in(client),
            client.get("/api/v1/auth/me", headers=headers),
            client.get("/api/v1/auth/history", headers=headers),
        ):
            answer, took = await timed(request)
            assert_unavailable(answer, "postgres")
            assert took < FROZEN_POSTGRES_BOUND, took
    finally:
        await postgres_proxy.start()
    assert (await client.get("/api/v1/movies/")).status_code == 200
    assert (await log_in(client)).status_code == 200


async def test_postgres_frozen_is_a_503_within_the_bound_then_recovers(
    client: httpx.AsyncClient, postgres_proxy: PostgresProxy
) -> None:
    assert (await client.get("/api/v1/movies/")).status_code == 200
    postgres_proxy.freeze()
    try:
        for request in (client.get("/api/v1/movies/"), log_in(client)):
            answer, took = await timed(request)
            assert_unavailable(answer, "postgres")
            assert took < FROZEN_POSTGRES_BOUND, took
    finally:
        postgres_proxy.thaw()
    answer = await client.get("/api/v1/movies/")
    assert answer.status_code == 200, answer.text
    assert (await log_in(client)).status_code == 200


async def test_admin_panel_answers_an_outage_as_a_503_too(
    client: httpx.AsyncClient, postgres_proxy: PostgresProxy
) -> None:
    """SQLAdmin is a mounted sub-app: its errors need the same handlers as the API's."""
    await client.get("/admin/login")  # the CSRF cookie, as a browser gets it first
    token = client.cookies[CSRF_COOKIE].rpartition(".")[0]
    await postgres_proxy.cut()
    try:
        answer = await client.post(
            "/admin/login",
            data={"username": ADMIN_EMAIL, "password": PASSWORD},
            headers={csrf.HEADER: token},
        )
    finally:
        await postgres_proxy.start()
    assert_unavailable(answer, "postgres")


def test_a_task_sent_to_a_stopped_broker_is_an_outage(redis_process: RedisProcess) -> None:
    """Media enqueues its jobs through the tasks port: a stopped Redis is a 503 there too."""
    queue = tasks.from_url(redis_process.url, visibility_timeout=60)
    try:
        redis_process.stop()
        with pytest.raises(tasks.TasksUnavailable) as raised:
            queue.send("kinoteka.never_runs", {}, queue="indexing")
        assert raised.value.store == "redis"
    finally:
        queue.close()
