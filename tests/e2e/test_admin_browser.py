"""The admin in a real browser: Debian's headless Chromium driven by Playwright.

An editor signs in, creates a film with a genre, a credit picked through the person search and
a poster, edits it, and the film list (with its thumbnail) is saved as a screenshot under
`test-artifacts/`.
"""

from __future__ import annotations

import io
import threading
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from PIL import Image

from kinoteka.app import create_app
from kinoteka.auth import service as auth_service
from kinoteka.auth.deps import get_auth_kit
from kinoteka.infra.db import libpq_url
from tests.catalog.app_fixtures import PASSWORD, catalog_services, catalog_settings
from tests.conftest import free_port

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
EDITOR = "browser-editor@example.com"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="no /usr/bin/chromium: run `make system-packages` (Debian's chromium package)",
    ),
]


class ServerThread:
    """uvicorn serving the app from a thread, with its own event loop and lifespan."""

    def __init__(self, app: FastAPI, port: int) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the admin server did not start")
            time.sleep(0.05)  # polling a starting server, with a deadline
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@pytest.fixture
def poster_file(tmp_path: Path) -> Path:
    path = tmp_path / "poster.png"
    buffer = io.BytesIO()
    Image.new("RGB", (400, 600), (180, 40, 40)).save(buffer, "PNG")
    path.write_bytes(buffer.getvalue())
    return path


@pytest.fixture
async def admin_url(fresh_database: str, flushed_redis: str, tmp_path: Path) -> AsyncIterator[str]:
    settings = catalog_settings(tmp_path)
    # The account and the catalog rows are made with their own clients, in this test's loop.
    setup = catalog_services(settings, fresh_database, flushed_redis)
    async with setup.db.session() as session:
        await auth_service.create_user(session, get_auth_kit(setup), EDITOR, PASSWORD,
                                       roles=["admin"])  # fmt: skip
    await setup.close()
    with psycopg.connect(libpq_url(fresh_database)) as connection:
        connection.execute(
            "INSERT INTO content.genre (id, name) VALUES (%s, 'Thriller'), (%s, 'Western')",
            (uuid.uuid4(), uuid.uuid4()),
        )
        connection.execute(
            "INSERT INTO content.person (id, full_name) VALUES (%s, 'Greta Browser')",
            (uuid.uuid4(),),
        )
    services = catalog_services(settings, fresh_database, flushed_redis)
    port = free_port()
    with ServerThread(create_app(services, ["admin"]), port):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


async def test_an_editor_creates_and_edits_a_film_in_chromium(
    admin_url: str, poster_file: Path, artifacts: Path, fresh_database: str
) -> None:
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        page = await browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(15_000)
        try:
            await page.goto(f"{admin_url}/admin/login")
            await page.fill("input[name=username]", EDITOR)
            await page.fill("input[name=password]", PASSWORD)
            await page.click("button[type=submit]")
            await expect(page.get_by_role("link", name="Films")).to_be_visible()

            await page.goto(f"{admin_url}/admin/film-work/create")
            await page.fill("#title", "Browser Made Film")
            await page.select_option("#type", "movie")
            await page.fill("#rating", "7.5")
            await page.fill("#description", "Typed by Chromium.")
            await page.select_option("#genres", label="Thriller")
            # The person picker: select2 searching persons by name.
            await page.click("#credits-0-person + .select2 .select2-selection")
            await page.fill(".select2-container--open .select2-search__field", "Greta")
            await page.click(".select2-results__option:has-text('Greta Browser')")
            await page.select_option("#credits-0-role", "director")
            await page.set_input_files("#poster", str(poster_file))
            await page.click("input[type=submit][value='Save and continue editing']")

            await expect(page.locator("#current-poster")).to_be_visible()
            await expect(page.locator("#title")).to_have_value("Browser Made Film")
            await page.fill("#title", "Browser Made Film (edited)")
            await page.select_option("#genres", label=["Thriller", "Western"])
            await page.click("input[type=submit][value='Save']")

            await expect(page).to_have_url(f"{admin_url}/admin/film-work/list")
            row = page.locator("tr", has_text="Browser Made Film (edited)")
            await expect(row).to_be_visible()
            thumbnail = row.locator("img[alt=poster]")
            await expect(thumbnail).to_be_visible()
            loaded = await thumbnail.evaluate("img => img.complete && img.naturalWidth > 0")
            assert loaded, "the poster thumbnail did not load"
            await page.screenshot(path=str(artifacts / "admin-film-list.png"), full_page=True)
        finally:
            await browser.close()

    with psycopg.connect(libpq_url(fresh_database)) as connection:
        film = connection.execute(
            "SELECT id, title, rating, poster_key FROM content.film_work"
        ).fetchall()
        assert [(title, rating) for _, title, rating, _ in film] == [
            ("Browser Made Film (edited)", 7.5)
        ]
        film_id = film[0][0]
        assert film[0][3] is not None
        credits = connection.execute(
            "SELECT p.full_name, pfw.role FROM content.person_film_work pfw "
            "JOIN content.person p ON p.id = pfw.person_id WHERE pfw.film_work_id = %s",
            (film_id,),
        ).fetchall()
        genres = connection.execute(
            "SELECT g.name FROM content.genre_film_work gfw JOIN content.genre g "
            "ON g.id = gfw.genre_id WHERE gfw.film_work_id = %s ORDER BY 1",
            (film_id,),
        ).fetchall()
        audit = connection.execute(
            "SELECT action FROM admin.audit_log WHERE entity = 'film-work' ORDER BY id"
        ).fetchall()
    assert credits == [("Greta Browser", "director")]
    assert genres == [("Thriller",), ("Western",)]
    assert audit == [("create",), ("update",)]
    assert (artifacts / "admin-film-list.png").stat().st_size > 10_000


def forging_site(target: str) -> FastAPI:
    """Another origin's page that makes the visitor's browser post a genre to the admin."""
    site = FastAPI()

    @site.get("/", response_class=HTMLResponse)
    async def page() -> str:
        return (
            f'<form id="forged" method="POST" action="{target}">'
            '<input name="name" value="Forged by another site"><input name="save" value="Save">'
            "</form><script>document.getElementById('forged').submit()</script>"
        )

    return site


async def test_a_page_of_another_origin_cannot_post_through_the_admins_browser(
    admin_url: str, fresh_database: str
) -> None:
    from playwright.async_api import async_playwright, expect

    target = f"{admin_url}/admin/genre/create"
    with ServerThread(forging_site(target), free_port()) as other:
        other_url = f"http://127.0.0.1:{other.server.config.port}/"
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
            )
            page = await browser.new_page()
            page.set_default_timeout(15_000)
            try:
                await page.goto(f"{admin_url}/admin/login")
                await page.fill("input[name=username]", EDITOR)
                await page.fill("input[name=password]", PASSWORD)
                await page.click("button[type=submit]")
                await expect(page.get_by_role("link", name="Films")).to_be_visible()

                async with page.expect_response(
                    lambda r: r.url == target and r.request.method == "POST"
                ) as forged:
                    await page.goto(other_url)
                response = await forged.value
                assert response.status == 403
                assert "another site" in await response.text()

                # The admin's own pages still work: a genre made and deleted through the UI
                # (the delete is a script's DELETE request, sending the token as a header).
                await page.goto(target)
                await page.fill("#name", "Made here")
                await page.click("input[type=submit][value='Save']")
                await expect(page).to_have_url(f"{admin_url}/admin/genre/list")
                row = page.locator("tr", has_text="Made here")
                await row.locator("[data-bs-target='#modal-delete']").click()
                # The row can leave the page before the server has answered the DELETE: wait
                # for the answer itself, or closing the browser may cut the request off.
                async with page.expect_response(
                    lambda r: r.request.method == "DELETE" and "/admin/genre/" in r.url
                ) as deleted:
                    await page.click("#modal-delete-button")
                assert (await deleted.value).ok
                await expect(page.locator("tr", has_text="Made here")).to_have_count(0)
            finally:
                await browser.close()

    with psycopg.connect(libpq_url(fresh_database)) as connection:
        names = connection.execute("SELECT name FROM content.genre ORDER BY name").fetchall()
    assert names == [("Thriller",), ("Western",)]
