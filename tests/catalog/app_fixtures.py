"""Building the catalog's HTTP surface over a test database (used by the API and admin tests)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg

from kinoteka.app import create_app
from kinoteka.auth import service as auth_service
from kinoteka.auth.deps import get_auth_kit
from kinoteka.auth.settings import AuthSettings, PasswordHashSettings
from kinoteka.catalog.admin import CSRF_COOKIE
from kinoteka.clients import build_services
from kinoteka.infra import csrf
from kinoteka.infra.db import libpq_url
from kinoteka.infra.footprint import StoreUrls
from kinoteka.services import Services
from kinoteka.settings import Environment, Settings, load_settings

BASE_URL = "http://kinoteka.test"
AS_IS = "kinoteka_as_is"
"""Request extension: send this request without the CSRF header a browser page would add."""
PASSWORD = "correct horse 42"
# Cheap hashing keeps the admin tests fast (the auth tests check the real defaults).
FAST_AUTH = {"password_hash": PasswordHashSettings(memory_kib=256, time_cost=1, parallelism=1)}


def catalog_settings(data_dir: Path, **overrides: object) -> Settings:
    auth = AuthSettings(**FAST_AUTH, redis_prefix=f"t{uuid.uuid4().hex[:10]}")
    chosen: dict[str, object] = {"env": Environment.TEST, "secret_key": "catalog-tests-secret"}
    return load_settings(data_dir=data_dir, auth=auth, **(chosen | overrides))


def catalog_services(settings: Settings, database_url: str, redis_url: str) -> Services:
    urls = StoreUrls(
        database_url=database_url,
        redis_url=redis_url,
        search_url=f"tantivy://{settings.data_dir / 'search'}",
        storage_url=f"file://{settings.data_dir / 'storage'}",
    )
    return build_services(settings, urls)


@asynccontextmanager
async def running_client(
    services: Services, contexts: Sequence[str]
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the app with its lifespan running (closed, with the services, on exit)."""
    app = create_app(services, list(contexts))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)

        async def send_csrf_token(request: httpx.Request) -> None:
            # What the admin's pages do in a browser: echo the CSRF cookie's token.
            name = CSRF_COOKIE if request.url.path.startswith("/admin") else csrf.COOKIE
            cookie = client.cookies.get(name)
            wanted = request.method not in csrf.SAFE_METHODS and csrf.HEADER not in request.headers
            if wanted and cookie and not request.extensions.get(AS_IS):
                request.headers[csrf.HEADER] = cookie.rpartition(".")[0]

        async with httpx.AsyncClient(
            transport=transport, base_url=BASE_URL, event_hooks={"request": [send_csrf_token]}
        ) as client:
            yield client


@dataclass
class Panel:
    """The admin app over a fresh database, with accounts made through the auth service."""

    client: httpx.AsyncClient
    services: Services
    database_url: str
    storage_root: Path

    def rows(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(libpq_url(self.database_url)) as connection:
            return connection.execute(query, args).fetchall()

    def stored_files(self) -> list[str]:
        root = self.storage_root
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@asynccontextmanager
async def admin_panel(
    database_url: str,
    redis_url: str,
    data_dir: Path,
    users: dict[str, list[str]],
    **settings: object,
) -> AsyncIterator[Panel]:
    """`users`: email -> roles, each with the password `PASSWORD`; `settings`: overrides."""
    services = catalog_services(catalog_settings(data_dir, **settings), database_url, redis_url)
    kit = get_auth_kit(services)
    async with services.db.session() as session:
        for email, roles in users.items():
            await auth_service.create_user(session, kit, email, PASSWORD, roles=roles)
    async with running_client(services, ["admin"]) as client:
        await client.get("/admin/login")  # the CSRF cookie, as a browser gets it first
        yield Panel(client, services, database_url, data_dir / "storage")
