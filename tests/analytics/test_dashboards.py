"""Dashboards over a loaded fixture give the expected numbers; the API guards and draws them."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from xml.etree import ElementTree

import httpx
import pytest

from kinoteka.analytics.dashboards import CHARTS, load_dashboard
from kinoteka.analytics.loader import Loader
from kinoteka.analytics.schemas import BusRecord
from kinoteka.infra.analytics import AnalyticsStore
from kinoteka.services import Services
from tests.analytics.conftest import token_for
from tests.analytics.factories import player, send

NOW = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
DAY1 = NOW - dt.timedelta(days=2)
DAY2 = NOW - dt.timedelta(days=1)
A, B, C = (uuid.UUID(int=n) for n in (1, 2, 3))  # films
U1, U2, U3 = (uuid.uuid4() for _ in range(3))  # viewers


async def load_known_fixture(services: Services, extra: Sequence[BusRecord] = ()) -> None:
    """The fixture below (and `extra`) loaded into the services' ClickHouse database."""
    at1 = DAY1.replace(hour=20)
    at2 = DAY2.replace(hour=9)
    resumed = at1 + dt.timedelta(minutes=5)
    late = at2 + dt.timedelta(minutes=90)  # another hour of the day
    a1, a2, a3, a4 = (uuid.uuid4() for _ in range(4))  # playbacks of film A
    records = [
        # Playbacks: film A by three viewers (U1 twice), B by one, C by one on day 2. The
        # player sends `play` again on each resume after a pause: the same playback.
        player("play", film_id=A, user_id=U1, playback_id=a1, client_at=at1),
        player("play", film_id=A, user_id=U1, playback_id=a1, client_at=resumed),
        player("play", film_id=A, user_id=U1, playback_id=a2, client_at=at1),
        player("play", film_id=A, user_id=U2, playback_id=a3, client_at=at1),
        player("play", film_id=A, user_id=U3, playback_id=a4, client_at=at2),
        player("play", film_id=A, user_id=U3, playback_id=a4, client_at=late),
        player("play", film_id=B, user_id=U1, client_at=at1),  # an older client: no playback id
        player("play", film_id=C, user_id=U2, client_at=at2),
        # Full views: U1 and U2 finished A; U2 finished C. Six started pairs, three finished.
        player("full_view", film_id=A, user_id=U1, client_at=at1),
        player("full_view", film_id=A, user_id=U2, client_at=at1),
        player("full_view", film_id=C, user_id=U2, client_at=at2),
        # Pauses at 2 min, 4 min and 12 min; film A lasts 90 min, and the video ending (which
        # pauses it) is no viewer's pause.
        player("progress", film_id=A, position=5400.0, duration=5400.0, client_at=at1),
        player("pause", film_id=A, position=120.0, client_at=at1),
        player("pause", position=240.0, client_at=at1),
        player("pause", position=720.0, client_at=at2),
        player("pause", film_id=A, user_id=U1, position=5400.0, client_at=at1),
        # Quality: to 1080p twice, to 480p once; where two playbacks started is no switch.
        player("quality_change", from_quality="480p", to_quality="1080p", client_at=at1),
        player("quality_change", from_quality="480p", to_quality="1080p", client_at=at2),
        player("quality_change", from_quality="1080p", to_quality="480p", client_at=at2),
        player("quality_change", to_quality="720p", height=720, client_at=at1),
        player("quality_change", to_quality="720p", height=720, client_at=at2),
        # Too old for a 30-day window.
        player("play", film_id=B, client_at=NOW - dt.timedelta(days=90)),
    ]
    records += extra
    duplicate = records[0]
    await send(services.bus, [*records, duplicate])  # one event delivered twice
    settings = services.settings.analytics
    loader = Loader(
        services.bus,
        services.analytics_store,
        settings.database,
        group="g",
        batch_size=1000,
        max_wait=0.2,
    )
    await loader.prepare()
    assert await loader.run_until_idle(0.3) == len(records) + 1


@pytest.fixture
async def loaded(services: Services) -> Services:
    await load_known_fixture(services)
    return services


async def test_the_figures_of_a_known_fixture(loaded: Services) -> None:
    store: AnalyticsStore = loaded.analytics_store
    board = await load_dashboard(store, loaded.settings.analytics.database, days=30)
    assert [(bar.label, bar.value) for bar in board.views_per_day] == [
        (DAY1.date().isoformat(), 4),
        (DAY2.date().isoformat(), 2),
    ]
    assert [(f.film_id, f.viewers, f.plays) for f in board.top_films] == [
        (A, 3, 4),
        (B, 1, 1),
        (C, 1, 1),
    ]
    assert (board.started, board.finished, board.completion_rate) == (5, 3, 0.6)
    assert [(b.label, b.value) for b in board.pause_positions] == [
        ("0-5 min", 2),
        ("10-15 min", 1),
    ]
    assert [(b.label, b.value) for b in board.quality_switches] == [("1080p", 2), ("480p", 1)]
    hours = {b.label: b.value for b in board.hours_of_day}
    assert len(hours) == 24
    assert (hours["20"], hours["09"], hours["10"], hours["00"]) == (4, 2, 0, 0)


async def test_the_dashboard_needs_analytics_view(
    loaded: Services, client: httpx.AsyncClient
) -> None:
    viewer = await token_for(loaded, "analytics.view")
    nobody = await token_for(loaded)
    assert (await client.get("/api/v1/analytics/dashboard")).status_code == 401
    assert (await client.get("/api/v1/analytics/dashboard", headers=nobody)).status_code == 403
    answer = await client.get("/api/v1/analytics/dashboard", headers=viewer)
    assert answer.status_code == 200
    assert answer.json()["completion_rate"] == 0.6
    for chart in CHARTS:
        svg = await client.get(f"/api/v1/analytics/charts/{chart}.svg", headers=viewer)
        assert svg.status_code == 200
        assert svg.headers["content-type"] == "image/svg+xml"
        root = ElementTree.fromstring(svg.text)  # noqa: S314 - our own output
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        assert root.findall(".//{http://www.w3.org/2000/svg}rect")
    unknown = await client.get("/api/v1/analytics/charts/nothing.svg", headers=viewer)
    assert unknown.status_code == 404
