"""The admin's "upload video" control in a real browser, then the film played as a player would.

Debian's headless Chromium (Playwright) signs an editor in, opens a film's edit page and gives
the control a generated clip; tus-js-client sends it, the progress bar fills, and a real
`kinoteka worker` process (Celery on the test Redis) renders it until the page shows `ready`.
A viewer's token then gets the stream answer, the HLS master, a variant and a segment.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import httpx
import psycopg
import pytest

from kinoteka.app import create_app
from kinoteka.auth import ClientInfo, log_in
from kinoteka.auth import service as auth_service
from kinoteka.auth.deps import get_auth_kit
from kinoteka.auth.settings import AuthSettings
from kinoteka.clients import build_services
from kinoteka.infra.db import libpq_url
from kinoteka.settings import Settings
from tests.e2e.test_admin_browser import CHROMIUM, CHROMIUM_ARGS, ServerThread
from tests.media.app_fixtures import FAST_HASH, PASSWORD
from tests.media.clips import ClipSpec, make_clip, requires_ffmpeg
from tests.media.fixtures import SECRET, media_settings, store_urls

pytestmark = [
    pytest.mark.slow,
    requires_ffmpeg,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="no /usr/bin/chromium: run `make system-packages` (Debian's chromium package)",
    ),
]

EDITOR = "upload-editor@media.test"
VIEWER = "upload-viewer@media.test"


@pytest.fixture
def worker(fresh_database: str, flushed_redis: str, tmp_path: Path) -> Iterator[None]:
    """`kinoteka worker` on the test database, Redis and storage, rendering a small ladder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KINOTEKA_")}
    env.update(
        KINOTEKA_ENV="test",
        KINOTEKA_DATA_DIR=str(tmp_path / "data"),
        KINOTEKA_SECRET_KEY=SECRET,
        KINOTEKA_DATABASE_URL=fresh_database,
        KINOTEKA_REDIS_URL=flushed_redis,
        KINOTEKA_STORAGE_URL=f"file://{tmp_path / 'data' / 'storage'}",
        KINOTEKA_MEDIA__LADDER_HEIGHTS=json.dumps([360, 240]),
        KINOTEKA_MEDIA__PRESET="ultrafast",
        KINOTEKA_MEDIA__SEGMENT_SECONDS="1",
    )
    with (tmp_path / "worker.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "kinoteka", "worker"],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        yield
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _settings(data_dir: Path) -> Settings:
    settings = media_settings(data_dir)
    settings.auth = AuthSettings(password_hash=FAST_HASH, redis_prefix=f"e{uuid.uuid4().hex[:8]}")
    return settings


async def test_an_editor_uploads_a_clip_in_chromium_and_it_plays(
    fresh_database: str, flushed_redis: str, tmp_path: Path, worker: None
) -> None:
    from playwright.async_api import async_playwright, expect

    clip = make_clip(tmp_path / "clip.mp4", ClipSpec(width=640, height=360, seconds=3))
    film_id = uuid.uuid4()
    with psycopg.connect(libpq_url(fresh_database)) as connection:
        connection.execute(
            "INSERT INTO content.film_work (id, title, type) VALUES (%s, 'Uploaded Film', 'movie')",
            (film_id,),
        )
    data_dir = tmp_path / "data"
    settings = _settings(data_dir)
    urls = store_urls(fresh_database, flushed_redis, f"file://{data_dir / 'storage'}", data_dir)
    setup = build_services(settings, urls)
    kit = get_auth_kit(setup)
    async with setup.db.session() as session:
        await auth_service.create_user(session, kit, EDITOR, PASSWORD, roles=["admin"])
        await auth_service.create_user(session, kit, VIEWER, PASSWORD, roles=["public_user"])
    async with setup.db.session() as session:
        viewer = await log_in(session, kit, VIEWER, PASSWORD, ClientInfo(ip="127.0.0.1"))
    await setup.close()

    from tests.conftest import free_port

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = create_app(build_services(settings, urls), ["admin", "media"])
    with ServerThread(app, port):
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
            )
            page = await browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(15_000)
            try:
                await page.goto(f"{base}/admin/login")
                await page.fill("input[name=username]", EDITOR)
                await page.fill("input[name=password]", PASSWORD)
                await page.click("button[type=submit]")
                await expect(page.get_by_role("link", name="Films")).to_be_visible()

                await page.goto(f"{base}/admin/film-work/edit/{film_id}")
                control = page.locator("#kinoteka-media")
                bar = control.locator("progress")
                await expect(bar).to_be_hidden()
                await expect(bar).to_have_js_property("value", 0)
                # The values the bar takes as tus-js-client reports progress (`value` reflects
                # to the attribute, so an observer sees each change).
                await page.evaluate(
                    """() => {
                        const bar = document.querySelector('#kinoteka-media progress');
                        window.barValues = [];
                        new MutationObserver(() => window.barValues.push(bar.value))
                            .observe(bar, {attributes: true, attributeFilter: ['value']});
                    }"""
                )
                await page.set_input_files("#kinoteka-media-file", str(clip))
                await expect(bar).to_be_visible()
                state = control.locator(".kinoteka-media-upload-state")
                await expect(state).to_contain_text("Uploaded clip.mp4")
                values: list[float] = await page.evaluate("window.barValues")
                assert values[-1:] == [100], values
                assert values == sorted(values), values

                rows = control.locator(".kinoteka-media-videos")
                await expect(rows).to_contain_text("clip.mp4")
                # Usually 10-40 s; the deadline allows for a shared 2-core machine under load.
                await expect(rows).to_contain_text("ready", timeout=120_000)
            finally:
                await browser.close()

        headers = {"Authorization": f"Bearer {viewer.access_token}"}
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            answer = await client.get(f"/api/v1/films/{film_id}/stream", headers=headers)
            assert answer.status_code == 200, answer.text
            hls = urljoin(base + "/", answer.json()["hls"])
            master = await client.get(hls)
            assert master.status_code == 200
            assert master.text.startswith("#EXTM3U")
            variant_uri = next(x for x in master.text.splitlines() if x and x[0] != "#")
            variant = urljoin(hls, variant_uri)
            playlist = await client.get(variant)
            assert playlist.status_code == 200
            segment_uri = next(x for x in playlist.text.splitlines() if x and x[0] != "#")
            segment = await client.get(urljoin(variant, segment_uri))
            assert segment.status_code == 200
            assert len(segment.content) > 1000

    with psycopg.connect(libpq_url(fresh_database)) as connection:
        row = connection.execute(
            "SELECT status, source_name FROM media.videos WHERE film_id = %s", (film_id,)
        ).fetchone()
    assert row == ("ready", "clip.mp4")
