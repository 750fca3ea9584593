"""Page views of the content API: observed by path, published off the request, bounded."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from kinoteka.analytics.messages import decode
from kinoteka.analytics.schemas import BusRecord
from kinoteka.analytics.topics import PAGE_TOPICS, PageKind
from kinoteka.app import create_app
from kinoteka.infra import bus as bus_port
from kinoteka.infra.search import SearchIndex
from kinoteka.services import Services
from tests.content.conftest import content_services, movies_index  # noqa: F401 - fixture

FILM = "3d825f60-9fff-4dfe-b294-1a45fa1e115d"


@pytest.fixture
async def content_and_analytics(
    movies_database: str,
    flushed_redis: str,
    movies_index: tuple[str, SearchIndex],  # noqa: F811
) -> AsyncIterator[tuple[httpx.AsyncClient, Services]]:
    url, index = movies_index
    services = content_services(movies_database, flushed_redis, index, url, public=True)
    services.settings.analytics.page_view_buffer = 20
    app = create_app(services, ["content", "analytics"])
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        yield client, services


async def stream(redis_url: str, kind: PageKind) -> list[BusRecord]:
    client = Redis.from_url(redis_url)
    try:
        entries = await client.xrange(PAGE_TOPICS[kind])
    finally:
        await client.aclose()
    return [record for _, fields in entries for record in decode(fields[b"b"])]


async def eventually(check: Any, within: float = 10) -> Any:
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.05)  # polling the stream the drainer fills, with a deadline


async def test_each_content_read_is_one_page_view_on_its_topic(
    content_and_analytics: tuple[httpx.AsyncClient, Services],
) -> None:
    client, services = content_and_analytics
    genre = (await client.get("/api/v1/genres")).json()[0]["uuid"]
    person = (await client.get("/api/v1/persons/search", params={"query": "craig"})).json()[0]
    reads = [
        ("/api/v1/films", {"page_size": 5, "page_number": 2}),
        ("/api/v1/films/search/", {"query": "star"}),
        (f"/api/v1/films/{FILM}", {}),
        (f"/api/v1/genres/{genre}", {}),
        (f"/api/v1/persons/{person['uuid']}", {}),
    ]
    for path, params in reads:
        assert (await client.get(path, params=params)).status_code == 200, path
    assert (await client.get("/api/v1/films/not-a-film")).status_code == 404  # not a view
    redis_url = services.urls.redis_url

    async def all_seven() -> dict[PageKind, list[BusRecord]]:
        found = {kind: await stream(redis_url, kind) for kind in PageKind}
        return found if all(found.values()) else {}

    found = await eventually(all_seven)
    assert {kind: len(records) for kind, records in found.items()} == dict.fromkeys(PageKind, 1)
    films = found[PageKind.FILMS][0]
    assert (films.page_size, films.page_number) == (5, 2)
    assert found[PageKind.FILM_SEARCH][0].query == "star"
    assert str(found[PageKind.FILM_BY_ID][0].object_id) == FILM
    assert str(found[PageKind.GENRE_BY_ID][0].object_id) == genre
    assert found[PageKind.PERSON_SEARCH][0].query == "craig"


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP port that accepts connections and never answers: a hung bus."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(100)
        yield f"redis://127.0.0.1:{server.getsockname()[1]}"


async def test_a_hung_bus_slows_no_request_and_drops_are_counted(
    content_and_analytics: tuple[httpx.AsyncClient, Services], silent_server: str
) -> None:
    client, services = content_and_analytics
    services.bus = bus_port.from_url(silent_server)
    try:
        started = time.monotonic()
        answers = await asyncio.gather(*(client.get("/api/v1/genres") for _ in range(60)))
        elapsed = time.monotonic() - started
        assert [a.status_code for a in answers] == [200] * 60
        assert elapsed < 5  # the drainer's publish hangs for 5 s; no request waited on it
        buffer = _page_view_buffer(client)
        assert await eventually(lambda: _dropped(buffer))
        # every view is accounted for: held (up to the capacity), in the hung batch, or dropped
        assert buffer.in_flight >= 1
        assert buffer.pending <= 20
        assert buffer.dropped + buffer.pending + buffer.in_flight == 60
        assert buffer.dropped >= 60 - 20 - buffer.in_flight
    finally:
        await services.bus.close()


def _page_view_buffer(client: httpx.AsyncClient) -> Any:
    app: Any = client._transport.app  # type: ignore[attr-defined]
    for middleware in app.user_middleware:
        if middleware.cls.__name__ == "PageViewMiddleware":
            return middleware.kwargs["buffer"]()
    raise AssertionError("no page-view middleware")


async def _dropped(buffer: Any) -> int:
    return int(buffer.dropped)


def test_the_viewer_is_named_only_when_content_checked_the_token() -> None:
    import base64

    from kinoteka.analytics.pageviews import page_view_of

    user = "6f1f3a8e-5b0e-4c1e-9a53-2f1d2b3c4d5e"
    payload = base64.urlsafe_b64encode(f'{{"sub": "{user}"}}'.encode()).rstrip(b"=")
    route = type("Route", (), {"path": "/api/v1/films/{film_id}"})()
    scope: dict[str, Any] = {
        "method": "GET",
        "route": route,
        "path_params": {"film_id": FILM},
        "headers": [(b"authorization", b"Bearer eyJhbGciOiJFZERTQSJ9." + payload + b".sig")],
    }
    checked = page_view_of(scope, 200, token_checked=True)
    assert checked is not None
    assert str(checked.user_id) == user
    assert str(checked.object_id) == FILM
    unchecked = page_view_of(scope, 200, token_checked=False)
    assert unchecked is not None
    assert unchecked.user_id is None
    assert page_view_of(scope, 404, token_checked=True) is None
    garbage = {**scope, "headers": [(b"authorization", b"Bearer not-a-jwt")]}
    assert page_view_of(garbage, 200, token_checked=True).user_id is None  # type: ignore[union-attr]
