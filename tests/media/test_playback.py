"""Playback: who may ask for a film's streams, and URLs that serve manifests and segments
(with Range) as a player fetches them, relative URIs included."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urljoin

import anyio
import httpx
import pytest

from kinoteka.infra import db as db_port
from kinoteka.media import jobs, service
from kinoteka.media.jobs import JobEnv
from tests.media.app_fixtures import MediaServer, serving
from tests.media.clips import ClipCache, requires_ffmpeg
from tests.media.fixtures import RecordingQueue, prepared_storage

pytestmark = requires_ffmpeg


@pytest.fixture
async def ready_film(media_server: MediaServer, clip_cache: ClipCache) -> AsyncIterator[uuid.UUID]:
    """A film whose video went through the whole pipeline on the server's storage."""
    async for film_id in _ready_film(media_server, clip_cache):
        yield film_id


async def _ready_film(server: MediaServer, clip_cache: ClipCache) -> AsyncIterator[uuid.UUID]:
    media_server = server
    db = db_port.from_url(media_server.database_url)
    storage = await prepared_storage(media_server.storage_url)
    queue = RecordingQueue()
    env = JobEnv(media_server.settings.media, db, storage, queue)
    film_id, video_id = uuid.uuid4(), uuid.uuid4()
    clip = clip_cache.get(width=640, height=360, seconds=3)
    key = service.source_key(video_id, clip.name)
    await storage.put(key, await anyio.Path(clip).read_bytes())
    async with db.session() as session:
        await service.register_video(session, film_id=film_id, key=key, name=clip.name,
                                     size=0, checksum=None, video_id=video_id)  # fmt: skip
    await jobs.transcode(env, video_id)
    name, kwargs, _ = queue.sent.pop(0)
    assert name == jobs.ARTWORK_TASK
    await jobs.artwork(env, video_id, kwargs["version"])
    yield film_id
    await db.close()
    await storage.close()


async def test_stream_needs_a_token_with_content_watch(
    media_server: MediaServer, ready_film: uuid.UUID
) -> None:
    path = f"/api/v1/films/{ready_film}/stream"
    async with httpx.AsyncClient(base_url=media_server.base_url) as client:
        assert (await client.get(path)).status_code == 401
        bad = await client.get(path, headers={"Authorization": "Bearer not-a-token"})
        assert bad.status_code == 401
        assert (await client.get(path, headers=media_server.auth("reader"))).status_code == 403
        missing = await client.get(f"/api/v1/films/{uuid.uuid4()}/stream",
                                   headers=media_server.auth("viewer"))  # fmt: skip
        assert missing.status_code == 404
        assert "no playable video" in missing.json()["detail"]
        answer = await client.get(path, headers=media_server.auth("viewer"))
    assert answer.status_code == 200
    body = answer.json()
    assert body["qualities"] == ["360p", "240p"]
    assert body["duration"] == pytest.approx(3, abs=0.2)
    assert body["hls"].endswith(".m3u8")
    assert body["dash"].endswith(".mpd")
    assert set(body["poster"]) >= {"list.webp", "list.jpg"}
    assert body["sprite_vtt"].endswith(".vtt")
    assert body["preview_webp"]
    assert body["preview_gif"]


async def test_manifests_and_segments_are_served_as_a_player_fetches_them(
    media_server: MediaServer, ready_film: uuid.UUID
) -> None:
    async with httpx.AsyncClient(base_url=media_server.base_url) as client:
        stream = (await client.get(f"/api/v1/films/{ready_film}/stream",
                                   headers=media_server.auth("viewer"))).json()  # fmt: skip
        # No token on the media URLs: the signature in the path is the permission.
        master = await client.get(stream["hls"])
        assert master.status_code == 200
        assert master.headers["content-type"].startswith("application/vnd.apple.mpegurl")
        variants = [line for line in master.text.splitlines() if line and line[0] != "#"]
        assert len(variants) == 2
        playlist_url = urljoin(stream["hls"], variants[0])
        playlist = await client.get(playlist_url)
        assert playlist.status_code == 200
        init = re.search(r'#EXT-X-MAP:URI="([^"]+)"', playlist.text)
        assert init is not None
        segments = [line for line in playlist.text.splitlines() if line and line[0] != "#"]
        assert segments
        for relative in (init.group(1), segments[0]):
            url = urljoin(playlist_url, relative)
            whole = await client.get(url)
            assert whole.status_code == 200
            part = await client.get(url, headers={"Range": "bytes=0-99"})
            assert part.status_code == 206
            assert part.content == whole.content[:100]
            assert part.headers["content-range"] == f"bytes 0-99/{len(whole.content)}"
        unsatisfiable = await client.get(urljoin(playlist_url, segments[0]),
                                         headers={"Range": "bytes=999999999-"})  # fmt: skip
        assert unsatisfiable.status_code == 416

        mpd = await client.get(stream["dash"])
        assert mpd.status_code == 200
        assert "<MPD" in mpd.text
        vtt = await client.get(stream["sprite_vtt"])
        assert vtt.text.startswith("WEBVTT")
        sprite = re.search(r"^(\S+?)#xywh=", vtt.text, re.MULTILINE)
        assert sprite is not None
        assert (await client.get(urljoin(stream["sprite_vtt"], sprite.group(1)))).status_code == 200


async def test_tampered_or_foreign_media_urls_are_refused(
    media_server: MediaServer, ready_film: uuid.UUID
) -> None:
    async with httpx.AsyncClient(base_url=media_server.base_url) as client:
        stream = (await client.get(f"/api/v1/films/{ready_film}/stream",
                                   headers=media_server.auth("viewer"))).json()  # fmt: skip
        hls: str = stream["hls"]
        *_, expires, signature, video, version, name = hls.split("/", 9)
        later = hls.replace(f"/{expires}/", f"/{int(expires) + 60}/")
        assert (await client.get(later)).status_code == 403
        other = hls.replace(video, str(uuid.uuid4()))
        assert (await client.get(other)).status_code == 403
        older = hls.replace(f"/{version}/", "/v2/")
        assert (await client.get(older)).status_code == 403
        forged = hls.replace(signature, "0" * 64)
        assert (await client.get(forged)).status_code == 403
        escape = hls.replace(name, "../../secret")
        assert (await client.get(escape)).status_code in {403, 404}


async def test_on_s3_playlists_pass_through_and_segments_redirect_to_presigned_urls(
    fresh_database: str, flushed_redis: str, seaweed_s3_url: str, tmp_path: Path,
    clip_cache: ClipCache,
) -> None:  # fmt: skip
    async with serving(fresh_database, flushed_redis, tmp_path / "data", seaweed_s3_url) as server:
        async for film_id in _ready_film(server, clip_cache):
            async with httpx.AsyncClient(base_url=server.base_url) as client:
                stream = (await client.get(f"/api/v1/films/{film_id}/stream",
                                           headers=server.auth("viewer"))).json()  # fmt: skip
                master = await client.get(stream["hls"])
                assert master.status_code == 200
                variant = next(x for x in master.text.splitlines() if x and x[0] != "#")
                playlist_url = urljoin(stream["hls"], variant)
                playlist = await client.get(playlist_url)
                segment = next(x for x in playlist.text.splitlines() if x and x[0] != "#")
                redirect = await client.get(urljoin(playlist_url, segment))
                assert redirect.status_code == 302
                presigned = redirect.headers["location"]
                assert presigned.startswith("http")
                assert "Signature" in presigned or "X-Amz-Signature" in presigned
                async with httpx.AsyncClient() as s3:
                    part = await s3.get(presigned, headers={"Range": "bytes=0-99"})
                    assert part.status_code == 206
                    assert len(part.content) == 100
                assert (await client.get(stream["dash"])).text.lstrip().startswith("<?xml")


async def test_posters_and_previews_are_public_but_nothing_else_is(
    media_server: MediaServer, ready_film: uuid.UUID
) -> None:
    """The paths the search documents carry (`artwork_url_sql`, run on the video's row) serve
    the poster and preview without a token or signature; manifests and segments stay signed."""
    import psycopg

    from kinoteka.infra.db import libpq_url
    from kinoteka.media import artwork_url_sql

    poster_sql = artwork_url_sql("v", "poster", "list.webp")
    preview_sql = artwork_url_sql("v", "preview_webp")
    with psycopg.connect(libpq_url(media_server.database_url)) as connection:
        row = connection.execute(
            f"SELECT {poster_sql}, {preview_sql}, v.id::text, v.current_version"  # noqa: S608
            " FROM media.videos v WHERE v.film_id = %s",
            (ready_film,),
        ).fetchone()
    assert row is not None
    poster, preview, video_id, version = row
    assert poster == f"/media/art/{video_id}/v{version}/poster-list.webp"
    async with httpx.AsyncClient(base_url=media_server.base_url) as client:
        for path, kind in ((poster, "image/webp"), (preview, "image/webp")):
            answer = await client.get(path)
            assert answer.status_code == 200, path
            assert answer.headers["content-type"] == kind
            assert answer.headers["cache-control"].startswith("public")
            assert answer.content[:4] == b"RIFF"
        base = f"/media/art/{video_id}/v{version}/"
        for name in ("master.m3u8", "manifest.mpd", "sprite.vtt", "360p/init.mp4", "..%2Fx"):
            refused = await client.get(base + name)
            assert refused.status_code == 404, name
        assert (await client.get(base + "poster-detail.webp")).status_code == 200
        missing = await client.get(f"/media/art/{uuid.uuid4()}/v1/poster-list.webp")
        assert missing.status_code == 404
        assert (await client.get(f"/media/art/{video_id}/v0/poster-list.webp")).status_code == 404
