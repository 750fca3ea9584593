"""A film's playable video reaches its search document through the sync's triggers."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable

import psycopg
import pytest

from kinoteka.infra.db import libpq_url
from kinoteka.infra.search import Document, SearchQuery
from tests.search.conftest import SyncRig, execute
from tests.search.test_sync import _wait_until_listening

INSERT_VIDEO = """
INSERT INTO media.videos (id, film_id, status, transitions, attempt, progress, source_key,
                          source_name, source_size, version, current_version, duration,
                          qualities, outputs_size, outputs, pending)
VALUES (%s, %s, %s, '[]', 1, 100, 'uploads/x', 'x.mp4', 1, 1, %s, %s, %s, 0, '{}', '{}')
"""


ARTWORK = (
    '{"hls": "master.m3u8", "dash": "manifest.mpd", "artwork": {"poster": {"list.webp":'
    ' "poster-list.webp", "list.jpg": "poster-list.jpg"}, "preview_webp": "preview.webp",'
    ' "preview_gif": "preview.gif", "sprite_vtt": "sprite.vtt"}}'
)


def add_video(
    rig: SyncRig,
    title: str,
    *,
    status: str = "ready",
    version: int | None = 1,
    duration: float | None = 5400.5,
    qualities: tuple[str, ...] = ("1080p", "720p"),
) -> str:
    video_id = str(uuid.uuid4())
    film_id = rig.catalog.films[title]
    params = (video_id, film_id, status, version, duration, list(qualities))
    execute(rig.database_url, INSERT_VIDEO, params)
    return video_id


@pytest.fixture
async def following(rig: SyncRig) -> AsyncIterator[SyncRig]:
    """The rig, fully loaded, its follower running."""
    await rig.sync.run_once()
    stop = asyncio.Event()
    task = asyncio.create_task(rig.sync.follow(stop))
    await _wait_until_listening(rig.database_url)
    yield rig
    stop.set()
    await asyncio.wait_for(task, 10)


async def document_when(
    rig: SyncRig, title: str, condition: Callable[[Document], bool], seconds: float = 5
) -> Document:
    """The film's document once `condition` holds (polled), failing after `seconds`."""
    deadline = time.monotonic() + seconds
    document = None
    while time.monotonic() < deadline:
        document = await rig.index.get("movies", rig.catalog.films[title])
        if document is not None and condition(document):
            return document
        await asyncio.sleep(0.02)
    pytest.fail(f"{title}'s document did not change in {seconds} s: {document}")


async def test_a_film_without_a_video_says_so(rig: SyncRig) -> None:
    await rig.sync.run_once()
    document = await rig.index.get("movies", rig.catalog.films["Alien"])
    assert document is not None
    assert document["has_video"] is False
    assert document["qualities"] == []
    assert "duration" not in document


async def test_a_switched_in_video_reaches_the_document(following: SyncRig) -> None:
    rig = following
    started = time.monotonic()
    add_video(rig, "Alien")
    document = await document_when(rig, "Alien", lambda d: d["has_video"] is True)
    assert time.monotonic() - started < 1.0
    assert document["duration"] == 5400.5
    assert document["qualities"] == ["1080p", "720p"]
    other = await rig.index.get("movies", rig.catalog.films["Arrival"])
    assert other is not None
    assert other["has_video"] is False


async def test_a_video_switched_in_later_and_then_deleted(following: SyncRig) -> None:
    rig = following
    video_id = add_video(rig, "Arrival", status="transcoding", version=None, duration=None)
    execute(
        rig.database_url,
        "UPDATE media.videos SET status = 'ready', current_version = 1, duration = 7000,"
        " qualities = '{720p,480p}' WHERE id = %s",
        (video_id,),
    )
    document = await document_when(rig, "Arrival", lambda d: d["has_video"] is True)
    assert (document["duration"], document["qualities"]) == (7000.0, ["720p", "480p"])
    execute(rig.database_url, "DELETE FROM media.videos WHERE id = %s", (video_id,))
    document = await document_when(rig, "Arrival", lambda d: d["has_video"] is False)
    assert document["qualities"] == []
    assert "duration" not in document


async def test_a_failed_first_job_leaves_the_film_unwatchable(following: SyncRig) -> None:
    rig = following
    failed = add_video(rig, "Alien", status="transcoding", version=None, duration=None)
    execute(rig.database_url, "UPDATE media.videos SET status = 'failed' WHERE id = %s", (failed,))
    add_video(rig, "Arrival")  # a later change, so the failed one has been applied before it
    await document_when(rig, "Arrival", lambda d: d["has_video"] is True)
    document = await rig.index.get("movies", rig.catalog.films["Alien"])
    assert document is not None
    assert document["has_video"] is False


def queued(rig: SyncRig, title: str) -> int:
    with psycopg.connect(libpq_url(rig.database_url)) as connection:
        row = connection.execute(
            "SELECT count(*) FROM search.change WHERE entity = 'film' AND entity_id = %s",
            (rig.catalog.films[title],),
        ).fetchone()
    return int(row[0]) if row else 0


async def test_only_what_the_document_shows_queues_a_change(rig: SyncRig) -> None:
    await rig.sync.run_once()
    video_id = add_video(rig, "Alien", status="transcoding", version=None, duration=None)
    assert queued(rig, "Alien") == 0  # nothing playable yet
    execute(
        rig.database_url,
        "UPDATE media.videos SET progress = 50, heartbeat_at = now() WHERE id = %s",
        (video_id,),
    )
    assert queued(rig, "Alien") == 0  # a job's progress is not the document's business
    execute(
        rig.database_url,
        "UPDATE media.videos SET duration = 60, current_version = 1 WHERE id = %s",
        (video_id,),
    )
    assert queued(rig, "Alien") == 1
    execute(
        rig.database_url, "UPDATE media.videos SET outputs = %s::jsonb WHERE id = %s",
        (ARTWORK, video_id),
    )  # fmt: skip
    assert queued(rig, "Alien") == 2  # the artwork was made (poster, preview)


async def test_has_video_filters_the_index(following: SyncRig) -> None:
    rig = following
    add_video(rig, "Blade Runner")
    await document_when(rig, "Blade Runner", lambda d: d["has_video"] is True)
    watchable = await rig.index.search(SearchQuery("movies", filters={"has_video": True}))
    assert [d["id"] for d in watchable.documents] == [rig.catalog.films["Blade Runner"]]
    others = await rig.index.search(SearchQuery("movies", filters={"has_video": False}))
    assert others.total == 2
    in_hd = await rig.index.search(SearchQuery("movies", filters={"qualities": "1080p"}))
    assert in_hd.total == 1


async def test_the_videos_artwork_reaches_the_document_when_it_is_made(
    following: SyncRig,
) -> None:
    """The artwork is added to a version that already plays: the document gains its public
    poster and preview paths then (the cards and the anonymous film page show them)."""
    rig = following
    video_id = add_video(rig, "Alien")
    document = await document_when(rig, "Alien", lambda d: d["has_video"] is True)
    assert "video_poster_url" not in document
    assert "preview_url" not in document
    execute(
        rig.database_url, "UPDATE media.videos SET outputs = %s::jsonb WHERE id = %s",
        (ARTWORK, video_id),
    )  # fmt: skip
    document = await document_when(rig, "Alien", lambda d: "video_poster_url" in d)
    assert document["video_poster_url"] == f"/media/art/{video_id}/v1/poster-list.webp"
    assert document["preview_url"] == f"/media/art/{video_id}/v1/preview.webp"
