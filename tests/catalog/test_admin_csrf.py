"""Cross-site forms and the admin's cookies: tokens, Origin checks, Secure in production."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from kinoteka.auth import service as auth_service
from kinoteka.auth.deps import get_auth_kit
from kinoteka.settings import Environment
from tests.catalog.app_fixtures import (
    AS_IS,
    BASE_URL,
    PASSWORD,
    Panel,
    admin_panel,
    catalog_services,
    catalog_settings,
    running_client,
)

ADMIN_EMAIL = "editor@example.com"
AS_A_PAGE = {AS_IS: True}


@pytest.fixture
async def panel(fresh_database: str, flushed_redis: str, tmp_path: Path) -> AsyncIterator[Panel]:
    async with admin_panel(fresh_database, flushed_redis, tmp_path, {ADMIN_EMAIL: ["admin"]}) as p:
        yield p


def form_token(page: httpx.Response) -> str:
    found = re.search(r'name="csrftoken" value="([^"]+)"', page.text)
    assert found, "the page's form carries no CSRF token"
    return found.group(1)


async def login_with_form_token(client: httpx.AsyncClient) -> httpx.Response:
    token = form_token(await client.get("/admin/login"))
    return await client.post(
        "/admin/login",
        data={"username": ADMIN_EMAIL, "password": PASSWORD, "csrftoken": token},
        extensions=AS_A_PAGE,
    )


def genres(panel: Panel) -> list[str]:
    return [name for (name,) in panel.rows("SELECT name FROM content.genre")]


async def test_a_form_post_without_its_token_is_refused(panel: Panel) -> None:
    client = panel.client
    refused_login = await client.post(
        "/admin/login", data={"username": ADMIN_EMAIL, "password": PASSWORD}, extensions=AS_A_PAGE
    )
    assert refused_login.status_code == 403
    assert "CSRF token is missing" in refused_login.text

    assert (await login_with_form_token(client)).status_code == 302
    refused = await client.post(
        "/admin/genre/create", data={"name": "Forged", "save": "Save"}, extensions=AS_A_PAGE
    )
    assert refused.status_code == 403
    wrong = await client.post(
        "/admin/genre/create",
        data={"name": "Forged", "save": "Save", "csrftoken": "not-the-token"},
        extensions=AS_A_PAGE,
    )
    assert wrong.status_code == 403
    assert "does not match" in wrong.text
    assert genres(panel) == []


async def test_the_token_of_the_form_lets_the_post_through(panel: Panel) -> None:
    client = panel.client
    assert (await login_with_form_token(client)).status_code == 302
    page = await client.get("/admin/genre/create")
    created = await client.post(
        "/admin/genre/create",
        data={"name": "Drama", "save": "Save", "csrftoken": form_token(page)},
        extensions=AS_A_PAGE,
    )
    assert created.status_code == 302
    assert genres(panel) == ["Drama"]
    # Multipart (the film form with its poster field) carries the token the same way.
    film_page = await client.get("/admin/film-work/create")
    film = await client.post(
        "/admin/film-work/create",
        data={"title": "Tokened", "type": "movie", "save": "Save",
              "csrftoken": form_token(film_page)},
        files={"poster": ("", b"", "application/octet-stream")},
        extensions=AS_A_PAGE,
    )  # fmt: skip
    assert film.status_code == 302
    assert panel.rows("SELECT title FROM content.film_work") == [("Tokened",)]


async def test_another_origin_is_refused_even_with_the_token(panel: Panel) -> None:
    client = panel.client
    assert (await login_with_form_token(client)).status_code == 302
    token = form_token(await client.get("/admin/genre/create"))
    for header in (
        {"Origin": "http://127.0.0.1:9999"},
        {"Origin": "null"},
        {"Referer": "http://evil.test/page"},
    ):
        refused = await client.post(
            "/admin/genre/create",
            data={"name": "Forged", "save": "Save", "csrftoken": token},
            headers=header,
            extensions=AS_A_PAGE,
        )
        assert refused.status_code == 403, header
        assert "another site" in refused.text
    same_site = await client.post(
        "/admin/genre/create",
        data={"name": "Drama", "save": "Save", "csrftoken": token},
        headers={"Origin": BASE_URL, "Referer": f"{BASE_URL}/admin/genre/create"},
        extensions=AS_A_PAGE,
    )
    assert same_site.status_code == 302
    assert genres(panel) == ["Drama"]


async def test_scripts_send_the_token_as_a_header(panel: Panel) -> None:
    client = panel.client
    assert (await login_with_form_token(client)).status_code == 302
    page = await client.get("/admin/genre/create")
    meta = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
    assert meta
    assert meta.group(1) == form_token(page)
    created = await client.post(
        "/admin/genre/create",
        data={"name": "Drama", "save": "Save"},
        headers={"X-CSRF-Token": meta.group(1)},
        extensions=AS_A_PAGE,
    )
    assert created.status_code == 302
    genre_id = panel.rows("SELECT id::text FROM content.genre")[0][0]
    refused = await client.delete(f"/admin/genre/delete?pks={genre_id}", extensions=AS_A_PAGE)
    assert refused.status_code == 403
    deleted = await client.delete(
        f"/admin/genre/delete?pks={genre_id}", headers={"X-CSRF-Token": meta.group(1)}
    )
    assert deleted.status_code == 200
    assert genres(panel) == []


def cookie_attributes(response: httpx.Response, name: str) -> set[str]:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{name}="):
            return {part.strip().lower() for part in header.split(";")[1:]}
    raise AssertionError(f"no {name} cookie set")


async def test_cookies_are_secure_in_production(
    fresh_database: str, flushed_redis: str, tmp_path: Path
) -> None:
    production = {"env": Environment.PRODUCTION, "secret_key": "p" * 32}
    async with admin_panel(
        fresh_database, flushed_redis, tmp_path, {ADMIN_EMAIL: ["admin"]}, **production
    ) as panel:
        panel.client.base_url = httpx.URL("https://kinoteka.test")  # Secure cookies need HTTPS
        panel.client.cookies.clear()
        page = await panel.client.get("/admin/login")
        flags = cookie_attributes(page, "kinoteka_admin_csrf")
        assert {"secure", "httponly", "samesite=lax"} <= flags
        logged_in = await panel.client.post(
            "/admin/login",
            data={"username": ADMIN_EMAIL, "password": PASSWORD, "csrftoken": form_token(page)},
            extensions=AS_A_PAGE,
        )
        assert logged_in.status_code == 302
        assert {"secure", "httponly", "samesite=lax"} <= cookie_attributes(
            logged_in, "kinoteka_admin"
        )


async def test_cookies_are_not_secure_in_development_over_http(panel: Panel) -> None:
    logged_in = await login_with_form_token(panel.client)
    attributes = cookie_attributes(logged_in, "kinoteka_admin")
    assert {"httponly", "samesite=lax"} <= attributes
    assert "secure" not in attributes


async def test_a_visit_to_the_site_between_the_admin_page_and_its_post_keeps_the_login_working(
    fresh_database: str, flushed_redis: str, tmp_path: Path
) -> None:
    """A browser fetches `/favicon.ico` right after the admin's login page: the pages' guard
    gives it the site's CSRF cookie at `Path=/`, and both cookies then go to `/admin`. Each guard
    keeps its own cookie, so the admin's form still matches."""
    services = catalog_services(catalog_settings(tmp_path), fresh_database, flushed_redis)
    async with services.db.session() as session:
        kit = get_auth_kit(services)
        await auth_service.create_user(session, kit, ADMIN_EMAIL, PASSWORD, roles=["admin"])
    async with running_client(services, ["admin", "web"]) as client:
        token = form_token(await client.get("/admin/login"))
        await client.get("/favicon.ico")
        assert len(client.cookies.jar) == 2
        answer = await client.post(
            "/admin/login",
            data={"username": ADMIN_EMAIL, "password": PASSWORD, "csrftoken": token},
            extensions=AS_A_PAGE,
        )
        assert answer.status_code == 302, answer.text
