"""Kafka adapter of the bus port (aiokafka): one producer, a consumer per (group, consumer).

Acknowledging commits the group's offset past the delivery in its partition; messages a
consumer received but never committed are handed again by Kafka to the group's next consumer
(after a restart or a rebalance), which is why `reclaim` has nothing to do here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from urllib.parse import urlsplit

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from kinoteka.infra.bus.port import BusError, Delivery


class KafkaBus:
    def __init__(self, bootstrap_servers: str) -> None:
        self._servers = bootstrap_servers
        self._producer: AIOKafkaProducer | None = None
        self._consumers: dict[tuple[str, str], AIOKafkaConsumer] = {}

    @classmethod
    def from_url(cls, url: str) -> KafkaBus:
        servers = urlsplit(url).netloc
        if not servers:
            raise ValueError("kafka:// URL needs host:port[,host:port]")
        return cls(servers)

    async def _started_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = AIOKafkaProducer(bootstrap_servers=self._servers, acks="all")
            await producer.start()
            self._producer = producer
        return self._producer

    async def publish(self, topic: str, bodies: Sequence[bytes]) -> None:
        await self.publish_many([(topic, body) for body in bodies])

    async def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        if not messages:
            return
        try:
            producer = await self._started_producer()
            # Every send is queued before any acknowledgement is awaited: the producer
            # batches them per partition, one request per broker.
            batch = [await producer.send(topic, body) for topic, body in messages]
            for sent in batch:
                await sent
        except KafkaError as error:
            raise BusError(f"kafka: {error}") from error

    async def subscribe(self, topics: Sequence[str], group: str) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self._servers)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [t for t in topics if t not in existing]
            if missing:
                # Created meanwhile by another subscriber: as good.
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics(
                        [NewTopic(t, num_partitions=1, replication_factor=1) for t in missing]
                    )
        except KafkaError as error:
            raise BusError(f"kafka: {error}") from error
        finally:
            await admin.close()

    async def _consumer(self, topics: Sequence[str], group: str, name: str) -> AIOKafkaConsumer:
        consumer = self._consumers.get((group, name))
        if consumer is None:
            consumer = AIOKafkaConsumer(
                *topics,
                bootstrap_servers=self._servers,
                group_id=group,
                client_id=name,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
            )
            await consumer.start()
            self._consumers[(group, name)] = consumer
        return consumer

    async def receive(
        self,
        topics: Sequence[str],
        group: str,
        consumer: str,
        *,
        max_count: int,
        wait_seconds: float,
    ) -> list[Delivery]:
        try:
            reader = await self._consumer(topics, group, consumer)
            batches = await reader.getmany(
                timeout_ms=int(wait_seconds * 1000), max_records=max_count
            )
        except KafkaError as error:
            raise BusError(f"kafka: {error}") from error
        return [
            Delivery(
                topic=record.topic, id=f"{record.partition}:{record.offset}", body=record.value
            )
            for records in batches.values()
            for record in records
            if record.value is not None
        ]

    async def ack(self, group: str, deliveries: Sequence[Delivery]) -> None:
        offsets: dict[TopicPartition, int] = {}
        for delivery in deliveries:
            partition, offset = (int(part) for part in delivery.id.split(":"))
            key = TopicPartition(delivery.topic, partition)
            offsets[key] = max(offsets.get(key, 0), offset + 1)
        readers = [c for (g, _), c in self._consumers.items() if g == group]
        if not readers or not offsets:
            return
        try:
            for reader in readers:
                mine = {tp: o for tp, o in offsets.items() if tp in reader.assignment()}
                if mine:
                    await reader.commit(mine)
        except KafkaError as error:
            raise BusError(f"kafka: {error}") from error

    async def reclaim(
        self,
        topics: Sequence[str],
        group: str,
        consumer: str,
        *,
        min_idle_seconds: float,
        max_count: int,
    ) -> list[Delivery]:
        return []

    async def ping(self) -> None:
        await self._started_producer()

    async def close(self) -> None:
        for reader in self._consumers.values():
            await reader.stop()
        self._consumers.clear()
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
