"""Bus port: an append-only event log read by consumer groups (the analytics pipeline's bus).

Every adapter implements the `EventBus` protocol:
- `publish(topic, bodies)` appends messages to a topic; returns once the bus holds them,
  raising `BusError` when it cannot;
- `publish_many(messages)` appends `(topic, body)` messages of any topics in one go (one
  pipelined round trip on Redis, the sends awaited together on Kafka): the collector's way,
  whose messages each carry a batch of events;
- `subscribe(topics, group)` creates the consumer group (idempotent) so that messages
  published from now on are kept for it; a new group starts at the topic's beginning;
- `receive(topics, group, consumer, max_count=, wait_seconds=)` up to `max_count` new
  `Delivery`s for this consumer, waiting at most `wait_seconds` when there are none;
- `ack(group, deliveries)` marks them handled: they are never delivered to the group again;
- `reclaim(topics, group, consumer, min_idle_seconds=, max_count=)` takes over deliveries a
  consumer of the group received but never acknowledged for at least `min_idle_seconds` (it
  crashed): Redis Streams through XAUTOCLAIM; Kafka redelivers uncommitted offsets to the
  group's next consumer by itself, so its `reclaim` returns nothing and `receive` hands them;
- `ping()`, `close()`.

Delivery is at least once: a message is handed again until acknowledged, so consumers make
their effect idempotent (the analytics loader deduplicates by `event_id`).

Adapters, picked by the URL scheme in `from_url()`: `redis://`, `rediss://`, `unix://` (Redis
Streams with consumer groups, the embedded footprint) and `kafka://host:port[,host:port]`
(Kafka through aiokafka, the `kafka` extra, the distributed footprint).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from kinoteka.infra.bus.port import BusError, Delivery, EventBus

__all__ = ["BusError", "Delivery", "EventBus", "from_url"]


def from_url(url: str, *, max_length: int = 1_000_000) -> EventBus:
    """The adapter for `url`; `max_length` bounds each Redis stream (approximate trimming)."""
    scheme = urlsplit(url).scheme
    if scheme in {"redis", "rediss", "unix"}:
        from kinoteka.infra.bus.redis import RedisStreamsBus

        return RedisStreamsBus.from_url(url, max_length=max_length)
    if scheme == "kafka":
        from kinoteka.infra.bus.kafka import KafkaBus

        return KafkaBus.from_url(url)
    raise ValueError(f"unsupported bus URL scheme {scheme!r}: use redis://, unix:// or kafka://")
