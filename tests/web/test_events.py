"""The player page and its events: who may post them, what is refused, what is kept, and
where playback resumes."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from kinoteka.app import create_app
from kinoteka.infra.db import libpq_url
from kinoteka.infra.search import SearchIndex
from tests.web.conftest import BASE_URL, PASSWORD, bus_types, web_client, web_services
from tests.web.streams import install_media
from tests.web.test_accounts import csrf_of, sign_up

Index = tuple[str, SearchIndex]
FILM_LINK = re.compile(r'href="/films/([0-9a-f-]{36})"')


@pytest.fixture
async def viewer(
    fresh_database: str, flushed_redis: str, web_index: Index, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A signed-up viewer's client and a film that has a video."""
    services = web_services(fresh_database, flushed_redis, web_index, tmp_path)
    app = create_app(services, ["web", "auth", "ugc"])
    films: set[str] = set()
    install_media(app, tmp_path, films)
    async with web_client(services, app=app) as client:
        home = await client.get("/")
        film_id = FILM_LINK.search(home.text).group(1)  # type: ignore[union-attr]
        films.add(film_id)
        await sign_up(client)
        yield client, film_id


def event(film_id: str, kind: str, position: float, **fields: Any) -> dict[str, Any]:
    at = dt.datetime.now(dt.UTC).isoformat()
    return {"type": kind, "film_id": film_id, "position": position, "at": at, **fields}


def batch(*events: dict[str, Any]) -> dict[str, Any]:
    return {"schema_version": 1, "playback_id": str(uuid.uuid4()), "events": list(events)}


async def events_token(client: httpx.AsyncClient, film_id: str) -> str:
    """The CSRF token the player page hands its script."""
    page = await client.get(f"/films/{film_id}/watch")
    assert page.status_code == 200
    assert 'data-events="/web/events"' in page.text
    return re.search(r'data-csrf="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]


async def send(
    client: httpx.AsyncClient, token: str, body: dict[str, Any] | str, **headers: str
) -> httpx.Response:
    """Post a batch the way the player's beacon does: a form with the token and the JSON."""
    raw = body if isinstance(body, str) else json.dumps(body)
    return await client.post(
        "/web/events", data={"csrftoken": token, "batch": raw}, headers=headers
    )


async def test_the_player_page_carries_the_stream_and_the_resume_point(
    viewer: tuple[httpx.AsyncClient, str],
) -> None:
    client, film_id = viewer
    page = await client.get(f"/films/{film_id}/watch")
    assert 'data-hls="/test-media/master.m3u8"' in page.text
    assert 'data-dash="/test-media/manifest.mpd"' in page.text
    assert 'data-thumbnails="/test-media/sprite.vtt"' in page.text
    assert 'data-start="0.00"' in page.text
    film = await client.get(f"/films/{film_id}")
    assert 'data-preview="/test-media/preview.gif"' in film.text


async def test_a_film_without_video_says_so(viewer: tuple[httpx.AsyncClient, str]) -> None:
    client, film_id = viewer
    home = await client.get("/")
    other = next(f for f in FILM_LINK.findall(home.text) if f != film_id)
    page = await client.get(f"/films/{other}/watch")
    assert page.status_code == 200
    assert "its video is not ready" in page.text


async def test_events_go_to_the_collector_and_playback_resumes_from_the_latest_progress(
    viewer: tuple[httpx.AsyncClient, str], fresh_database: str, flushed_redis: str
) -> None:
    client, film_id = viewer
    token = await events_token(client, film_id)
    sent = await send(
        client,
        token,
        batch(
            event(film_id, "play", 0),
            event(film_id, "quality_change", 0, height=360, bitrate=800_000, auto=True),
            event(film_id, "progress", 10, duration=20),
            event(film_id, "seek", 14, from_position=10.5),
            event(film_id, "progress", 14.5, duration=20),
            event(film_id, "pause", 14.5),
        ),
        Origin=BASE_URL,
    )
    assert sent.status_code == 202
    assert sent.json() == {"accepted": 6, "refused": []}
    with psycopg.connect(libpq_url(fresh_database)) as connection:
        progress = connection.execute(
            "SELECT doc ->> 'film_id', (doc -> 'position_seconds')::float,"
            " (doc -> 'duration_seconds')::float FROM ugc.progress"
        ).fetchall()
        refused = connection.execute("SELECT count(*) FROM analytics.failed_event").fetchone()
    assert progress == [(film_id, 14.5, 20.0)]  # ugc's watch progress: the one read model
    assert refused == (0,)
    published = await bus_types(flushed_redis)
    assert sorted(published) == sorted(
        ["play", "quality_change", "progress", "seek", "progress", "pause"]
    )

    page = await client.get(f"/films/{film_id}/watch")
    assert 'data-start="14.50"' in page.text
    home = await client.get("/")
    assert "Continue watching" in home.text
    continuing = home.text.split("Continue watching")[1].split("</section>")[0]
    assert FILM_LINK.findall(continuing) == [film_id]

    # A heartbeat older (by the player's clock) than the stored one changes nothing.
    stale = event(film_id, "progress", 3, duration=20)
    stale["at"] = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).isoformat()
    assert (await send(client, token, batch(stale))).status_code == 202
    page = await client.get(f"/films/{film_id}/watch")
    assert 'data-start="14.50"' in page.text
    # ... and one about a film the catalog does not hold is published, not kept.
    unknown = str(uuid.uuid4())
    assert (await send(client, token, batch(event(unknown, "progress", 3)))).status_code == 202
    with psycopg.connect(libpq_url(fresh_database)) as connection:
        kept = connection.execute("SELECT count(*) FROM ugc.progress").fetchone()
    assert kept == (1,)

    # Watched to the end: the next playback starts from the beginning, and the film leaves
    # "continue watching".
    await send(
        client,
        token,
        batch(
            event(film_id, "full_view", 18, duration=20),
            event(film_id, "progress", 19.8, duration=20),
        ),
    )
    page = await client.get(f"/films/{film_id}/watch")
    assert 'data-start="0.00"' in page.text
    assert "Continue watching" not in (await client.get("/")).text


@pytest.mark.parametrize(
    "body",
    [
        {"schema_version": 2, "playback_id": str(uuid.uuid4()), "events": []},
        {"schema_version": 1, "playback_id": "x", "events": []},
        {"schema_version": 1, "playback_id": str(uuid.uuid4()), "events": []},
        batch({"type": "rewind", "film_id": str(uuid.uuid4()), "position": 1, "at": "2026-01-01"}),
        batch(event(str(uuid.uuid4()), "progress", -1)),
        batch(event(str(uuid.uuid4()), "seek", 3)),
        batch(event(str(uuid.uuid4()), "error", 3, message="x" * 501)),
        batch(event(str(uuid.uuid4()), "play", 3, extra=1)),
    ],
)
async def test_malformed_batches_are_refused_with_422(
    viewer: tuple[httpx.AsyncClient, str], body: dict[str, Any]
) -> None:
    client, film_id = viewer
    token = await events_token(client, film_id)
    response = await send(client, token, body)
    assert response.status_code == 422
    not_json = await send(client, token, "{not json")
    assert not_json.status_code == 422


async def test_events_need_the_session_its_token_and_this_origin(
    viewer: tuple[httpx.AsyncClient, str],
) -> None:
    client, film_id = viewer
    token = await events_token(client, film_id)
    body = batch(event(film_id, "play", 0))
    assert (await client.post("/web/events", json=body)).status_code == 403
    assert (await send(client, token + "x", body)).status_code == 403
    foreign = await send(client, token, body, Origin="https://evil.example")
    assert foreign.status_code == 403
    too_big = await send(client, token, "x" * 70_000)
    assert too_big.status_code == 413
    page = await client.get("/account")
    await client.post("/signout", data={"csrftoken": csrf_of(page.text)})
    assert (await send(client, token, body)).status_code == 401


async def test_deleting_the_account_takes_its_watch_progress(
    viewer: tuple[httpx.AsyncClient, str], fresh_database: str
) -> None:
    client, film_id = viewer
    token = await events_token(client, film_id)
    sent = await send(client, token, batch(event(film_id, "progress", 5, duration=20)))
    assert sent.status_code == 202
    page = await client.get("/account")
    wrong = await client.post(
        "/account/delete", data={"csrftoken": csrf_of(page.text), "password": "nope"}
    )
    assert wrong.status_code == 400
    deleted = await client.post(
        "/account/delete", data={"csrftoken": csrf_of(page.text), "password": PASSWORD}
    )
    assert deleted.status_code == 303
    home = await client.get(deleted.headers["location"])
    assert "Your account and everything kept about it are deleted." in home.text
    assert "Sign in" in home.text
    with psycopg.connect(libpq_url(fresh_database)) as connection:
        progress = connection.execute("SELECT count(*) FROM ugc.progress")
        assert progress.fetchone() == (0,)
        assert connection.execute("SELECT count(*) FROM auth.users").fetchone() == (0,)
