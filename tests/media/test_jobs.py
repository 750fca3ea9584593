"""The media jobs against a real database and storage (local and SeaweedFS S3): a source
becomes a switched-in version (playable once its ladder is in, artwork added after);
broken sources fail with a reason and leave no outputs; a broken artwork step leaves the
video playing; the sweep re-sends lost steps."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from pathlib import Path
from typing import Any, NamedTuple

import anyio
import pytest

from kinoteka.infra.storage import ObjectStorage
from kinoteka.media import jobs, processing, service
from kinoteka.media.api import stream_of, video_state
from kinoteka.media.jobs import JobEnv
from kinoteka.media.models import Video, VideoStatus
from tests.media.clips import ClipCache, requires_ffmpeg, truncated_copy
from tests.media.fixtures import RecordingQueue

pytestmark = requires_ffmpeg


async def _upload(env: JobEnv, path: Path, name: str | None = None) -> uuid.UUID:
    video_id = uuid.uuid4()
    key = service.source_key(video_id, name or path.name)
    stored = await env.storage.put(key, await anyio.Path(path).read_bytes())
    async with env.db.session() as session:
        await service.register_video(
            session, film_id=uuid.uuid4(), key=key, name=name or path.name, size=stored.size,
            checksum=None, video_id=video_id,
        )  # fmt: skip
    return video_id


class Uploaded(NamedTuple):
    env: JobEnv
    queue: RecordingQueue
    video_id: uuid.UUID


@pytest.fixture
async def uploaded(job_env: tuple[JobEnv, RecordingQueue], clip_cache: ClipCache) -> Uploaded:
    """A registered video of a 2 s 640x360 clip, beside the jobs' stores and queue."""
    env, queue = job_env
    return Uploaded(
        env, queue, await _upload(env, clip_cache.get(width=640, height=360, seconds=2))
    )


async def _video(env: JobEnv, video_id: uuid.UUID) -> Video:
    async with env.db.session() as session:
        return await service.get_video(session, video_id)


async def _keys(storage: ObjectStorage, prefix: str) -> list[str]:
    return [key async for key in storage.list_keys(prefix)]


async def _run_pipeline(
    env: JobEnv, queue: RecordingQueue, video_id: uuid.UUID, *, start: bool = True
) -> None:
    """Run every task the jobs send, in order, as the workers would."""
    if start:
        await jobs.transcode(env, video_id)
    while queue.sent:
        name, kwargs, _ = queue.sent.pop(0)
        if name == jobs.ARTWORK_TASK:
            await jobs.artwork(env, uuid.UUID(kwargs["video_id"]), kwargs["version"])
        elif name == jobs.TRANSCODE_TASK:
            await jobs.transcode(env, uuid.UUID(kwargs["video_id"]), version=kwargs["version"])


async def test_a_source_becomes_a_switched_in_version(
    job_env: tuple[JobEnv, RecordingQueue], clip_cache: ClipCache
) -> None:
    env, queue = job_env
    clip = clip_cache.get(width=640, height=360, seconds=3)
    video_id = await _upload(env, clip)
    await jobs.transcode(env, video_id)
    assert [name for name, _, _ in queue.sent] == [jobs.ARTWORK_TASK, jobs.INDEXING_TASK]
    rendered = await _video(env, video_id)
    # Registered without a sha256: the job took it as it first read the source.
    assert rendered.checksum == hashlib.sha256(clip.read_bytes()).hexdigest()
    assert video_state(rendered).checksum == rendered.checksum
    # Playable as soon as the ladder is in: switched in, artwork still to come.
    assert rendered.status is VideoStatus.READY
    assert rendered.current_version == 1
    assert rendered.pending == {"step": "artwork"}
    assert "artwork" not in rendered.outputs
    assert video_state(rendered).artwork_pending
    assert rendered.progress == 100
    stream = stream_of(rendered, "http://kinoteka", "secret", 60)
    assert stream.hls.endswith("/master.m3u8")
    assert stream.poster == {}
    assert stream.sprite_vtt is None
    ladder = await _keys(env.storage, f"media/{video_id}/v1/")
    assert f"media/{video_id}/v1/{rendered.outputs['hls']}" in ladder
    assert rendered.outputs_size == sum([await env.storage.size(key) for key in ladder])

    await jobs.transcode(env, video_id)  # redelivered before its artwork ran: nothing to do
    await _run_pipeline(env, queue, video_id, start=False)
    video = await _video(env, video_id)
    assert video.status is VideoStatus.READY
    assert [t["status"] for t in video.transitions] == [
        "uploaded", "probing", "transcoding", "ready"
    ]  # fmt: skip
    assert video.current_version == 1
    assert video.output_prefix == f"media/{video_id}/v1/"
    assert video.qualities == ["360p", "240p"]
    assert video.duration == pytest.approx(3, abs=0.2)
    assert video.progress == 100
    assert video.pending == {}
    assert not video_state(video).artwork_pending
    keys = await _keys(env.storage, f"media/{video_id}/v1/")
    assert f"media/{video_id}/v1/{video.outputs['hls']}" in keys
    assert f"media/{video_id}/v1/{video.outputs['dash']}" in keys
    assert f"media/{video_id}/v1/{video.outputs['artwork']['sprite_vtt']}" in keys
    assert any(key.endswith(".m4s") for key in keys)
    assert video.outputs_size == sum([await env.storage.size(key) for key in keys])

    # A redelivered task of the finished job changes nothing.
    await jobs.transcode(env, video_id)
    await jobs.transcode(env, video_id, version=1)
    again = await _video(env, video_id)
    assert again.transitions == video.transitions
    assert again.attempt == video.attempt


async def test_a_failed_retranscode_keeps_the_playing_version(uploaded: Uploaded) -> None:
    env, queue, video_id = uploaded
    await _run_pipeline(env, queue, video_id)
    before = await _keys(env.storage, f"media/{video_id}/v1/")

    source = (await _video(env, video_id)).source_key
    await env.storage.put(source, b"no longer a video")
    async with env.db.session() as session:
        await service.request_transcode(session, video_id)
    await _run_pipeline(env, queue, video_id)

    video = await _video(env, video_id)
    assert video.status is VideoStatus.FAILED
    assert video.failure_reason
    assert video.current_version == 1
    assert await _keys(env.storage, f"media/{video_id}/v1/") == before
    assert await _keys(env.storage, f"media/{video_id}/v2/") == []
    async with env.db.session() as session:
        playing = await service.film_videos(session, [video.film_id])
    assert playing[video.film_id].video_id == video_id


async def test_the_quick_rung_plays_while_the_ladder_renders_and_survives_its_failure(
    uploaded: Uploaded, monkeypatch: pytest.MonkeyPatch
) -> None:
    env, queue, video_id = uploaded
    rendered: list[list[str]] = []
    real_render = processing.render

    def ladder_crashes(*args: Any, **kwargs: Any) -> Any:
        rungs = [rung.name for rung in args[3]]
        rendered.append(rungs)
        if len(rungs) > 1:
            raise RuntimeError("ffmpeg was killed")  # as an OOM kill of the ladder's ffmpeg
        return real_render(*args, **kwargs)

    monkeypatch.setattr(jobs, "render", ladder_crashes)
    await jobs.transcode(env, video_id)

    assert rendered == [["240p"], ["360p", "240p"]]  # the lowest rung alone, then the ladder
    video = await _video(env, video_id)
    assert video.status is VideoStatus.TRANSCODING  # the ladder is still owed
    assert video.current_version == 1
    assert video.qualities == ["240p"]
    assert video.outputs == {"hls": "quick/master.m3u8", "dash": "quick/manifest.mpd"}
    keys = await _keys(env.storage, f"media/{video_id}/v1/")
    assert keys
    assert all(key.startswith(f"media/{video_id}/v1/quick/") for key in keys)
    assert any(key.endswith(".m4s") for key in keys)
    async with env.db.session() as session:
        playing = await service.film_videos(session, [video.film_id])
    assert playing[video.film_id].qualities == ["240p"]
    assert [name for name, _, _ in queue.sent] == [jobs.TRANSCODE_TASK]  # the retry

    monkeypatch.setattr(jobs, "render", real_render)
    await _run_pipeline(env, queue, video_id, start=False)
    video = await _video(env, video_id)
    assert video.status is VideoStatus.READY
    assert video.qualities == ["360p", "240p"]
    assert video.outputs["hls"] == "master.m3u8"
    assert video.outputs["artwork"]["sprite_vtt"]
    after = await _keys(env.storage, f"media/{video_id}/v1/")
    assert set(keys) <= set(after)  # players that started on the quick rung keep playing
    assert video.outputs_size == sum([await env.storage.size(key) for key in after])


async def test_a_retranscode_has_no_quick_rung(uploaded: Uploaded) -> None:
    env, queue, video_id = uploaded
    await _run_pipeline(env, queue, video_id)
    async with env.db.session() as session:
        await service.request_transcode(session, video_id)
    await _run_pipeline(env, queue, video_id)

    video = await _video(env, video_id)
    assert video.status is VideoStatus.READY
    assert video.current_version == 2
    keys = await _keys(env.storage, f"media/{video_id}/v2/")
    assert keys
    assert not [key for key in keys if "/quick/" in key]  # v1 played meanwhile, in full
    assert await _keys(env.storage, f"media/{video_id}/v1/") == []


async def test_an_artwork_that_cannot_be_made_leaves_the_video_playing(uploaded: Uploaded) -> None:
    env, queue, video_id = uploaded
    await jobs.transcode(env, video_id)
    ladder = await _keys(env.storage, f"media/{video_id}/v1/")
    # The source breaks between the render and the artwork: the artwork step is refused.
    await env.storage.put((await _video(env, video_id)).source_key, b"no longer a video")
    await _run_pipeline(env, queue, video_id, start=False)

    video = await _video(env, video_id)
    assert video.status is VideoStatus.READY
    assert video.failure_reason is None
    assert video.current_version == 1
    assert video.pending == {}
    assert "artwork" not in video.outputs
    assert video.outputs["artwork_error"]
    state = video_state(video)
    assert state.artwork_error == video.outputs["artwork_error"]
    assert not state.artwork_pending
    assert await _keys(env.storage, f"media/{video_id}/v1/") == ladder
    async with env.db.session() as session:
        playing = await service.film_videos(session, [video.film_id])
    assert playing[video.film_id].video_id == video_id


async def test_the_sweep_resends_a_lost_artwork_step_and_it_completes(uploaded: Uploaded) -> None:
    env, queue, video_id = uploaded
    await jobs.transcode(env, video_id)
    queue.sent.clear()  # the artwork task is lost with its worker
    assert await jobs.sweep(env) == 0  # its heartbeat is fresh: nothing is lost yet
    async with env.db.session() as session:
        video = await service.get_video(session, video_id)
        video.heartbeat_at = service.utcnow() - dt.timedelta(seconds=env.settings.stale_after + 1)

    assert await jobs.sweep(env) == 1
    assert [name for name, _, _ in queue.sent] == [jobs.ARTWORK_TASK]
    await _run_pipeline(env, queue, video_id, start=False)
    video = await _video(env, video_id)
    assert video.status is VideoStatus.READY
    assert video.pending == {}
    assert video.outputs["artwork"]["sprite_vtt"]
    assert [t["status"] for t in video.transitions].count("ready") == 1
    assert await jobs.sweep(env) == 0


async def test_an_artwork_step_gives_up_after_its_attempts_and_the_video_plays_on(
    uploaded: Uploaded,
) -> None:
    env, _, video_id = uploaded
    await jobs.transcode(env, video_id)
    for _ in range(env.settings.transcode_attempts):  # each start counts (workers killed)
        async with env.db.session() as session:
            job = await service.start_artwork(
                session, video_id, 1, max_attempts=env.settings.transcode_attempts
            )
            assert job is not None
            await service.note_error(session, job, "WorkerLostError: the worker died")
    await jobs.artwork(env, video_id, 1)
    video = await _video(env, video_id)
    assert video.status is VideoStatus.READY
    assert video.failure_reason is None
    assert video.pending == {}
    assert video.outputs["artwork_error"] == (
        f"gave up after {env.settings.transcode_attempts} attempts: "
        "WorkerLostError: the worker died"
    )


@pytest.mark.parametrize("kind", ["corrupt", "zero-byte", "audio-only", "not-a-video", "truncated"])
async def test_broken_sources_fail_with_a_reason_and_leave_no_outputs(
    kind: str, job_env: tuple[JobEnv, RecordingQueue], clip_cache: ClipCache, tmp_path: Path
) -> None:
    env, queue = job_env
    good = clip_cache.get(width=640, height=360, seconds=2)
    sources = {
        "corrupt": lambda: _write(tmp_path / "c.mp4", bytes(range(256)) * 400),
        "zero-byte": lambda: _write(tmp_path / "z.mp4", b""),
        "audio-only": lambda: clip_cache.get(video=False, audio=True, container="m4a"),
        "not-a-video": lambda: _write(tmp_path / "n.mp4", b"%PDF-1.4 not a film\n" * 100),
        "truncated": lambda: truncated_copy(good, tmp_path / "t.mp4", keep=0.4),
    }
    video_id = await _upload(env, sources[kind](), name="film.mp4")
    await _run_pipeline(env, queue, video_id)
    video = await _video(env, video_id)
    assert video.status is VideoStatus.FAILED, kind
    assert video.failure_reason
    assert "\n" not in video.failure_reason
    assert video.transitions[-1]["reason"] == video.failure_reason
    assert video.current_version is None
    assert await _keys(env.storage, f"media/{video_id}/v1/") == []


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


async def test_a_job_gives_up_after_its_attempts(uploaded: Uploaded) -> None:
    env, _, video_id = uploaded
    # Each start counts, as when a worker is killed mid-job before it records anything.
    for _ in range(env.settings.transcode_attempts):
        async with env.db.session() as session:
            job = await service.start_job(
                session, video_id, version=None, max_attempts=env.settings.transcode_attempts
            )
            assert job is not None
            await service.note_error(session, job, "WorkerLostError: the worker died")
    await jobs.transcode(env, video_id)
    video = await _video(env, video_id)
    assert video.status is VideoStatus.FAILED
    assert video.failure_reason == (
        f"gave up after {env.settings.transcode_attempts} attempts: "
        "WorkerLostError: the worker died"
    )
