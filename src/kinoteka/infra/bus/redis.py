"""Redis Streams adapter of the bus port: XADD, consumer groups, XACK and XAUTOCLAIM."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from kinoteka.infra.bus.port import BusError, Delivery

FIELD = b"b"  # each stream entry holds one field: the message body


class RedisStreamsBus:
    def __init__(self, client: Redis, *, max_length: int) -> None:
        self._client = client
        self._max_length = max_length

    @classmethod
    def from_url(cls, url: str, *, max_length: int) -> RedisStreamsBus:
        return cls(Redis.from_url(url), max_length=max_length)

    async def publish(self, topic: str, bodies: Sequence[bytes]) -> None:
        await self.publish_many([(topic, body) for body in bodies])

    async def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        if not messages:
            return
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for topic, body in messages:
                    pipe.xadd(topic, {FIELD: body}, maxlen=self._max_length, approximate=True)
                await pipe.execute()
        except RedisError as error:
            raise BusError(f"redis: {error}") from error

    async def subscribe(self, topics: Sequence[str], group: str) -> None:
        for topic in topics:
            try:
                await self._client.xgroup_create(topic, group, id="0", mkstream=True)
            except ResponseError as error:
                if "BUSYGROUP" not in str(error):
                    raise BusError(f"redis: {error}") from error
            except RedisError as error:
                raise BusError(f"redis: {error}") from error

    async def receive(
        self,
        topics: Sequence[str],
        group: str,
        consumer: str,
        *,
        max_count: int,
        wait_seconds: float,
    ) -> list[Delivery]:
        streams: dict[Any, Any] = dict.fromkeys(topics, ">")
        try:
            answer = await self._client.xreadgroup(
                group, consumer, streams, count=max_count, block=max(1, int(wait_seconds * 1000))
            )
        except RedisError as error:
            raise BusError(f"redis: {error}") from error
        deliveries: list[Delivery] = []
        streams_answer: list[Any] = list(answer or [])
        for stream, entries in streams_answer:
            topic = stream.decode() if isinstance(stream, bytes) else str(stream)
            deliveries.extend(_deliveries(topic, entries))
        return deliveries

    async def ack(self, group: str, deliveries: Sequence[Delivery]) -> None:
        by_topic: dict[str, list[str]] = {}
        for delivery in deliveries:
            by_topic.setdefault(delivery.topic, []).append(delivery.id)
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for topic, ids in by_topic.items():
                    pipe.xack(topic, group, *ids)
                await pipe.execute()
        except RedisError as error:
            raise BusError(f"redis: {error}") from error

    async def reclaim(
        self,
        topics: Sequence[str],
        group: str,
        consumer: str,
        *,
        min_idle_seconds: float,
        max_count: int,
    ) -> list[Delivery]:
        deliveries: list[Delivery] = []
        try:
            for topic in topics:
                start = "0-0"
                while len(deliveries) < max_count:
                    answer = await self._client.xautoclaim(
                        topic,
                        group,
                        consumer,
                        min_idle_time=int(min_idle_seconds * 1000),
                        start_id=start,
                        count=max_count - len(deliveries),
                    )
                    following, entries = answer[0], answer[1]
                    deliveries.extend(_deliveries(topic, entries))
                    start = following.decode() if isinstance(following, bytes) else following
                    if start == "0-0":
                        break
        except RedisError as error:
            raise BusError(f"redis: {error}") from error
        return deliveries

    async def ping(self) -> None:
        await self._client.ping()

    async def close(self) -> None:
        await self._client.aclose()


def _deliveries(topic: str, entries: Sequence[Any]) -> list[Delivery]:
    found = []
    for entry_id, fields in entries:
        if not fields:  # trimmed away while pending: nothing left to deliver
            continue
        ident = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
        found.append(Delivery(topic=topic, id=ident, body=fields[FIELD]))
    return found
