"""Only holders of a valid access token read the catalog, unless it is public."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from kinoteka.app import create_app
from kinoteka.auth import ClientInfo, log_in, log_out
from kinoteka.auth import service as auth_service
from kinoteka.auth.deps import get_auth_kit
from kinoteka.infra.search import SearchIndex
from tests.conftest import TEMPLATE, create_database, drop_database
from tests.content.conftest import content_services


@pytest.fixture
async def private_client(
    embedded_postgres: str, flushed_redis: str, movies_index: tuple[str, SearchIndex]
) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    name = "content_access"
    database = create_database(embedded_postgres, name, template=TEMPLATE)
    url, index = movies_index
    services = content_services(database, flushed_redis, index, url, public=False)
    app = create_app(services, ["content"])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://content.test"
    ) as client:
        yield client, services
    await services.close()
    drop_database(embedded_postgres, name)


async def test_tokens_are_required_and_checked(
    private_client: tuple[httpx.AsyncClient, Any],
) -> None:
    client, services = private_client
    anonymous = await client.get("/api/v1/genres")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    forged = await client.get("/api/v1/genres", headers={"Authorization": "Bearer abc.def.ghi"})
    assert forged.status_code == 401

    kit = get_auth_kit(services)
    client_info = ClientInfo(ip="127.0.0.1", user_agent="pytest")
    async with services.db.session() as session:
        await auth_service.create_user(session, kit, "reader@example.com", "a long passphrase 42")
    async with services.db.session() as session:
        tokens = await log_in(
            session, kit, "reader@example.com", "a long passphrase 42", client_info
        )
    headers = {"Authorization": f"Bearer {tokens.access_token}"}
    allowed = await client.get("/api/v1/genres", headers=headers)
    assert allowed.status_code == 200
    assert len(allowed.json()) == 26

    async with services.db.session() as session:
        await log_out(session, kit, tokens.claims)
    revoked = await client.get("/api/v1/genres", headers=headers)
    assert revoked.status_code == 401


async def test_a_deleted_account_stops_reading_the_catalog_at_once(
    private_client: tuple[httpx.AsyncClient, Any],
) -> None:
    from kinoteka.auth import account

    client, services = private_client
    kit = get_auth_kit(services)
    async with services.db.session() as session:
        user = await auth_service.create_user(
            session, kit, "leaving@example.com", "a long passphrase 42"
        )
    async with services.db.session() as session:
        tokens = await log_in(
            session, kit, "leaving@example.com", "a long passphrase 42", ClientInfo(ip="127.0.0.1")
        )
    headers = {"Authorization": f"Bearer {tokens.access_token}"}
    assert (await client.get("/api/v1/genres", headers=headers)).status_code == 200

    async with services.db.session() as session:
        await account.delete_account(session, kit, user.id)

    assert (await client.get("/api/v1/genres", headers=headers)).status_code == 401
