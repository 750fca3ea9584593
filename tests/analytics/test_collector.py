"""The collector: batches checked event by event, refusals kept with their reason, aliases."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select

from kinoteka.analytics.messages import decode
from kinoteka.analytics.models import FailedEvent
from kinoteka.analytics.schemas import BusRecord
from kinoteka.analytics.topics import PLAYER_TOPICS, PlayerEventType
from kinoteka.services import Services
from tests.analytics.conftest import token_for

FILM = uuid.UUID("3d825f60-9fff-4dfe-b294-1a45fa1e115d")
AT = "2026-12-01T20:15:00Z"


def event(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "film_id": str(FILM), "position": 12.5, "at": AT, **fields}


async def topic_bodies(services: Services, kind: PlayerEventType) -> list[BusRecord]:
    from redis.asyncio import Redis

    client = Redis.from_url(services.urls.redis_url)
    try:
        entries = await client.xrange(PLAYER_TOPICS[kind])
    finally:
        await client.aclose()
    return [record for _, fields in entries for record in decode(fields[b"b"])]


async def failed_rows(services: Services) -> list[FailedEvent]:
    async with services.db.session() as session:
        return list((await session.execute(select(FailedEvent).order_by(FailedEvent.id))).scalars())


async def test_a_mixed_batch_takes_the_valid_and_names_the_refused(
    client: httpx.AsyncClient, services: Services
) -> None:
    user = uuid.uuid4()
    headers = await token_for(services, user_id=user)
    pause_id = str(uuid.uuid4())
    batch = {
        "schema_version": 1,
        "playback_id": str(uuid.uuid4()),
        "events": [
            event("pause", event_id=pause_id),
            event("quality_change", from_quality="480p", to_quality="1080p"),
            event("pause", film_id="not-a-uuid"),
            event("rewind"),
            event("seek", position=-3, from_position=10),
        ],
    }
    answer = await client.post("/api/v1/events", json=batch, headers=headers)
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["accepted"] == 2
    assert [(r["index"], r["reason"]) for r in body["refused"]] == [
        (2, "pause.film_id: Input should be a valid UUID, invalid character: found `n` at 0"),
        (3, "type: must be one of play, pause, seek, quality_change, progress, full_view, error"),
        (4, "seek.position: Input should be greater than or equal to 0"),
    ]  # fmt: skip

    pauses = await topic_bodies(services, PlayerEventType.PAUSE)
    assert [(str(p.event_id), p.user_id, p.film_id) for p in pauses] == [(pause_id, user, FILM)]
    assert pauses[0].client_at == dt.datetime(2026, 12, 1, 20, 15, tzinfo=dt.UTC)
    quality = await topic_bodies(services, PlayerEventType.QUALITY_CHANGE)
    assert [(q.from_quality, q.to_quality) for q in quality] == [("480p", "1080p")]

    stored = await failed_rows(services)
    assert [(row.batch_index, row.user_id) for row in stored] == [(2, user), (3, user), (4, user)]
    assert stored[0].payload["film_id"] == "not-a-uuid"
    assert "valid UUID" in stored[0].reason


async def test_accepted_progress_events_go_to_the_read_model_it_is_given(
    services: Services,
) -> None:
    """The collector keeps no resume points: it hands the published `progress` events to
    `on_progress` (the web pages give ugc's watch progress), refused ones never."""
    from kinoteka.analytics import Heartbeat, collect_player_events

    handed: list[list[Heartbeat]] = []

    async def sink(beats: list[Heartbeat]) -> None:
        handed.append(beats)

    batch = {
        "schema_version": 1,
        "events": [
            event("progress", position=40, duration=100),
            event("progress", position=-1, duration=100),
            event("pause", position=41),
            event("progress", position=42, duration=None, at="2026-12-01T20:16:00"),
        ],
    }
    async with services.db.session() as session:
        answer = await collect_player_events(
            session, services.bus, uuid.uuid4(), batch, max_events=10, on_progress=sink
        )
        nothing = await collect_player_events(
            session, services.bus, uuid.uuid4(), {"schema_version": 1, "events": [event("play")]},
            max_events=10, on_progress=sink,
        )  # fmt: skip
    assert (answer.accepted, [r.index for r in answer.refused]) == (3, [1])
    assert nothing.accepted == 1
    assert handed == [
        [
            Heartbeat(FILM, 40.0, 100.0, dt.datetime(2026, 12, 1, 20, 15, tzinfo=dt.UTC)),
            Heartbeat(FILM, 42.0, None, dt.datetime(2026, 12, 1, 20, 16, tzinfo=dt.UTC)),
        ]
    ]


async def test_a_wholly_invalid_batch_is_422_and_kept(
    client: httpx.AsyncClient, services: Services
) -> None:
    headers = await token_for(services)
    answer = await client.post(
        "/api/v1/events",
        json={"schema_version": 1, "events": [{"type": "pause"}, event("full_view")]},
        headers=headers,
    )
    assert answer.status_code == 422
    assert answer.json()["accepted"] == 0
    reasons = [r["reason"] for r in answer.json()["refused"]]
    assert reasons[0].startswith("pause.film_id: Field required")
    assert "full_view.duration: Field required" in reasons[1]
    assert len(await failed_rows(services)) == 2

    envelope = await client.post(
        "/api/v1/events", json={"schema_version": 7, "events": []}, headers=headers
    )
    assert envelope.status_code == 422
    assert envelope.json()["refused"][0]["index"] == -1
    not_json = await client.post("/api/v1/events", content=b"{", headers=headers)
    assert not_json.status_code == 422
    assert "not JSON" in not_json.json()["detail"]


async def test_limits_answer_413(client: httpx.AsyncClient, services: Services) -> None:
    headers = await token_for(services)
    many = {"schema_version": 1, "events": [event("pause")] * 501}
    assert (await client.post("/api/v1/events", json=many, headers=headers)).status_code == 413
    huge = b'{"schema_version": 1, "events": [' + b" " * 1_000_001 + b"]}"
    assert (await client.post("/api/v1/events", content=huge, headers=headers)).status_code == 413


async def test_a_token_is_required(client: httpx.AsyncClient) -> None:
    answer = await client.post("/api/v1/events", json={"schema_version": 1, "events": []})
    assert answer.status_code == 401


async def test_events_without_ids_get_the_same_id_when_resent(
    client: httpx.AsyncClient, services: Services
) -> None:
    headers = await token_for(services)
    batch = {"schema_version": 1, "playback_id": str(uuid.uuid4()), "events": [event("pause")]}
    for _ in range(2):
        assert (await client.post("/api/v1/events", json=batch, headers=headers)).status_code == 202
    pauses = await topic_bodies(services, PlayerEventType.PAUSE)
    assert len(pauses) == 2
    assert pauses[0].event_id == pauses[1].event_id


@pytest.mark.parametrize(
    ("path", "kind", "fields"),
    [
        ("/api/pause", PlayerEventType.PAUSE, {}),
        ("/api/full-view", PlayerEventType.FULL_VIEW, {"duration": 5400}),
        ("/api/quality-change", PlayerEventType.QUALITY_CHANGE, {"height": 720, "auto": True}),
    ],
)
async def test_the_seed_endpoints_take_one_event_each(
    client: httpx.AsyncClient,
    services: Services,
    path: str,
    kind: PlayerEventType,
    fields: dict[str, Any],
) -> None:
    headers = await token_for(services)
    body = {"film_id": str(FILM), "position": 30, "at": AT, **fields}
    answer = await client.post(path, json=body, headers=headers)
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"accepted": 1, "refused": []}
    assert len(await topic_bodies(services, kind)) == 1
    refused = await client.post(path, json={"film_id": "x"}, headers=headers)
    assert refused.status_code == 422


async def test_a_bus_outage_is_503_and_the_refused_are_kept(
    client: httpx.AsyncClient, services: Services
) -> None:
    from kinoteka.infra import bus as bus_port

    headers = await token_for(services)
    services.bus = bus_port.from_url("redis://127.0.0.1:1")  # nobody listens there
    batch = {"schema_version": 1, "events": [event("pause"), event("pause", position="x")]}
    answer = await client.post("/api/v1/events", json=batch, headers=headers)
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "5"
    assert [row.batch_index for row in await failed_rows(services)] == [1]
    await services.bus.close()


async def test_a_batch_resent_after_a_503_keeps_its_refused_events_once(
    client: httpx.AsyncClient, services: Services
) -> None:
    """Issue #17: the player resends a batch answered 503; its refused events were kept by
    the first answer and must not be kept again, with the bus still down or back up."""
    from kinoteka.infra import bus as bus_port

    headers = await token_for(services)
    batch = {
        "schema_version": 1,
        "playback_id": str(uuid.uuid4()),
        "events": [
            event("pause"),
            event("pause", position="x"),
            event("rewind", event_id=str(uuid.uuid4())),
            event("seek", position=-3, from_position=10),
        ],
    }
    working = services.bus
    services.bus = bus_port.from_url("redis://127.0.0.1:1")  # nobody listens there
    try:
        for _ in range(2):
            answer = await client.post("/api/v1/events", json=batch, headers=headers)
            assert answer.status_code == 503
    finally:
        await services.bus.close()
        services.bus = working
    resent = await client.post("/api/v1/events", json=batch, headers=headers)
    assert resent.status_code == 202, resent.text
    assert [r["index"] for r in resent.json()["refused"]] == [1, 2, 3]
    assert [row.batch_index for row in await failed_rows(services)] == [1, 2, 3]
    assert len(await topic_bodies(services, PlayerEventType.PAUSE)) == 1

    # Another playback's events, or another viewer's, are other events: kept on their own.
    other = {**batch, "playback_id": str(uuid.uuid4())}
    assert (await client.post("/api/v1/events", json=other, headers=headers)).status_code == 202
    someone = await token_for(services)
    assert (await client.post("/api/v1/events", json=batch, headers=someone)).status_code == 202
    assert len(await failed_rows(services)) == 9


async def test_a_bus_outage_still_keeps_the_resume_point(services: Services) -> None:
    from kinoteka.analytics import Heartbeat, collect_player_events
    from kinoteka.analytics.collector import BusUnavailable
    from kinoteka.infra import bus as bus_port

    handed: list[list[Heartbeat]] = []

    async def sink(beats: list[Heartbeat]) -> None:
        handed.append(beats)

    dead = bus_port.from_url("redis://127.0.0.1:1")  # nobody listens there
    batch = {"schema_version": 1, "events": [event("progress", position=40, duration=100)]}
    try:
        async with services.db.session() as session:
            with pytest.raises(BusUnavailable):
                await collect_player_events(
                    session, dead, uuid.uuid4(), batch, max_events=10, on_progress=sink
                )
    finally:
        await dead.close()
    assert [[beat.position for beat in beats] for beats in handed] == [[40.0]]


def test_the_web_players_batch_shape_is_accepted() -> None:
    """The shape the web player posts (version 1, with its quality fields) parses as ours."""
    from kinoteka.analytics.collector import validate_events

    web = {"type": "quality_change", "film_id": str(FILM), "position": 1.0, "at": AT,
           "height": 1080, "bitrate": 5_000_000, "auto": False}  # fmt: skip
    ((index, parsed, reason),) = validate_events([orjson.loads(orjson.dumps(web))])
    assert (index, reason) == (0, "")
    assert parsed.target == "1080p"
