"""The `indexing` task's watch: a switched-in video seen in the film's search document, or
the lag reported."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import structlog
from structlog.testing import capture_logs

from kinoteka.infra.search import SearchIndex
from kinoteka.media import jobs
from kinoteka.search import open_search_index
from kinoteka.search.settings import SearchSettings

MOVIES = SearchSettings().indexes.movies


@pytest.fixture(autouse=True)
def fresh_logger(monkeypatch: pytest.MonkeyPatch) -> None:
    """A logger not yet bound: the app's logging caches a module's logger on first use, so
    one used by an earlier test in the session would bypass `capture_logs`."""
    monkeypatch.setattr(jobs, "log", structlog.get_logger(jobs.__name__))


@pytest.fixture
async def index(tmp_path: Path) -> AsyncIterator[SearchIndex]:
    opened = open_search_index(f"tantivy://{tmp_path / 'index'}", SearchSettings())
    await opened.ensure_indexes()
    yield opened
    await opened.close()


def film(film_id: uuid.UUID, **video: object) -> dict[str, object]:
    return {"id": str(film_id), "title": "Alien", "has_video": False, "qualities": [], **video}


async def test_the_video_reaching_the_document_is_logged_with_the_wait(
    index: SearchIndex,
) -> None:
    film_id, video_id = uuid.uuid4(), uuid.uuid4()
    await index.bulk(MOVIES, [film(film_id)])
    with capture_logs() as logs:
        watching = asyncio.create_task(
            jobs.confirm_indexed(index, MOVIES, film_id, video_id, within=10, poll=0.01)
        )
        await asyncio.sleep(0)  # the watch starts before the video is indexed
        indexed = film(film_id, has_video=True, duration=60.0, qualities=["720p"])
        await index.bulk(MOVIES, [indexed])
        assert await asyncio.wait_for(watching, 15) is True
    events = [entry for entry in logs if entry["event"] == "media.indexed"]
    assert len(events) == 1
    assert events[0]["film_id"] == str(film_id)
    assert events[0]["video_id"] == str(video_id)
    assert 0 <= events[0]["waited"] < 10


@pytest.mark.parametrize("indexed", [True, False])
async def test_a_document_without_the_video_in_time_is_reported_lagging(
    index: SearchIndex, indexed: bool
) -> None:
    film_id = uuid.uuid4()
    if indexed:
        await index.bulk(MOVIES, [film(film_id)])
    with capture_logs() as logs:
        found = await jobs.confirm_indexed(
            index, MOVIES, film_id, uuid.uuid4(), within=0.05, poll=0.01
        )
    assert found is False
    lagging = [entry for entry in logs if entry["event"] == "media.index_lagging"]
    assert len(lagging) == 1
    assert lagging[0]["film_found"] is indexed
    assert lagging[0]["log_level"] == "warning"
