"""/docs in a real browser with the network cut off: Swagger UI renders the API from the app's
own assets (issue #13 item 2: a blank page without internet)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI

from kinoteka.api_docs import install_api_docs
from tests.conftest import free_port
from tests.e2e.test_admin_browser import CHROMIUM, CHROMIUM_ARGS, ServerThread

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="no /usr/bin/chromium: run `make system-packages` (Debian's chromium package)",
    ),
]


async def test_docs_render_offline_from_the_apps_own_assets() -> None:
    from playwright.async_api import Route, async_playwright, expect

    app = FastAPI(title="Kinoteka docs probe", docs_url=None, redoc_url=None)

    @app.get("/api/v1/probe", summary="A probe operation")
    async def probe() -> dict[str, str]:
        return {"ok": "yes"}

    install_api_docs(app)
    port = free_port()
    refused: list[str] = []

    async def offline(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            await route.continue_()
        else:
            refused.append(route.request.url)
            await route.abort("internetdisconnected")

    with ServerThread(app, port):
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
            )
            try:
                page = await browser.new_page()
                await page.route("**/*", offline)
                await page.goto(f"http://127.0.0.1:{port}/docs")
                await expect(page.locator(".swagger-ui .info .title")).to_contain_text(
                    "Kinoteka docs probe", timeout=20_000
                )
                await expect(page.get_by_text("A probe operation")).to_be_visible()
            finally:
                await browser.close()
    assert refused == [], "the page asked for something outside the app"
