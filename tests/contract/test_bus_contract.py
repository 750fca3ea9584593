"""The bus contract, run against every adapter: Redis Streams (the embedded Redis and the
machine's server) and Kafka when `KINOTEKA_TEST_KAFKA_URL` (kafka://host:9092) is set."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from kinoteka.infra import bus as bus_port
from kinoteka.infra.bus import BusError, Delivery, EventBus


@pytest.fixture(params=["redis-embedded", "redis-server", "kafka"])
def bus_url(request: pytest.FixtureRequest) -> str:
    if request.param == "redis-embedded":
        url: str = request.getfixturevalue("flushed_redis")
        return url
    if request.param == "redis-server":
        url = request.getfixturevalue("server_redis")
        return url
    kafka = os.environ.get("KINOTEKA_TEST_KAFKA_URL", "")
    if not kafka:
        pytest.skip("no Kafka; set KINOTEKA_TEST_KAFKA_URL=kafka://host:9092 to run")
    return kafka


@pytest.fixture
async def bus(bus_url: str) -> AsyncIterator[EventBus]:
    opened = bus_port.from_url(bus_url)
    yield opened
    await opened.close()


@pytest.fixture
def topic() -> str:
    return f"contract.{uuid.uuid4().hex[:10]}"


async def receive_all(
    bus: EventBus, topics: list[str], group: str, consumer: str, want: int, *, within: float = 15
) -> list[Delivery]:
    """Poll until `want` deliveries came (or the deadline passed)."""
    got: list[Delivery] = []
    deadline = time.monotonic() + within
    while len(got) < want and time.monotonic() < deadline:
        got += await bus.receive(topics, group, consumer, max_count=want, wait_seconds=0.5)
    return got


async def test_a_group_gets_each_message_once_in_order(bus: EventBus, topic: str) -> None:
    await bus.subscribe([topic], "g")
    bodies = [f"m{i}".encode() for i in range(20)]
    await bus.publish(topic, bodies)
    got = await receive_all(bus, [topic], "g", "c1", 20)
    assert [d.body for d in got] == bodies
    assert {d.topic for d in got} == {topic}
    assert len({d.id for d in got}) == 20
    await bus.ack("g", got)
    assert await bus.receive([topic], "g", "c1", max_count=10, wait_seconds=0.2) == []


async def test_every_group_gets_every_message(bus: EventBus, topic: str) -> None:
    await bus.subscribe([topic], "a")
    await bus.subscribe([topic], "b")
    await bus.subscribe([topic], "b")  # idempotent
    await bus.publish(topic, [b"x", b"y"])
    for group in ("a", "b"):
        assert [d.body for d in await receive_all(bus, [topic], group, "c", 2)] == [b"x", b"y"]


async def test_one_consumer_reads_several_topics(bus: EventBus, topic: str) -> None:
    other = topic + ".other"
    await bus.subscribe([topic, other], "g")
    await bus.publish(topic, [b"1"])
    await bus.publish(other, [b"2"])
    got = await receive_all(bus, [topic, other], "g", "c", 2)
    assert sorted((d.topic, d.body) for d in got) == [(topic, b"1"), (other, b"2")]


async def test_unacknowledged_messages_come_back_after_a_crash(bus_url: str, topic: str) -> None:
    first = bus_port.from_url(bus_url)
    await first.subscribe([topic], "g")
    await first.publish(topic, [b"a", b"b", b"c"])
    got = await receive_all(first, [topic], "g", "dies", 3)
    assert len(got) == 3
    await first.ack("g", got[:1])
    await first.close()  # as good as dead: b and c were handed out, never acknowledged

    second = bus_port.from_url(bus_url)
    try:
        back: list[Delivery] = []
        deadline = time.monotonic() + 30
        while len(back) < 2 and time.monotonic() < deadline:
            back += await second.reclaim(
                [topic], "g", "takes-over", min_idle_seconds=0.0, max_count=10
            )
            back += await second.receive([topic], "g", "takes-over", max_count=10, wait_seconds=0.5)
        assert sorted(d.body for d in back) == [b"b", b"c"]
        await second.ack("g", back)
        again = await second.reclaim([topic], "g", "third", min_idle_seconds=0.0, max_count=10)
        again += await second.receive([topic], "g", "third", max_count=10, wait_seconds=0.2)
        assert again == []
    finally:
        await second.close()


async def test_a_recent_delivery_is_not_reclaimed_early(bus: EventBus, topic: str) -> None:
    await bus.subscribe([topic], "g")
    await bus.publish(topic, [b"busy"])
    assert len(await receive_all(bus, [topic], "g", "worker", 1)) == 1
    taken = await bus.reclaim([topic], "g", "thief", min_idle_seconds=60, max_count=10)
    assert taken == []


async def test_an_empty_topic_answers_within_the_wait(bus: EventBus, topic: str) -> None:
    await bus.subscribe([topic], "g")
    started = time.monotonic()
    assert await bus.receive([topic], "g", "c", max_count=5, wait_seconds=0.3) == []
    assert time.monotonic() - started < 5


async def test_an_unreachable_bus_raises_bus_error() -> None:
    down = bus_port.from_url("redis://127.0.0.1:1")
    try:
        with pytest.raises(BusError):
            await down.publish("t", [b"x"])
        with pytest.raises(BusError):
            await down.receive(["t"], "g", "c", max_count=1, wait_seconds=0.1)
    finally:
        await down.close()


def test_unknown_schemes_are_refused() -> None:
    with pytest.raises(ValueError, match="unsupported bus URL scheme"):
        bus_port.from_url("amqp://guest@localhost")


async def test_publish_many_appends_messages_of_several_topics(bus: EventBus, topic: str) -> None:
    other = topic + ".other"
    await bus.subscribe([topic, other], "g")
    await bus.publish_many([(topic, b"1"), (other, b"2"), (topic, b"3")])
    await bus.publish_many([])
    got = await receive_all(bus, [topic, other], "g", "c", 3)
    assert [d.body for d in got if d.topic == topic] == [b"1", b"3"]
    assert [d.body for d in got if d.topic == other] == [b"2"]
