"""The video state machine and the public read other contexts use."""

from __future__ import annotations

import uuid

import pytest

from kinoteka.infra import db as db_port
from kinoteka.media import service
from kinoteka.media.errors import InvalidTransition
from kinoteka.media.models import TRANSITIONS, Video, VideoStatus


def _video(status: VideoStatus) -> Video:
    return Video(id=uuid.uuid4(), film_id=uuid.uuid4(), status=status, transitions=[])


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        (["probing", "transcoding", "ready"], True),
        (["probing", "failed"], True),
        (["probing", "transcoding", "failed", "probing", "transcoding", "ready"], True),
        (["probing", "transcoding", "probing"], True),  # a lost worker's job starts over
        (["ready"], False),
        (["transcoding"], False),
        (["probing", "transcoding", "ready", "transcoding"], False),
        (["probing", "uploaded"], False),
    ],
)
def test_transitions_follow_the_state_machine(path: list[str], allowed: bool) -> None:
    video = _video(VideoStatus.UPLOADED)
    if not allowed:
        *before, last = path
        for status in before:
            service.transition(video, VideoStatus(status))
        with pytest.raises(InvalidTransition, match="cannot go from"):
            service.transition(video, VideoStatus(last))
        return
    for status in path:
        service.transition(video, VideoStatus(status))
    assert [entry["status"] for entry in video.transitions] == path
    assert all(entry["at"] for entry in video.transitions)


def test_every_status_has_a_way_on() -> None:
    assert set(TRANSITIONS) == set(VideoStatus)
    for status in (VideoStatus.READY, VideoStatus.FAILED):
        assert TRANSITIONS[status] == {VideoStatus.PROBING}


def test_failed_records_the_reason_and_a_restart_clears_it() -> None:
    video = _video(VideoStatus.UPLOADED)
    service.transition(video, VideoStatus.PROBING)
    service.transition(video, VideoStatus.FAILED, "no video stream")
    assert video.failure_reason == "no video stream"
    assert video.transitions[-1]["reason"] == "no video stream"
    service.transition(video, VideoStatus.PROBING)
    assert video.failure_reason is None


async def test_film_videos_tells_which_films_play(fresh_database: str) -> None:
    db = db_port.from_url(fresh_database)
    film_ready, film_waiting = uuid.uuid4(), uuid.uuid4()
    try:
        async with db.session() as session:
            ready = await service.register_video(
                session, film_id=film_ready, key="media/x/source/original.mp4", name="x.mp4",
                size=1, checksum=None,
            )  # fmt: skip
            ready.current_version = 1
            ready.duration = 12.5
            ready.qualities = ["720p", "480p"]
            await service.register_video(
                session, film_id=film_waiting, key="media/y/source/original.mp4", name="y.mp4",
                size=1, checksum=None,
            )  # fmt: skip
        async with db.session() as session:
            found = await service.film_videos(session, [film_ready, film_waiting])
    finally:
        await db.close()
    assert list(found) == [film_ready]
    assert found[film_ready].duration == 12.5
    assert found[film_ready].qualities == ["720p", "480p"]
