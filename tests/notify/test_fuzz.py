"""Schemathesis against notify's own OpenAPI schema, signed in as an editor: no input yields
a 5xx. The live stream never ends by design, so it is left out."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings

from kinoteka.app import create_app
from kinoteka.clients import build_services
from kinoteka.infra.db import libpq_url
from kinoteka.infra.footprint import StoreUrls
from tests.conftest import TEMPLATE, create_database, drop_database, free_port
from tests.notify.conftest import PASSWORD, SmtpServer, notify_settings

STREAM = "/api/v1/notify/inbox/stream"


@pytest.fixture(scope="module")
def notify_server(embedded_postgres: str, embedded_redis: str) -> Iterator[tuple[str, str]]:
    """Auth and notify served by uvicorn in a thread; the base URL and an editor's token."""
    name = f"fuzz_{uuid.uuid4().hex[:8]}"
    database = create_database(embedded_postgres, name, template=TEMPLATE)
    smtp = SmtpServer()
    smtp.start()
    services = build_services(notify_settings(smtp.port),
                              StoreUrls(database, embedded_redis, "", ""))  # fmt: skip
    port = free_port()
    app = create_app(services, ["auth", "notify"])
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    email = f"editor-{uuid.uuid4().hex[:8]}@example.com"
    signed = httpx.post(f"{base}/api/v1/auth/signup", json={"email": email, "password": PASSWORD})
    assert signed.status_code == 201, signed.text
    with psycopg.connect(libpq_url(database), autocommit=True) as connection:
        connection.execute(
            "INSERT INTO auth.user_role (user_id, role_id) SELECT %s, id FROM auth.role"
            " WHERE name = 'admin'", (signed.json()["id"],),
        )  # fmt: skip
    login = httpx.post(f"{base}/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    yield base, login.json()["access_token"]
    server.should_exit = True
    thread.join(10)
    smtp.stop()
    drop_database(embedded_postgres, name)


def _notify_openapi() -> dict[str, Any]:
    """Notify's operations, from an app that is built but never started (nothing connects)."""
    urls = StoreUrls("postgresql://unused/unused", "redis://unused", "", "")
    openapi: dict[str, Any] = create_app(build_services(notify_settings(25), urls),
                                         ["notify"]).openapi()  # fmt: skip
    openapi["paths"] = {p: v for p, v in openapi["paths"].items()
                        if p.startswith("/api/v1/notify") and p != STREAM}  # fmt: skip
    return openapi


schema = schemathesis.openapi.from_dict(_notify_openapi())


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_input_makes_a_server_error(case: Any, notify_server: tuple[str, str]) -> None:
    base, token = notify_server
    response = case.call(base_url=base, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text}"
