"""RabbitMQ broker (aio-pika): a durable topic exchange, a durable queue per consumer group.

Publishing waits for the broker's confirm and marks messages persistent. A failed message is
republished to a per-delay TTL queue (`<queue>.retry.<ms>`) whose dead-letter route is the
group's queue, so it comes back after the delay; after the last attempt it goes to
`<queue>.dlq` with its error. Either republish is confirmed before the original is
acknowledged, so a crash in between delivers twice rather than never.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import aio_pika
import anyio
import structlog
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)

from kinoteka.infra.broker.port import (
    BrokerError,
    DeadLetter,
    Delivery,
    Handler,
    RetryPolicy,
)

log = structlog.get_logger(__name__)

ATTEMPT = "x-kinoteka-attempt"
ERROR = "x-kinoteka-error"
FAILED_AT = "x-kinoteka-failed-at"
TOPIC = "x-kinoteka-topic"


class RabbitBroker:
    def __init__(self, url: str, *, prefix: str = "kinoteka", prefetch: int = 256) -> None:
        self.url = url
        self.prefix = prefix
        self.prefetch = prefetch
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._lock = anyio.Lock()
        self.declared: set[str] = set()
        """Every queue this client declared (group, retry and dead-letter queues)."""

    def queue_name(self, topic: str, group: str) -> str:
        return f"{self.prefix}.{group}.{topic}"

    async def _connect(self) -> AbstractRobustConnection:
        if self._connection is None:
            try:
                self._connection = await aio_pika.connect_robust(self.url)
            except (OSError, aio_pika.exceptions.AMQPError) as error:
                raise BrokerError(f"cannot reach RabbitMQ: {error}") from error
        return self._connection

    async def _publishing(self) -> tuple[AbstractChannel, AbstractExchange]:
        if self._channel is not None and self._exchange is not None:
            return self._channel, self._exchange  # the usual case: no lock per message
        async with self._lock:
            if self._channel is None or self._exchange is None:
                connection = await self._connect()
                self._channel = await connection.channel(publisher_confirms=True)
                self._exchange = await self._channel.declare_exchange(
                    self.prefix, aio_pika.ExchangeType.TOPIC, durable=True
                )
            return self._channel, self._exchange

    async def _declare(self, channel: AbstractChannel, topic: str, group: str) -> AbstractQueue:
        exchange = await channel.declare_exchange(
            self.prefix, aio_pika.ExchangeType.TOPIC, durable=True
        )
        name = self.queue_name(topic, group)
        queue = await channel.declare_queue(name, durable=True)
        await queue.bind(exchange, routing_key=topic)
        await channel.declare_queue(f"{name}.dlq", durable=True)
        self.declared.update((name, f"{name}.dlq"))
        return queue

    async def declare(self, topic: str, group: str) -> None:
        channel, _ = await self._publishing()
        await self._declare(channel, topic, group)

    async def publish(
        self, topic: str, body: bytes, *, message_id: str, headers: Mapping[str, str] | None = None
    ) -> None:
        _, exchange = await self._publishing()
        message = aio_pika.Message(
            body,
            message_id=message_id,
            headers={**(headers or {}), TOPIC: topic},
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            content_type="application/octet-stream",
        )
        await exchange.publish(message, routing_key=topic)

    async def _republish(self, routing_key: str, incoming: AbstractIncomingMessage,
                         headers: dict[str, Any]) -> None:  # fmt: skip
        channel, _ = await self._publishing()
        message = aio_pika.Message(
            incoming.body,
            message_id=incoming.message_id,
            headers=headers,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        await channel.default_exchange.publish(message, routing_key=routing_key)

    async def _retry_queue(self, name: str, delay: float) -> str:
        channel, _ = await self._publishing()
        milliseconds = max(1, round(delay * 1000))
        retry = f"{name}.retry.{milliseconds}"
        await channel.declare_queue(
            retry,
            durable=True,
            arguments={
                "x-message-ttl": milliseconds,
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": name,
            },
        )
        self.declared.add(retry)
        return retry

    async def consume(
        self, topic: str, group: str, handler: Handler, *, retry: RetryPolicy | None = None
    ) -> None:
        policy = retry or RetryPolicy()
        connection = await self._connect()
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=self.prefetch)
        queue = await self._declare(channel, topic, group)
        limiter = anyio.Semaphore(self.prefetch)
        try:
            async with anyio.create_task_group() as tasks, queue.iterator() as messages:
                async for incoming in messages:
                    await limiter.acquire()
                    tasks.start_soon(self._handle, queue.name, topic, incoming, handler, policy,
                                     limiter)  # fmt: skip
        finally:
            with anyio.CancelScope(shield=True):
                await channel.close()

    async def _handle(self, name: str, topic: str, incoming: AbstractIncomingMessage,
                      handler: Handler, policy: RetryPolicy,
                      limiter: anyio.Semaphore) -> None:  # fmt: skip
        try:
            headers = {k: str(v) for k, v in (incoming.headers or {}).items()}
            attempt = int(headers.pop(ATTEMPT, "1"))
            delivery = Delivery(
                message_id=incoming.message_id or "",
                topic=headers.pop(TOPIC, topic),
                body=incoming.body,
                attempt=attempt,
                headers=headers,
            )
            try:
                await handler(delivery)
            except Exception as error:
                base = {**headers, TOPIC: delivery.topic}
                if attempt >= policy.max_attempts:
                    log.warning("broker.dead_letter", queue=name, message_id=delivery.message_id,
                                attempts=attempt, error=str(error))  # fmt: skip
                    await self._republish(f"{name}.dlq", incoming, {
                        **base, ATTEMPT: str(attempt), ERROR: f"{type(error).__name__}: {error}",
                        FAILED_AT: dt.datetime.now(dt.UTC).isoformat(),
                    })  # fmt: skip
                else:
                    delay = policy.delay(attempt)
                    log.info("broker.retry", queue=name, message_id=delivery.message_id,
                             attempt=attempt, delay=delay, error=str(error))  # fmt: skip
                    retry_queue = await self._retry_queue(name, delay)
                    await self._republish(
                        retry_queue, incoming, {**base, ATTEMPT: str(attempt + 1)}
                    )
            await incoming.ack()
        finally:
            limiter.release()

    async def dead_letters(self, topic: str, group: str, *, limit: int = 100) -> list[DeadLetter]:
        connection = await self._connect()
        channel = await connection.channel()
        try:
            queue = await channel.declare_queue(
                f"{self.queue_name(topic, group)}.dlq", durable=True
            )
            held: list[AbstractIncomingMessage] = []
            letters: list[DeadLetter] = []
            while len(held) < limit:
                incoming = await queue.get(no_ack=False, fail=False)
                if incoming is None:
                    break
                held.append(incoming)
                headers = {k: str(v) for k, v in (incoming.headers or {}).items()}
                letters.append(
                    DeadLetter(
                        message_id=incoming.message_id or "",
                        topic=headers.get(TOPIC, topic),
                        body=incoming.body,
                        attempts=int(headers.get(ATTEMPT, "0")),
                        error=headers.get(ERROR, ""),
                        failed_at=dt.datetime.fromisoformat(headers[FAILED_AT])
                        if FAILED_AT in headers
                        else dt.datetime.now(dt.UTC),
                    )
                )
        finally:
            # Closing the channel hands every message it held back to the queue, in order.
            await channel.close()
        return letters

    async def ping(self) -> None:
        connection = await self._connect()
        if connection.is_closed:
            raise BrokerError("the RabbitMQ connection is closed")

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
        self._connection = None
        self._channel = None
        self._exchange = None
