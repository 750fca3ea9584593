"""A film the media context transcoded, played in a real browser (Debian's headless Chromium).

The other browser tests play a ladder ffmpeg renders in the test and a stand-in stream
endpoint; here a generated clip goes through the media pipeline's own jobs (transcode, then
artwork, run in-process as tests/media runs them), and the watch page plays what the real
`GET /api/v1/films/{id}/stream` answers: its signed HLS master, playlists and segments.
The clip's audio is at 44.1 kHz, as many uploads are: resampled and AAC-padded it used to run
past the picture, and hls.js never ended such a film (issue #16); it is played to its end.
"""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path
from typing import Any

import anyio
import pytest

from kinoteka.app import create_app
from kinoteka.infra import db as db_port
from kinoteka.infra.search import SearchIndex, SearchQuery
from kinoteka.media import jobs, service
from kinoteka.media.jobs import JobEnv
from kinoteka.search.settings import SearchSettings
from tests.conftest import free_port
from tests.e2e.test_admin_browser import CHROMIUM, CHROMIUM_ARGS, ServerThread
from tests.media.clips import ClipSpec, make_clip, requires_ffmpeg
from tests.media.fixtures import RecordingQueue, media_settings, prepared_storage
from tests.web.conftest import PASSWORD, bus_types, web_index, web_services

__all__ = ["web_index"]  # the session's synced index, a fixture shared with tests/web

pytestmark = [
    pytest.mark.slow,
    requires_ffmpeg,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="no /usr/bin/chromium: run `make system-packages` (Debian's chromium package)",
    ),
]


PLAYBACK_STATE = """(() => {
  const video = document.getElementById('video');
  const ranges = (b) => Array.from({length: b.length}, (_, i) => [b.start(i), b.end(i)]);
  return {time: video.currentTime, duration: video.duration, ready: video.readyState,
          paused: video.paused, buffered: ranges(video.buffered)};
})()"""


async def transcoded(data_dir: Path, database_url: str, film_id: uuid.UUID, clip: Path) -> None:
    """`clip` registered for `film_id` and taken through the media jobs: the ladder (360p,
    240p), then the poster, seek thumbnails and previews."""
    settings = media_settings(data_dir)
    db = db_port.from_url(database_url)
    storage = await prepared_storage(f"file://{data_dir / 'storage'}")
    queue = RecordingQueue()
    try:
        video_id = uuid.uuid4()
        key = service.source_key(video_id, clip.name)
        data = await anyio.Path(clip).read_bytes()
        await storage.put(key, data)
        async with db.session() as session:
            await service.register_video(session, film_id=film_id, key=key, name=clip.name,
                                         size=len(data), checksum=None,
                                         video_id=video_id)  # fmt: skip
        env = JobEnv(settings.media, db, storage, queue)
        await jobs.transcode(env, video_id)
        [kwargs] = [kwargs for task, kwargs, _ in queue.sent if task == jobs.ARTWORK_TASK]
        await jobs.artwork(env, video_id, kwargs["version"])
    finally:
        await storage.close()
        await db.close()


async def test_a_film_the_media_context_transcoded_plays_in_chromium(
    fresh_database: str, flushed_redis: str, web_index: tuple[str, SearchIndex], tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright, expect

    found = await web_index[1].search(SearchQuery(SearchSettings().indexes.movies, limit=1))
    film_id = uuid.UUID(str(found.documents[0]["id"]))
    data_dir = tmp_path / "data"
    clip = make_clip(
        tmp_path / "clip.mp4", ClipSpec(width=640, height=360, seconds=20, audio_rate=44100)
    )
    await transcoded(data_dir, fresh_database, film_id, clip)
    services = web_services(fresh_database, flushed_redis, web_index, data_dir)
    app = create_app(services, ["web", "auth", "ugc", "media"])
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    streams: list[Any] = []
    with ServerThread(app, port):
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
            )
            page = await browser.new_page(locale="en-US")
            page.set_default_timeout(15_000)
            page.on("response", lambda r: streams.append(r) if "/media/v/" in r.url else None)
            await page.goto(f"{base}/signup")
            await page.fill("#email", "media-viewer@example.com")
            await page.fill("#password", PASSWORD)
            await page.fill("#password_repeat", PASSWORD)
            await page.click("form.stack button[type=submit]")
            await page.wait_for_url(f"{base}/")

            await page.goto(f"{base}/films/{film_id}")  # the stream's preview, signed
            await expect(page.locator(".film-poster")).to_have_attribute(
                "data-preview", re.compile(r"/media/v/.+/preview\.webp$")
            )
            await page.goto(f"{base}/films/{film_id}/watch")
            player = page.locator("#player")
            await expect(player).to_have_attribute("data-engine", "hls")
            await page.get_by_role("button", name="Play").click()
            deadline = time.monotonic() + 15
            played = 0.0
            while played <= 1.5:
                assert time.monotonic() < deadline, f"the video did not play: at {played} s"
                await page.wait_for_timeout(100)  # polling the player, with a deadline
                played = await page.evaluate("document.getElementById('video').currentTime")
            assert await page.evaluate("document.getElementById('video').videoHeight") > 0
            await expect(page.locator("#quality option")).to_have_text(["Auto", "360p", "240p"])

            # Near the end, the film plays to its end: `ended`, and the player says so.
            await page.evaluate("document.getElementById('video').currentTime = 17")
            deadline = time.monotonic() + 20
            while not await page.evaluate("document.getElementById('video').ended"):
                if time.monotonic() > deadline:
                    state = await page.evaluate(PLAYBACK_STATE)
                    raise AssertionError(f"the film never ended: {state}")
                await page.wait_for_timeout(100)  # polling the player, with a deadline
            await expect(player).to_have_attribute("data-state", "ended")
            await expect(page.get_by_role("button", name="Play")).to_be_visible()
            # Watched to the end: a full view, and the next visit starts from the beginning.
            deadline = time.monotonic() + 15
            while "full_view" not in await bus_types(flushed_redis):
                assert time.monotonic() < deadline, "no full view reached the collector"
                await page.wait_for_timeout(100)  # polling the bus, with a deadline
            deadline = time.monotonic() + 15
            while True:
                await page.goto(f"{base}/films/{film_id}/watch")
                if await player.get_attribute("data-start") == "0.00":
                    break
                assert time.monotonic() < deadline, "the film's end was not saved as finished"
                await page.wait_for_timeout(200)  # polling the saved position, with a deadline
            await browser.close()
    # What played came through the media context's signed URLs, segments included.
    urls = [r.url for r in streams if r.ok]
    assert any(url.endswith("master.m3u8") for url in urls)
    assert any(url.endswith(".m4s") for url in urls)
