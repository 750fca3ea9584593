"""Schemathesis against the UGC API's own OpenAPI schema: no input yields a 5xx.

Calls carry a viewer's token (a moderator's), so the fuzzing reaches the handlers past
authentication; the films exist, so writes reach the store.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings

from kinoteka.app import create_app
from kinoteka.auth.tokens import sign_access_token
from kinoteka.clients import build_services
from kinoteka.infra.footprint import StoreUrls
from kinoteka.settings import load_settings
from tests.conftest import TEMPLATE, create_database, drop_database, free_port
from tests.ugc.conftest import MODERATOR, add_films, ugc_services


async def _moderator_token(database: str, redis: str) -> str:
    """A moderator's token signed with the deployment's key (made here, in the database)."""
    services = ugc_services(database, redis)
    try:
        signer = await services.auth.keys.signer()
        signed, _ = sign_access_token(
            signer, subject=uuid.uuid4(), session_id=uuid.uuid4(), roles=["admin"],
            permissions=MODERATOR, issuer=services.auth.settings.issuer,
            audience=services.auth.settings.audience, ttl_seconds=3600,
        )  # fmt: skip
        return signed
    finally:
        await services.close()


@pytest.fixture(scope="module")
def ugc_server(embedded_postgres: str, embedded_redis: str) -> Iterator[tuple[str, str]]:
    """The ugc API served by uvicorn in a thread of its own, and a moderator's token."""
    name = f"ugc_fuzz_{uuid.uuid4().hex[:8]}"
    database = create_database(embedded_postgres, name, template=TEMPLATE)
    add_films(database, 2)
    token = asyncio.run(_moderator_token(database, embedded_redis))
    services = ugc_services(database, embedded_redis, write_rate="100000/minute")
    server = uvicorn.Server(
        uvicorn.Config(create_app(services, ["ugc"]), port=free_port(), log_level="warning")
    )
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not server.started:
        time.sleep(0.05)
    assert server.started, "the ugc server did not start"
    yield f"http://127.0.0.1:{server.config.port}", token
    server.should_exit = True
    thread.join(10)
    drop_database(embedded_postgres, name)


def _ugc_openapi() -> dict[str, Any]:
    """The schema, from an app that is built but never started (nothing connects)."""
    urls = StoreUrls("postgresql://unused/unused", "redis://127.0.0.1:1/0", "tantivy:///unused", "")
    openapi: dict[str, Any] = create_app(build_services(load_settings(), urls), ["ugc"]).openapi()
    return openapi


schema = schemathesis.openapi.from_dict(_ugc_openapi())


@schema.parametrize()
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_input_makes_a_server_error(case: Any, ugc_server: tuple[str, str]) -> None:
    base, token = ugc_server
    response = case.call(base_url=base, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text}"
