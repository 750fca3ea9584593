"""Broker port: durable topics with consumer groups, retries with backoff, a dead-letter queue.

Every adapter implements the `Broker` protocol:

- `declare(topic, group)`: make the group's durable queue for `topic`, so that messages
  published from then on are kept until the group consumes them (idempotent).
- `publish(topic, body, message_id=…, headers=…)`: returns once the broker has the message
  durably (publisher confirms on RabbitMQ, XADD on Redis); `message_id` travels with it.
- `consume(topic, group, handler, retry=…)`: runs until cancelled, calling `handler(delivery)`
  for each message, at least once. A handler that returns acknowledges the message; one that
  raises gets it again after `RetryPolicy.delay(attempt)` seconds, and after
  `retry.max_attempts` deliveries the message goes to the group's dead-letter queue with the
  error. A consumer that dies before acknowledging gets the message redelivered (to itself on
  restart, or to another consumer of the group), so handlers must be idempotent.
- `dead_letters(topic, group, limit=…)`: the parked messages, oldest first, without taking them.
- `ping()`, `close()`.

`from_url()` picks the adapter by scheme: `amqp://`/`amqps://` is RabbitMQ (aio-pika; a
durable topic exchange, a queue per group, per-delay TTL queues for the backoff, a DLQ queue),
`redis://`/`rediss://`/`unix://` is Redis Streams (a consumer group per group, a sorted set of
scheduled retries, a DLQ stream) for the embedded footprint.
"""

from __future__ import annotations

from kinoteka.infra.broker.port import (
    Broker,
    BrokerError,
    DeadLetter,
    Delivery,
    Handler,
    RetryPolicy,
)

__all__ = [
    "Broker",
    "BrokerError",
    "DeadLetter",
    "Delivery",
    "Handler",
    "RetryPolicy",
    "from_url",
]


def from_url(
    url: str, *, prefix: str = "kinoteka", claim_after: float = 60.0, prefetch: int = 256
) -> Broker:
    """The adapter for `url`; nothing connects until first used.

    `prefix` names the exchange (RabbitMQ) or the keys (Redis). `claim_after` is how long a
    Redis consumer may hold a message before another takes it over (RabbitMQ redelivers as soon
    as the holder's connection drops). `prefetch` is how many messages a consumer holds (and
    handles concurrently) at once.
    """
    from urllib.parse import urlsplit

    scheme = urlsplit(url).scheme
    if scheme in {"amqp", "amqps"}:
        from kinoteka.infra.broker.rabbitmq import RabbitBroker

        return RabbitBroker(url, prefix=prefix, prefetch=prefetch)
    if scheme in {"redis", "rediss", "unix"}:
        from kinoteka.infra.broker.redis import RedisBroker

        return RedisBroker(url, prefix=prefix, claim_after=claim_after, prefetch=prefetch)
    raise ValueError(
        f"unsupported broker URL scheme {scheme!r}; known: amqp://, amqps://, redis://, unix://"
    )
