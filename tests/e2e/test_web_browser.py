"""The viewer's pages in a real browser: Debian's headless Chromium driven by Playwright.

A visitor browses and is asked to sign in to watch; a viewer signs up, signs in, finds a film
through a misspelled search, plays its stream (rendered here by ffmpeg as the media context
will), switches quality, sees seek thumbnails, and resumes after a reload; the player keeps
its events through a collector that refuses them and through a reload. Every page passes
axe-core without serious or critical violations and is kept as a phone and a desktop
screenshot under `test-artifacts/`.
"""

from __future__ import annotations

import inspect
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import psycopg
import pytest
from redis.asyncio import Redis

from kinoteka.analytics.topics import PLAYER_TOPICS
from kinoteka.app import create_app
from kinoteka.infra.db import libpq_url
from kinoteka.infra.search import SearchIndex
from kinoteka.search.settings import SearchSettings
from tests.conftest import TEMPLATE, create_database, drop_database, free_port
from tests.e2e.test_admin_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, ServerThread
from tests.web.conftest import PASSWORD, bus_types, web_index, web_services
from tests.web.streams import install_media, make_stream
from tests.web.test_inbox import deliver_new_device_notice

REPO = Path(__file__).resolve().parents[2]
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
FILM_TITLE = "Star Wars: Knights of the Old Republic"
MISSPELLED = "Star Wars Knigths of the Old Republik"
EMAIL = "browser-viewer@example.com"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
OUTBOX_KEY = "kinoteka.player.outbox"  # where the player keeps the batches not yet taken

__all__ = ["web_index"]  # the session's synced index, a fixture shared with tests/web

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="no /usr/bin/chromium: run `make system-packages` (Debian's chromium package)",
    ),
    pytest.mark.skipif(not AXE.exists(), reason="no node_modules: run `make web-assets`"),
]


@dataclass
class Site:
    url: str
    database_url: str
    film_id: str
    redis_url: str

    def rows(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(libpq_url(self.database_url)) as connection:
            return connection.execute(query, args).fetchall()


@pytest.fixture(scope="module")
def database(embedded_postgres: str) -> Iterator[str]:
    name = f"web_e2e_{uuid.uuid4().hex[:8]}"
    yield create_database(embedded_postgres, name, template=TEMPLATE)
    drop_database(embedded_postgres, name)


@pytest.fixture(scope="module")
async def film_id(movies_database: str, web_index: tuple[str, SearchIndex]) -> AsyncIterator[str]:
    """The film this module streams, marked watchable in the shared index (as the media
    context's sync does for a film whose video is ready) while the module runs."""
    with psycopg.connect(libpq_url(movies_database)) as connection:
        [(found,)] = connection.execute(
            "SELECT id::text FROM content.film_work WHERE title = %s", (FILM_TITLE,)
        ).fetchall()
    index = web_index[1]
    movies = SearchSettings().indexes.movies
    document = await index.get(movies, found)
    assert document is not None
    await index.bulk(movies, [{**document, "has_video": True}])
    await index.refresh()
    yield found
    await index.bulk(movies, [document])
    await index.refresh()


@pytest.fixture(scope="module")
def site(
    database: str,
    film_id: str,
    embedded_redis: str,
    web_index: tuple[str, SearchIndex],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("web-e2e")
    stream = make_stream(root / "stream")
    services = web_services(database, embedded_redis, web_index, root)
    app = create_app(services, ["web", "auth", "ugc"])
    install_media(app, stream, {film_id})
    port = free_port()
    with ServerThread(app, port):
        yield Site(f"http://127.0.0.1:{port}", database, film_id, embedded_redis)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield chromium
        await chromium.close()


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[Any]:
    context = await browser.new_context(viewport=DESKTOP, locale="en-US")
    page = await context.new_page()
    page.set_default_timeout(15_000)
    yield page
    await page.unroute_all(behavior="ignoreErrors")  # a handler may still be answering
    await context.close()


async def poll(page: Any, expression: str, deadline: float = 15.0) -> Any:
    """Evaluate `expression` until truthy (or fail after `deadline` seconds)."""
    until = time.monotonic() + deadline
    while True:
        value = await page.evaluate(expression)
        if value:
            return value
        if time.monotonic() > until:
            raise AssertionError(f"not true within {deadline} s: {expression}")
        await page.wait_for_timeout(100)  # polling the page's state, with a deadline


async def sign_up(page: Any, site: Site, email: str) -> None:
    await page.goto(f"{site.url}/signup")
    await page.fill("#email", email)
    await page.fill("#password", PASSWORD)
    await page.fill("#password_repeat", PASSWORD)
    await page.click("form.stack button[type=submit]")
    await page.wait_for_url(f"{site.url}/")


async def test_a_visitor_browses_and_is_asked_to_sign_in_to_watch(page: Any, site: Site) -> None:
    from playwright.async_api import expect

    await page.goto(site.url)
    await expect(page.get_by_role("heading", name="Top rated")).to_be_visible()
    await page.get_by_role("link", name=FILM_TITLE, exact=True).first.click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(FILM_TITLE)
    await page.get_by_role("link", name="Play").click()
    await expect(page).to_have_url(re.compile(r"/signin\?next="))
    await expect(page.get_by_role("status")).to_have_text("Sign in to watch films.")

    # A visitor holds only the CSRF guard's cookie; no session until signing in.
    cookies = {c["name"]: c for c in await page.context.cookies()}
    assert set(cookies) == {"kinoteka_csrf"}
    assert cookies["kinoteka_csrf"]["httpOnly"] is True

    # A form posted without its token is refused.
    refused = await page.request.post(
        f"{site.url}/signin", form={"email": EMAIL, "password": PASSWORD}
    )
    assert refused.status == 403


async def test_a_viewer_finds_plays_switches_seeks_and_resumes_a_film(
    page: Any, site: Site
) -> None:
    from playwright.async_api import expect

    await sign_up(page, site, EMAIL)
    [cookie] = [c for c in await page.context.cookies() if c["name"] == "kinoteka_session"]
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert cookie["secure"] is True  # outside development
    await page.get_by_role("button", name="Sign out").click()
    await page.goto(f"{site.url}/signin")
    await page.fill("#email", EMAIL)
    await page.fill("#password", PASSWORD)
    await page.click("form.stack button[type=submit]")
    await expect(page.get_by_role("link", name="Account")).to_be_visible()

    # Search as you type, typos forgiven: results arrive without submitting the form.
    await page.goto(f"{site.url}/search")
    await page.locator("#q").press_sequentially(MISSPELLED, delay=10)
    result = page.locator("#results").get_by_role("link", name=FILM_TITLE, exact=True)
    await expect(result).to_be_visible()
    await expect(page).to_have_url(re.compile(r"/search\?q=Star"))
    await result.click()

    # The animated preview replaces the poster while hovered.
    poster = page.locator(".film-poster img")
    await page.locator(".film-poster").hover()
    await expect(poster).to_have_attribute("src", re.compile(r"preview\.gif$"))
    await page.get_by_role("link", name="Play").click()
    await expect(page).to_have_url(f"{site.url}/films/{site.film_id}/watch")

    player = page.locator("#player")
    await expect(player).to_have_attribute("data-engine", "hls")
    await page.get_by_role("button", name="Play").click()
    await poll(page, "document.getElementById('video').currentTime > 1.5")

    # The quality menu: auto plus each rung; choosing one changes the rendition.
    quality = page.locator("#quality")
    await expect(quality.locator("option")).to_have_text(["Auto", "360p", "180p"])
    await quality.select_option(label="180p")
    await poll(page, "document.getElementById('video').videoHeight === 180")
    await expect(player).to_have_attribute("data-rendition", "180")
    await quality.select_option(label="360p")
    await poll(page, "document.getElementById('video').videoHeight === 360")

    # Keys: m mutes, the right arrow jumps ahead.
    await page.locator("body").press("m")
    assert await page.evaluate("document.getElementById('video').muted") is True
    before = await page.evaluate("document.getElementById('video').currentTime")
    await page.locator("body").press("ArrowRight")
    await poll(page, f"document.getElementById('video').currentTime > {before + 3}")

    # Seek previews: hovering the timeline shows the sprite tile for that moment.
    await poll(page, "Number(document.getElementById('player').dataset.thumbnails) === 10")
    seek = page.locator("#seek")
    box = await seek.bounding_box()
    await page.mouse.move(box["x"] + box["width"] * 0.75, box["y"] + box["height"] / 2)
    thumb = page.locator(".thumb")
    await expect(thumb).to_be_visible()
    background = await page.locator(".thumb-image").evaluate("e => e.style.backgroundImage")
    assert "sprite.jpg" in background
    assert await page.locator(".thumb-image").evaluate("e => e.style.backgroundPosition") == (
        "-320px -90px"  # 15 s: the 8th tile, third of the second row
    )
    await page.screenshot(path=str(ARTIFACTS / "web-player-desktop.png"))

    # Pausing sends the position; a reload starts from it.
    await page.keyboard.press("Escape")
    await page.locator("body").press(" ")
    await poll(page, "document.getElementById('video').paused")
    position = await page.evaluate("document.getElementById('video').currentTime")
    assert position > 3
    until = time.monotonic() + 10
    while not site.rows(
        "SELECT 1 FROM ugc.progress WHERE (doc -> 'position_seconds')::float >= %s",
        position - 0.5,
    ):
        assert time.monotonic() < until, "the progress event never arrived"
        await page.wait_for_timeout(100)  # polling the database for the beacon, with a deadline
    await page.reload()
    start = float(await player.get_attribute("data-start") or 0)
    assert abs(start - position) < 1.5
    await poll(page, f"Math.abs(document.getElementById('video').currentTime - {start}) < 1.5")
    kinds = set(await bus_types(site.redis_url))
    assert {"play", "pause", "seek", "quality_change", "progress"} <= kinds
    assert site.rows("SELECT count(*) FROM analytics.failed_event") == [(0,)]


async def test_the_dash_path_plays_and_f_toggles_full_screen(page: Any, site: Site) -> None:
    from playwright.async_api import expect

    await sign_up(page, site, "dash-viewer@example.com")
    await page.goto(f"{site.url}/films/{site.film_id}/watch?engine=dash")
    player = page.locator("#player")
    await expect(player).to_have_attribute("data-engine", "dash")
    # The whole player, controls included, fits a laptop's first screen: no scrolling to Play.
    bottom = await page.evaluate("document.getElementById('player').getBoundingClientRect().bottom")
    assert bottom <= DESKTOP["height"], bottom
    await poll(page, "window.dashjs !== undefined")
    await page.get_by_role("button", name="Play").click()
    await poll(page, "document.getElementById('video').currentTime > 1.5")
    assert await page.evaluate("document.getElementById('video').currentSrc.startsWith('blob:')")
    await expect(page.locator("#quality option")).to_have_text(["Auto", "360p", "180p"])

    await page.locator("body").press("f")
    await poll(page, "document.fullscreenElement === document.getElementById('player')")
    await page.locator("body").press("f")
    await poll(page, "document.fullscreenElement === null")


@dataclass
class Posted:
    """A batch the player posted to the collector, and what it was answered."""

    status: int | str  # the HTTP status, or "beacon" for one sent as the page went away
    events: list[dict[str, Any]]


BATCH_FIELD = re.compile(r'name="batch"\r\n\r\n(\{.*?\})\r\n--', re.DOTALL)


async def watch_events(page: Any, refuse: list[bool]) -> list[Posted]:
    """Every batch the page posts to `/web/events`, in order. While `refuse[0]` is true the
    answer is a 503, as the collector's when its bus is down; else the request goes through."""
    posted: list[Posted] = []

    async def handle(route: Any) -> None:
        request = route.request
        body = (request.post_data_buffer or b"").decode(errors="replace")
        found = BATCH_FIELD.search(body)
        events = json.loads(found.group(1))["events"] if found else []
        if refuse and refuse[0]:
            posted.append(Posted(503, events))
            await route.fulfill(status=503, body="the event bus is unavailable")
            return
        response = await route.fetch()
        kind = "beacon" if request.resource_type == "ping" else response.status
        posted.append(Posted(kind, events))
        await route.fulfill(response=response)

    await page.route("**/web/events", handle)
    return posted


async def bus_event_ids(redis_url: str) -> list[str]:
    """The `event_id` of every player event on the bus, as often as it was published."""
    client = Redis.from_url(redis_url)
    try:
        found: list[str] = []
        for topic in set(PLAYER_TOPICS.values()):
            for _, fields in await client.xrange(topic):
                for body in fields.values():
                    found.extend(orjson.loads(line)["event_id"] for line in body.splitlines())
        return found
    finally:
        await client.aclose()


async def eventually(page: Any, check: Callable[[], Any], what: str) -> Any:
    """`check()` (awaited when it is a coroutine) once truthy; fails with `what` after 15 s."""
    until = time.monotonic() + 15
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        assert time.monotonic() < until, what
        await page.wait_for_timeout(100)  # polling, with a deadline


async def play_then_pause(page: Any, past: float) -> float:
    await page.get_by_role("button", name="Play").click()
    await poll(page, f"document.getElementById('video').currentTime > {past}")
    await page.locator("body").press(" ")
    await poll(page, "document.getElementById('video').paused")
    position: float = await page.evaluate("document.getElementById('video').currentTime")
    return position


async def test_player_events_wait_out_a_refused_post_and_a_reload(page: Any, site: Site) -> None:
    await sign_up(page, site, "outage-viewer@example.com")
    refuse = [True]
    posted = await watch_events(page, refuse)
    watch = f"{site.url}/films/{site.film_id}/watch"
    outbox = f"sessionStorage.getItem({json.dumps(OUTBOX_KEY)})"
    await page.goto(watch)
    position = await play_then_pause(page, 2.0)

    # The collector refuses the first batch (its bus is down); the player keeps it and posts
    # it again, with the same event ids, once the collector is back.
    await eventually(page, lambda: posted, "the pause posted nothing")
    refuse[0] = False
    first = posted[0]
    assert first.status == 503
    assert {"play", "pause", "progress"} <= {e["type"] for e in first.events}
    ids = [e["event_id"] for e in first.events]
    assert all(ids)
    assert len(set(ids)) == len(ids)
    resent = await eventually(
        page,
        lambda: [p for p in posted if p.status == 202],
        "the refused batch was never posted again",
    )
    assert [e["event_id"] for e in resent[0].events] == ids
    on_bus = await bus_event_ids(site.redis_url)
    assert sorted(i for i in on_bus if i in set(ids)) == sorted(ids)  # each once
    assert await page.evaluate(outbox) is None

    # The resume point survived the outage: "continue watching" starts where the pause was.
    await page.reload()
    start = float(await page.locator("#player").get_attribute("data-start") or 0)
    assert abs(start - position) < 1.5

    # Refused again, then reloaded: the batch waits in the tab's storage and the next page
    # posts it once the collector takes events again.
    refuse[0] = True
    await play_then_pause(page, start + 1.0)
    waiting = await eventually(
        page, lambda: page.evaluate(outbox), "the refused batch is not in sessionStorage"
    )
    kept = {e["event_id"] for batch in json.loads(waiting) for e in batch["events"]}
    assert kept
    await page.reload()
    refuse[0] = False

    async def all_kept_on_bus() -> bool:
        return kept <= set(await bus_event_ids(site.redis_url))

    await eventually(page, all_kept_on_bus, "the kept batch never reached the bus")
    await poll(page, f"{outbox} === null")

    # The video ending pauses it: that is no pause event (the heartbeat says where it ended).
    # (Here on the DASH path; test_media_playback_browser plays a transcoded film's HLS to its
    # end, and this stream ends its audio with its picture as the media context does.)
    await page.goto(f"{watch}?engine=dash")
    await poll(page, "window.dashjs && document.getElementById('video').readyState > 0")
    await page.evaluate("document.getElementById('video').currentTime = 18.5")
    await page.get_by_role("button", name="Play").click()
    await poll(page, "document.getElementById('video').ended")
    await eventually(
        page,
        lambda: [
            e for p in posted for e in p.events if e["type"] == "progress" and e["position"] > 19.5
        ],
        "no heartbeat where the video ended",
    )
    pauses = [e["position"] for p in posted for e in p.events if e["type"] == "pause"]
    assert pauses
    assert max(pauses) < 19.0

    # No quality change for the rendition playback started at; a switch names both ends.
    await page.locator("#quality").select_option(label="180p")
    await page.get_by_role("button", name="Play").click()
    await poll(page, "document.getElementById('player').dataset.rendition === '180'")
    await page.locator("body").press(" ")
    await eventually(
        page,
        lambda: any(e.get("to_quality") == "180p" for p in posted for e in p.events),
        "the switch to 180p was not posted",
    )
    switches = [e for p in posted for e in p.events if e["type"] == "quality_change"]
    assert all(e["from_quality"] and e["from_quality"] != e["to_quality"] for e in switches)


async def test_the_player_keeps_a_bounded_outbox(page: Any, site: Site) -> None:
    await sign_up(page, site, "bounded-viewer@example.com")
    await watch_events(page, [True])  # the collector refuses everything
    # An earlier page in this tab left 1000 events waiting, in 20 batches of 50.
    earlier = [
        {
            "playback_id": str(uuid.uuid4()),
            "events": [
                {
                    "event_id": str(uuid.uuid4()),
                    "type": "progress",
                    "film_id": site.film_id,
                    "position": 1.0,
                    "at": "2026-12-01T20:00:00Z",
                }
                for _ in range(50)
            ],
        }
        for _ in range(20)
    ]
    stored = json.dumps(json.dumps(earlier))
    await page.add_init_script(f"sessionStorage.setItem({json.dumps(OUTBOX_KEY)}, {stored})")
    await page.goto(f"{site.url}/films/{site.film_id}/watch")
    await play_then_pause(page, 1.0)
    outbox = f"JSON.parse(sessionStorage.getItem({json.dumps(OUTBOX_KEY)}) || '[]')"
    await poll(page, f"{outbox}.some((b) => b.events.some((e) => e.type === 'pause'))")
    batches = await page.evaluate(outbox)
    assert sum(len(b["events"]) for b in batches) <= 1000
    older = {b["playback_id"] for b in earlier}
    assert len([b for b in batches if b["playback_id"] in older]) == 19  # the oldest went
    new = [e for b in batches if b["playback_id"] not in older for e in b["events"]]
    assert {"play", "pause", "progress"} <= {e["type"] for e in new}


async def test_a_viewer_bookmarks_rates_and_reviews_a_film(page: Any, site: Site) -> None:
    from playwright.async_api import expect

    film_url = f"{site.url}/films/{site.film_id}"
    # Anonymous: the summary and the reviews, and "sign in" instead of the controls.
    await page.goto(film_url)
    await expect(page.get_by_role("heading", name="Viewers' ratings")).to_be_visible()
    take = page.locator("#your-take")
    await expect(take.get_by_role("link", name="Sign in")).to_be_visible()
    await expect(take.locator("form")).to_have_count(0)
    # A ugc form posted without its token is refused.
    refused = await page.request.post(f"{film_url}/bookmark", form={"action": "add"})
    assert refused.status == 403

    await sign_up(page, site, "critic@example.com")
    await page.goto(film_url)
    await page.get_by_role("button", name="Bookmark").click()
    await expect(page.get_by_role("status")).to_have_text("The film is in your bookmarks.")
    await expect(take.get_by_role("button", name=re.compile("Bookmarked"))).to_be_visible()

    await take.locator("label[for=score-9]").click()
    await take.get_by_role("button", name="Rate", exact=True).click()
    await expect(page.get_by_role("status")).to_have_text("Your score is saved.")
    await expect(page.locator("#ratings .average")).to_have_text("★ 9.0")

    await page.locator("#review-text").fill("A <i>long</i> way from home, told well.")
    await page.locator("#review-score").select_option("8")
    await page.get_by_role("button", name="Publish review").click()
    await expect(page.get_by_role("status")).to_have_text("Your review is saved.")
    review = page.locator(".review-list .review").first
    await expect(review.locator(".review-text")).to_have_text(
        "A <i>long</i> way from home, told well."
    )
    await expect(review.get_by_role("heading")).to_have_text("Your review")

    await page.goto(f"{site.url}/account")
    bookmarks = page.locator("section", has=page.locator("#my-bookmarks"))
    await expect(bookmarks.get_by_role("link", name=FILM_TITLE)).to_be_visible()
    reviews = page.locator("section", has=page.locator("#my-reviews"))
    await expect(reviews.get_by_role("link", name=FILM_TITLE)).to_be_visible()
    await expect(reviews.locator(".review-text")).to_have_text(
        "A <i>long</i> way from home, told well."
    )


def mailed_link(site: Site, event: str, email: str, field: str) -> str:
    """The link auth put in the outbox for the mail `event` to `email`, on this site."""
    [(url,)] = site.rows(
        "SELECT payload->>%s FROM auth.outbox WHERE topic = %s AND payload->>'email' = %s",
        field, event, email,
    )  # fmt: skip
    link = urlsplit(url)
    return f"{site.url}{link.path}?{link.query}"


async def test_links_from_the_mail_confirm_the_address_and_reset_the_password(
    page: Any, site: Site
) -> None:
    """As a viewer follows them from a mail client: the welcome mail's confirmation link, then
    the reset mail's link, whose page posts its own form (in Chromium, a page with
    `Referrer-Policy: no-referrer` posts with `Origin: null`, which the CSRF check refuses)."""
    from playwright.async_api import expect

    email = "forgetful-viewer@example.com"
    await sign_up(page, site, email)
    await page.get_by_role("button", name="Sign out").first.click()
    await page.goto(mailed_link(site, "account.created", email, "confirm_url"))
    await expect(page.get_by_role("status")).to_have_text(
        "Your email address is confirmed. Thank you."
    )
    [(verified,)] = site.rows("SELECT email_verified FROM auth.users WHERE email = %s", email)
    assert verified is True

    await page.goto(f"{site.url}/password-reset")
    await page.fill("#email", email)
    await page.get_by_role("button", name="Send me a code").click()
    await expect(page.get_by_role("status")).to_contain_text("a reset code is on its way")
    await page.goto(mailed_link(site, "account.password_reset_requested", email, "reset_url"))
    await expect(page.get_by_role("status")).to_have_text("Choose a new password for your account.")
    await page.fill("#password", "a-new-passphrase-for-me")
    await page.get_by_role("button", name="Set the password").click()
    await expect(page.get_by_role("status")).to_have_text("Your password is set. Sign in with it.")
    await page.fill("#email", email)
    await page.fill("#password", "a-new-passphrase-for-me")
    await page.click("form.stack button[type=submit]")
    await expect(page.get_by_role("link", name="Account")).to_be_visible()


async def test_a_stream_that_fails_says_so(page: Any, site: Site) -> None:
    from playwright.async_api import expect

    await sign_up(page, site, "broken-stream@example.com")
    await page.route("**/test-media/**", lambda route: route.abort())
    await page.goto(f"{site.url}/films/{site.film_id}/watch")
    await expect(page.get_by_role("alert")).to_contain_text("could not be played")


PAGES = [
    ("home", "/"),
    ("search", "/search?q=star+wars"),
    ("genres", "/genres"),
    ("genre", None),
    ("film", "/films/{film}"),
    ("person", None),
    ("watch", "/films/{film}/watch"),
    ("unavailable", None),  # the watch page of a film without a video
    ("account", "/account"),
]
ANONYMOUS_PAGES = [
    ("films", "/films"),
    ("film-anonymous", "/films/{film}"),
    ("not-found", f"/films/{uuid.UUID(int=0)}"),  # the problem page, as a 404
    ("signin", "/signin"),
    ("signup", "/signup"),
    ("password-reset", "/password-reset"),
]


async def check_page(page: Any, name: str) -> list[str]:
    """axe-core's serious and critical violations, and a page wider than a phone or a desktop
    window; screenshots at both widths."""
    await page.add_script_tag(path=str(AXE))
    results = await page.evaluate(
        "axe.run(document, {resultTypes: ['violations']})"
        ".then(r => r.violations.map(v => ({id: v.id, impact: v.impact,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})))"
    )
    problems = [
        f"{name}: {v['id']} ({v['impact']}) at {v['nodes']}"
        for v in results
        if v["impact"] in ("serious", "critical")
    ]
    for label, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        await page.set_viewport_size(viewport)
        # Rows scroll inside themselves; the page itself never scrolls sideways.
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        if overflow > 0:
            problems.append(f"{name}: the page scrolls sideways by {overflow}px at {label} width")
        await page.screenshot(path=str(ARTIFACTS / f"web-{name}-{label}.png"), full_page=True)
    await page.set_viewport_size(DESKTOP)
    return problems


async def test_the_bell_counts_a_delivered_notification_without_reload(
    page: Any, site: Site, web_index: tuple[str, SearchIndex], tmp_path: Path
) -> None:
    from playwright.async_api import expect

    email = "bell@example.com"
    await sign_up(page, site, email)
    count = page.locator("[data-bell] [data-unread]")
    await expect(count).to_be_hidden()
    await expect(page.locator("[data-bell][data-live]")).to_have_count(1)  # the stream is open
    await deliver_new_device_notice(site.database_url, site.redis_url, web_index, tmp_path, email)
    await expect(count).to_have_text("1")  # the page was not reloaded
    await expect(count).to_be_visible()
    await page.locator("[data-bell]").click()
    await page.wait_for_url(f"{site.url}/inbox")
    await expect(page.get_by_role("heading", level=2)).to_have_text(
        "New sign-in to your Kinoteka account"
    )
    await page.get_by_role("button", name="Mark as read").click()
    await page.wait_for_url(f"{site.url}/inbox")
    await expect(count).to_be_hidden()


async def test_every_page_is_accessible_and_photographed(page: Any, site: Site) -> None:
    from playwright.async_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
    problems: list[str] = []
    for name, path in ANONYMOUS_PAGES:
        await page.goto(site.url + path.format(film=site.film_id))
        problems += await check_page(page, name)
    await page.goto(f"{site.url}/films?sort=title")
    other = next(
        href
        for href in await page.locator(".card > a").evaluate_all("as => as.map(a => a.pathname)")
        if site.film_id not in href
    )

    await sign_up(page, site, "axe-viewer@example.com")
    await page.goto(f"{site.url}/films/{site.film_id}")
    await page.get_by_role("button", name="Bookmark").click()  # the account page lists it
    await page.wait_for_url(re.compile(r"notice=bookmarked"))
    person = await page.locator(".people a").first.get_attribute("href")
    genre = await page.locator(".film .meta a.chip").first.get_attribute("href")
    for name, template in PAGES:
        target = {"genre": genre, "person": person, "unavailable": f"{other}/watch"}.get(
            name
        ) or template
        assert target
        await page.goto(site.url + target.format(film=site.film_id))
        if name == "watch":
            await poll(page, "document.getElementById('player').dataset.engine")
        if name == "unavailable":
            await expect(page.locator("main .notice")).to_contain_text("not ready")
        problems += await check_page(page, name)

    await page.goto(f"{site.url}/lang/ru?next=/")
    assert await page.locator("html").get_attribute("lang") == "ru"
    problems += await check_page(page, "home-ru")
    assert not problems, "\n".join(problems)
