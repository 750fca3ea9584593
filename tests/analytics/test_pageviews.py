"""Page views of the content API: observed by path, published off the request, bounded."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
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
from tests.analytics.conftest import token_for
from tests.content.conftest import content_services, movies_index  # noqa: F401 - fixture

FILM = "3d825f60-9fff-4dfe-b294-1a45fa1e115d"


@pytest.fixture(params=[True], ids=["public"])
async def content_and_analytics(
    request: pytest.FixtureRequest,
    fresh_database: str,
    flushed_redis: str,
    movies_index: tuple[str, SearchIndex],  # noqa: F811
) -> AsyncIterator[tuple[httpx.AsyncClient, Services]]:
    """A catalog (the index of the course's films; public unless a test's `params` say not)
    and its page views; a database of its own, where auth keeps the signing keys its tests'
    tokens need."""
    url, index = movies_index
    services = content_services(fresh_database, flushed_redis, index, url, public=request.param)
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
    reads: list[tuple[str, dict[str, str | int]]] = [
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


def signature_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tokens whose signature is checked from now on (each `jwt.decode` call), in order."""
    import jwt

    checked: list[str] = []
    decode = jwt.decode

    def counting(token: str, *args: Any, **kwargs: Any) -> Any:
        checked.append(token)
        return decode(token, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting)
    return checked


async def test_a_public_catalog_names_the_viewer_of_a_valid_token_only(
    content_and_analytics: tuple[httpx.AsyncClient, Services], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Anonymous reading is allowed, and a request with a valid bearer token is still that
    viewer's page view; a bad or expired token is served and names nobody."""
    client, services = content_and_analytics
    user = uuid.uuid4()
    valid = await token_for(services, user_id=user)
    expired = await token_for(services, user_id=uuid.uuid4(), now=time.time() - 3600)
    checked = signature_checks(monkeypatch)
    film = f"/api/v1/films/{FILM}"
    for headers in (valid, valid, expired, {"Authorization": "Bearer abc.def.ghi"}, {}):
        assert (await client.get(film, headers=headers)).status_code == 200
    redis_url = services.urls.redis_url

    async def five() -> list[BusRecord]:
        views = await stream(redis_url, PageKind.FILM_BY_ID)
        return views if len(views) == 5 else []

    views = await eventually(five)
    assert sorted(str(view.user_id) for view in views) == sorted([str(user)] * 2 + ["None"] * 3)
    # The repeat was remembered: its signature was checked once.
    assert checked.count(valid["Authorization"].removeprefix("Bearer ")) == 1


@pytest.mark.parametrize("content_and_analytics", [False], ids=["private"], indirect=True)
async def test_a_private_catalog_names_the_viewer_content_let_in(
    content_and_analytics: tuple[httpx.AsyncClient, Services], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Content checked the token before answering; naming the viewer checks no signature
    again (the token is remembered)."""
    client, services = content_and_analytics
    user = uuid.uuid4()
    valid = await token_for(services, user_id=user)
    checked = signature_checks(monkeypatch)
    assert (await client.get("/api/v1/genres")).status_code == 401  # no view
    assert (await client.get("/api/v1/genres", headers=valid)).status_code == 200
    views = await eventually(lambda: stream(services.urls.redis_url, PageKind.GENRES))
    assert [view.user_id for view in views] == [user]
    assert len(checked) == 1


def test_a_page_view_is_a_200_of_a_content_read() -> None:
    from kinoteka.analytics.pageviews import page_view_of

    user = uuid.UUID("6f1f3a8e-5b0e-4c1e-9a53-2f1d2b3c4d5e")
    route = type("Route", (), {"path": "/api/v1/films/{film_id}"})()
    scope: dict[str, Any] = {"method": "GET", "route": route, "path_params": {"film_id": FILM}}
    named = page_view_of(scope, 200, user_id=user)
    assert named is not None
    assert (named.user_id, str(named.object_id)) == (user, FILM)
    anonymous = page_view_of(scope, 200)
    assert anonymous is not None
    assert anonymous.user_id is None
    assert page_view_of(scope, 404, user_id=user) is None
    assert page_view_of({**scope, "method": "POST"}, 200) is None
