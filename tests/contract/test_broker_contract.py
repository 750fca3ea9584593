"""The broker contract, run against every adapter: Redis Streams (the embedded Redis) and
RabbitMQ (the machine's server at 127.0.0.1:5672, or `KINOTEKA_TEST_RABBITMQ_URL`)."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import urlsplit

import anyio
import pytest

from kinoteka.infra import broker as broker_port
from kinoteka.infra.broker import Broker, Delivery, RetryPolicy
from tests.contract.rabbitmq import delete_declared

RABBITMQ_URL = os.environ.get("KINOTEKA_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
FAST = RetryPolicy(max_attempts=3, base_delay=0.05, max_delay=0.2)


def rabbitmq_url() -> str:
    parts = urlsplit(RABBITMQ_URL)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), 2).close()
    except OSError as error:
        pytest.skip(f"no RabbitMQ ({error}); set KINOTEKA_TEST_RABBITMQ_URL")
    return RABBITMQ_URL


@pytest.fixture(params=["redis", "rabbitmq"])
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[Broker]:
    prefix = f"contract-{uuid.uuid4().hex[:8]}"
    if request.param == "redis":
        url = request.getfixturevalue("embedded_redis")
        adapter = broker_port.from_url(url, prefix=prefix, claim_after=0.3)
    else:
        adapter = broker_port.from_url(rabbitmq_url(), prefix=prefix)
    yield adapter
    await adapter.close()
    await delete_declared(adapter)


async def wait_for(check: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await anyio.sleep(0.01)


async def run_consumer(
    broker: Broker, handler: Callable[[Delivery], Awaitable[None]], until: Callable[[], bool],
    *, topic: str = "events", group: str = "g", retry: RetryPolicy = FAST,
) -> None:  # fmt: skip
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(lambda: broker.consume(topic, group, handler, retry=retry))
        await wait_for(until)
        tasks.cancel_scope.cancel()


async def test_a_declared_group_gets_what_was_published_before_it_consumed(broker: Broker) -> None:
    await broker.declare("events", "g")
    await broker.declare("events", "other")
    for number in range(5):
        await broker.publish("events", f"m{number}".encode(), message_id=f"id-{number}",
                             headers={"kind": "test"})  # fmt: skip
    got: list[Delivery] = []

    async def handle(delivery: Delivery) -> None:
        got.append(delivery)

    await run_consumer(broker, handle, lambda: len(got) >= 5)
    assert sorted(d.message_id for d in got) == [f"id-{n}" for n in range(5)]
    assert {d.body for d in got} == {f"m{n}".encode() for n in range(5)}
    assert all(d.attempt == 1 and d.topic == "events" and d.headers["kind"] == "test" for d in got)
    # Every group has its own copy.
    others: list[Delivery] = []

    async def other(delivery: Delivery) -> None:
        others.append(delivery)

    await run_consumer(broker, other, lambda: len(others) >= 5, group="other")
    assert len(others) == 5


async def test_a_failure_is_retried_with_backoff_then_handled_once(broker: Broker) -> None:
    await broker.declare("events", "g")
    await broker.publish("events", b"flaky", message_id="flaky-1")
    attempts: list[tuple[int, float]] = []
    done: list[str] = []

    async def handle(delivery: Delivery) -> None:
        attempts.append((delivery.attempt, time.monotonic()))
        if delivery.attempt < 3:
            raise RuntimeError("not yet")
        done.append(delivery.message_id)

    await run_consumer(broker, handle, lambda: bool(done))
    assert [a for a, _ in attempts] == [1, 2, 3]
    assert done == ["flaky-1"]
    # Backoff: 0.05 s, then 0.1 s.
    assert attempts[1][1] - attempts[0][1] >= 0.04
    assert attempts[2][1] - attempts[1][1] >= 0.09
    assert await broker.dead_letters("events", "g") == []


async def test_after_max_attempts_a_message_is_parked_with_its_error(broker: Broker) -> None:
    await broker.declare("events", "g")
    await broker.publish("events", b"poison", message_id="poison-1")
    await broker.publish("events", b"fine", message_id="fine-1")
    seen: list[tuple[str, int]] = []

    async def handle(delivery: Delivery) -> None:
        seen.append((delivery.message_id, delivery.attempt))
        if delivery.body == b"poison":
            raise ValueError("cannot render template")

    await run_consumer(broker, handle, lambda: ("poison-1", 3) in seen and ("fine-1", 1) in seen)
    letters: list[broker_port.DeadLetter] = []

    async def parked() -> None:
        deadline = time.monotonic() + 10
        while not letters:
            assert time.monotonic() < deadline
            letters.extend(await broker.dead_letters("events", "g"))
            await anyio.sleep(0.02)

    await parked()
    assert [(x.message_id, x.body, x.attempts) for x in letters] == [("poison-1", b"poison", 3)]
    assert "cannot render template" in letters[0].error
    # Peeking leaves them parked.
    assert len(await broker.dead_letters("events", "g")) == 1


async def test_a_message_left_unacknowledged_is_delivered_again(broker: Broker) -> None:
    await broker.declare("events", "g")
    await broker.publish("events", b"x", message_id="crash-1")
    started = anyio.Event()

    async def hang(delivery: Delivery) -> None:
        started.set()
        await anyio.sleep_forever()

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(lambda: broker.consume("events", "g", hang, retry=FAST))
        await started.wait()
        tasks.cancel_scope.cancel()
    # The first consumer died holding the message; a fresh one gets it (RabbitMQ at once when
    # the channel closes, Redis after `claim_after`).
    got: list[Delivery] = []

    async def handle(delivery: Delivery) -> None:
        got.append(delivery)

    await run_consumer(broker, handle, lambda: bool(got))
    assert got[0].message_id == "crash-1"


async def test_a_slow_message_does_not_hold_up_those_published_after_it(broker: Broker) -> None:
    # Messages in hand are handled concurrently, and the consumer reads on while one is slow:
    # an email batch being sent does not keep the next batch from being claimed.
    await broker.declare("events", "g")
    await broker.publish("events", b"slow", message_id="slow-1")
    slow_started, later_done = anyio.Event(), anyio.Event()
    handled: list[str] = []

    async def handle(delivery: Delivery) -> None:
        if delivery.body == b"slow":
            slow_started.set()
            with anyio.fail_after(10):
                await later_done.wait()
        handled.append(delivery.message_id)
        if len(handled) == 3:
            later_done.set()

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(lambda: broker.consume("events", "g", handle, retry=FAST))
        await slow_started.wait()
        for number in range(3):
            await broker.publish("events", b"later", message_id=f"later-{number}")
        await wait_for(lambda: len(handled) == 4)
        tasks.cancel_scope.cancel()
    assert handled[-1] == "slow-1"
    assert sorted(handled[:3]) == ["later-0", "later-1", "later-2"]


async def test_ping_answers(broker: Broker) -> None:
    await broker.ping()


def test_an_unknown_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported broker URL scheme 'kafka'"):
        broker_port.from_url("kafka://localhost:9092")
