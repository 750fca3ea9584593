"""UGC fixtures: the ugc API over a fresh database with a few films, tokens signed here."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import psycopg
import pytest

from kinoteka.app import create_app
from kinoteka.auth.deps import get_auth_kit
from kinoteka.auth.tokens import sign_access_token
from kinoteka.clients import build_services
from kinoteka.infra.db import libpq_url
from kinoteka.infra.footprint import StoreUrls
from kinoteka.services import Services
from kinoteka.settings import Settings

VIEWER = ["catalog.read", "ugc.write"]
MODERATOR = [*VIEWER, "ugc.moderate"]


def add_films(database_url: str, count: int) -> list[uuid.UUID]:
    films = [uuid.uuid4() for _ in range(count)]
    with psycopg.connect(libpq_url(database_url), autocommit=True) as connection:
        for number, film in enumerate(films):
            connection.execute(
                "INSERT INTO content.film_work (id, title, type) VALUES (%s, %s, 'movie')",
                (film, f"Film {number}"),
            )
    return films


# Generous waits: a burst of concurrent requests in a fresh process opens a Redis and a
# PostgreSQL connection per request, and on a loaded machine the default 1 s Redis connect
# timeout runs out (a 503, the write refused) although nothing is down.
PATIENT_CACHE = {"socket_timeout": 30, "connect_timeout": 30}
PATIENT_DATABASE = {"pool_timeout": 60, "connect_timeout": 60}


def ugc_services(database_url: str, redis_url: str, **ugc: object) -> Services:
    settings = Settings(
        secret_key="test-secret-for-keys",
        auth={"redis_prefix": f"t{uuid.uuid4().hex[:10]}"},
        cache=PATIENT_CACHE,
        database=PATIENT_DATABASE,
        ugc=ugc,
    )
    urls = StoreUrls(database_url=database_url, redis_url=redis_url, search_url="", storage_url="")
    return build_services(settings, urls)


@dataclass
class UgcWorld:
    client: httpx.AsyncClient
    services: Services
    films: list[uuid.UUID]
    signer: object

    def headers(
        self, user: uuid.UUID | None = None, permissions: list[str] | None = None
    ) -> dict[str, str]:
        kit = get_auth_kit(self.services)
        token, _ = sign_access_token(
            self.signer,  # type: ignore[arg-type]
            subject=user or uuid.uuid4(),
            session_id=uuid.uuid4(),
            roles=["public_user"],
            permissions=VIEWER if permissions is None else permissions,
            issuer=kit.settings.issuer,
            audience=kit.settings.audience,
            ttl_seconds=600,
        )
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def world(fresh_database: str, flushed_redis: str) -> AsyncIterator[UgcWorld]:
    films = add_films(fresh_database, 3)
    services = ugc_services(fresh_database, flushed_redis)
    app = create_app(services, ["ugc"])
    kit = get_auth_kit(services)
    async with app.router.lifespan_context(app):
        signer = await kit.keys.signer()
        await kit.verifier.reload()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ugc.test") as client:
            yield UgcWorld(client, services, films, signer)
