"""The anonymous page cache: what is kept, for whom, under which key, and when it is dropped."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kinoteka.infra.search import SearchIndex
from kinoteka.search.settings import SearchSettings
from tests.web.conftest import web_client, web_services
from tests.web.test_accounts import sign_up

Index = tuple[str, SearchIndex]
FILM_LINK = re.compile(r'href="/films/([0-9a-f-]{36})"')


@pytest.fixture
async def make_client(
    fresh_database: str, flushed_redis: str, web_index: Index, tmp_path: Path
) -> AsyncIterator[Any]:
    """A client of an app built with the given web settings (one per test)."""
    opened: list[Any] = []

    async def make(**web: Any) -> httpx.AsyncClient:
        services = web_services(fresh_database, flushed_redis, web_index, tmp_path, **web)
        context = web_client(services)
        opened.append(context)
        return await context.__aenter__()

    yield make
    for context in reversed(opened):
        await context.__aexit__(None, None, None)


async def test_an_anonymous_page_is_served_gzipped_from_the_cache(make_client: Any) -> None:
    client: httpx.AsyncClient = await make_client()
    first = await client.get("/genres")
    second = await client.get("/genres")
    assert first.status_code == second.status_code == 200
    assert first.headers["x-cache"] == "miss"
    assert second.headers["x-cache"] == "hit"
    assert second.headers["content-encoding"] == "gzip"
    assert second.headers["etag"] == first.headers["etag"]
    assert second.text == first.text
    assert second.headers["cache-control"] == "private, no-cache"
    assert "Accept-Language" in second.headers["vary"]
    # Another query string is another page.
    other = await client.get("/genres?x=1")
    assert other.headers["x-cache"] == "miss"


async def test_a_matching_etag_gets_304_without_a_body(make_client: Any) -> None:
    client: httpx.AsyncClient = await make_client()
    etag = (await client.get("/genres")).headers["etag"]
    again = await client.get("/genres", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    stale = await client.get("/genres", headers={"If-None-Match": '"something-else"'})
    assert stale.status_code == 200
    assert stale.headers["x-cache"] == "hit"


async def test_each_language_gets_its_own_page(make_client: Any) -> None:
    client: httpx.AsyncClient = await make_client()
    english = await client.get("/", headers={"Accept-Language": "en"})
    russian = await client.get("/", headers={"Accept-Language": "ru"})
    assert russian.headers["x-cache"] == "miss"
    assert '<html lang="ru"' in russian.text
    assert russian.headers["etag"] != english.headers["etag"]
    again = await client.get("/", headers={"Accept-Language": "en"})
    assert again.headers["x-cache"] == "hit"
    assert '<html lang="en"' in again.text
    # The language switch (a cookie) picks the page too.
    await client.get("/lang/ru?next=/")
    switched = await client.get("/", headers={"Accept-Language": "en"})
    assert switched.headers["x-cache"] == "hit"
    assert '<html lang="ru"' in switched.text


async def test_a_signed_in_viewer_is_never_cached_nor_served_a_cached_page(
    make_client: Any,
) -> None:
    client: httpx.AsyncClient = await make_client()
    await client.get("/")
    assert (await client.get("/")).headers["x-cache"] == "hit"
    assert (await sign_up(client)).status_code == 303
    for _ in range(2):
        page = await client.get("/")
        assert page.status_code == 200
        assert "x-cache" not in page.headers
        assert "etag" not in page.headers
        assert "Sign out" in page.text
    # ...and what the viewer saw is not served to the next anonymous visitor.
    client.cookies.delete("kinoteka_session")
    anonymous = await client.get("/")
    assert anonymous.headers["x-cache"] == "hit"
    assert "Sign out" not in anonymous.text


async def test_pages_with_a_csrf_token_and_clients_without_gzip_are_not_cached(
    make_client: Any,
) -> None:
    client: httpx.AsyncClient = await make_client()
    for _ in range(2):
        signin = await client.get("/signin")
        assert signin.status_code == 200
        assert 'name="csrftoken"' in signin.text
        assert "x-cache" not in signin.headers
    for _ in range(2):
        plain = await client.get("/genres", headers={"Accept-Encoding": "identity"})
        assert "x-cache" not in plain.headers
        assert "content-encoding" not in plain.headers


async def test_htmx_results_and_the_full_search_page_are_kept_apart(make_client: Any) -> None:
    client: httpx.AsyncClient = await make_client()
    full = await client.get("/search", params={"q": "star"})
    partial = await client.get("/search", params={"q": "star"}, headers={"HX-Request": "true"})
    assert partial.headers["x-cache"] == "miss"
    assert "<html" in full.text
    assert "<html" not in partial.text
    again = await client.get("/search", params={"q": "star"})
    assert again.headers["x-cache"] == "hit"
    assert "<html" in again.text


async def test_entries_are_bounded_least_recently_used_first_out(make_client: Any) -> None:
    client: httpx.AsyncClient = await make_client(page_cache_entries=2)
    await client.get("/genres")
    await client.get("/genres?a=1")
    assert (await client.get("/genres")).headers["x-cache"] == "hit"  # now the most recent
    await client.get("/genres?a=2")  # pushes out ?a=1
    assert (await client.get("/genres")).headers["x-cache"] == "hit"
    assert (await client.get("/genres?a=1")).headers["x-cache"] == "miss"


async def test_no_cache_when_switched_off(make_client: Any) -> None:
    client: httpx.AsyncClient = await make_client(page_cache_entries=0)
    await client.get("/genres")
    assert "x-cache" not in (await client.get("/genres")).headers


async def test_a_catalog_change_gives_a_fresh_page_at_once(
    make_client: Any, web_index: Index
) -> None:
    client: httpx.AsyncClient = await make_client()
    _, index = web_index
    movies = SearchSettings().indexes.movies
    film_id = FILM_LINK.findall((await client.get("/")).text)[0]
    page = await client.get(f"/films/{film_id}")
    assert (await client.get(f"/films/{film_id}")).headers["x-cache"] == "hit"
    original = await index.get(movies, film_id)
    assert original is not None
    changed = {**original, "title": "A Title Nobody Gave It"}
    await index.bulk(movies, [changed])
    try:
        await index.refresh()
        fresh = await client.get(f"/films/{film_id}")
        assert fresh.headers["x-cache"] == "miss"
        assert "A Title Nobody Gave It" in fresh.text
        assert fresh.headers["etag"] != page.headers["etag"]
        # The home page's rows are read again under the new version too.
        home = await client.get("/")
        assert home.headers["x-cache"] == "miss"
        assert "A Title Nobody Gave It" in home.text
    finally:
        await index.bulk(movies, [original])
        await index.refresh()
    restored = await client.get(f"/films/{film_id}")
    assert "A Title Nobody Gave It" not in restored.text


async def test_a_video_becoming_ready_shows_its_preview_to_the_next_visitor(
    make_client: Any, web_index: Index
) -> None:
    """A film's video, poster and preview reach the index through the sync: the cached
    anonymous page without them is not served once they are there."""
    client: httpx.AsyncClient = await make_client()
    _, index = web_index
    movies = SearchSettings().indexes.movies
    film_id = FILM_LINK.findall((await client.get("/")).text)[0]
    await client.get(f"/films/{film_id}")
    before = await client.get(f"/films/{film_id}")
    assert before.headers["x-cache"] == "hit"
    assert "data-preview" not in before.text
    original = await index.get(movies, film_id)
    assert original is not None
    art = f"/media/art/{film_id}/v1/"
    ready = {**original, "has_video": True, "video_poster_url": art + "poster-list.webp",
             "preview_url": art + "preview.webp"}  # fmt: skip
    await index.bulk(movies, [ready])
    try:
        await index.refresh()
        after = await client.get(f"/films/{film_id}")
        assert after.headers["x-cache"] == "miss"
        assert f'data-preview="{art}preview.webp"' in after.text
        assert f'href="/films/{film_id}/watch"' in after.text
        if not original.get("poster_url"):
            assert f'src="{art}poster-list.webp"' in after.text
    finally:
        await index.bulk(movies, [original])
        await index.refresh()
