"""Redis Streams broker for the embedded footprint: one stream per topic, a consumer group
per group, a sorted set of scheduled retries and a dead-letter stream per group.

A failed message is scheduled in `<prefix>:schedule:<topic>:<group>` (score: when it is due)
and acknowledged in the same transaction; a Lua script moves due entries atomically into the
group's retry stream, which the group reads beside the topic's stream. A consumer that dies
leaves its messages pending; after `claim_after` seconds another consumer (or the same one,
restarted) claims them with XAUTOCLAIM.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import socket
import time
import uuid
from collections.abc import Mapping
from typing import Any

import anyio
import structlog
from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError, ResponseError

from kinoteka.infra.broker.port import (
    BrokerError,
    DeadLetter,
    Delivery,
    Handler,
    RetryPolicy,
)

log = structlog.get_logger(__name__)

PROMOTE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 500)
for _, member in ipairs(due) do
  local entry = cjson.decode(member)
  redis.call('XADD', KEYS[2], '*', 'id', entry.id, 'b64', entry.b64,
             'attempt', entry.attempt, 'headers', entry.headers)
  redis.call('ZREM', KEYS[1], member)
end
return #due
"""

Fields = dict[bytes, bytes]


class RedisBroker:
    def __init__(self, url: str, *, prefix: str = "kinoteka", claim_after: float = 60.0,
                 batch: int = 64, prefetch: int = 256,
                 max_length: int = 1_000_000) -> None:  # fmt: skip
        self.url = url
        self.prefix = prefix
        self.claim_after = claim_after
        self.batch = batch
        """Entries read (or claimed) per command."""
        self.prefetch = prefetch
        """Entries a consumer holds unacknowledged at once, handled concurrently."""
        self.max_length = max_length
        self._redis: Redis | None = None

    @property
    def redis(self) -> Redis:
        if self._redis is None:
            self._redis = Redis.from_url(self.url)
        return self._redis

    def _stream(self, topic: str) -> str:
        return f"{self.prefix}:stream:{topic}"

    def _keys(self, topic: str, group: str) -> tuple[str, str, str]:
        """The group's retry stream, retry schedule and dead-letter stream."""
        tail = f"{topic}:{group}"
        return (f"{self.prefix}:retry:{tail}", f"{self.prefix}:schedule:{tail}",
                f"{self.prefix}:dlq:{tail}")  # fmt: skip

    async def _create_group(self, stream: str, group: str) -> None:
        try:
            await self.redis.xgroup_create(stream, group, id="0", mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    async def declare(self, topic: str, group: str) -> None:
        try:
            await self._create_group(self._stream(topic), group)
            await self._create_group(self._keys(topic, group)[0], group)
        except RedisError as error:
            raise BrokerError(f"cannot declare {topic}/{group}: {error}") from error

    async def publish(
        self, topic: str, body: bytes, *, message_id: str, headers: Mapping[str, str] | None = None
    ) -> None:
        encoded = json.dumps(dict(headers or {}))
        fields: dict[str, str | bytes] = {
            "id": message_id, "body": body, "attempt": "1", "headers": encoded,
        }  # fmt: skip
        try:
            await self.redis.xadd(self._stream(topic), fields,  # type: ignore[arg-type]
                                  maxlen=self.max_length, approximate=True)  # fmt: skip
        except RedisError as error:
            raise BrokerError(f"cannot publish to {topic}: {error}") from error

    async def consume(
        self, topic: str, group: str, handler: Handler, *, retry: RetryPolicy | None = None
    ) -> None:
        policy = retry or RetryPolicy()
        await self.declare(topic, group)
        stream = self._stream(topic)
        retries, schedule, _ = self._keys(topic, group)
        consumer = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        promote = self.redis.register_script(PROMOTE)
        claim_ms = max(1, round(self.claim_after * 1000))
        last_claim = 0.0
        # Like RabbitMQ's prefetch: up to `prefetch` entries are in hand, handled
        # concurrently; the next read waits for room for a whole `batch` (not for the previous
        # batch to finish), so a slow batch does not hold up the next one.
        slots = anyio.Semaphore(self.prefetch)
        want = min(self.batch, self.prefetch)

        in_hand: set[bytes] = set()
        """Entry ids being handled: a claim of idle entries (a slow handler's too) skips them."""

        async def handle(key: str, entry_id: bytes, fields: Fields) -> None:
            try:
                await self._handle(key, group, topic, entry_id, fields, handler, policy)
            finally:
                in_hand.discard(entry_id)
                slots.release()

        async with anyio.create_task_group() as tasks:
            while True:
                for _ in range(want):
                    await slots.acquire()
                idle: int | None = None  # claim entries idle this long, every few seconds
                if time.monotonic() - last_claim >= min(self.claim_after, 5.0):
                    idle, last_claim = claim_ms, time.monotonic()
                try:
                    keys = (stream, retries, schedule)
                    entries = await self._next(promote, keys, group, consumer, want, idle)
                finally:
                    for _ in range(want):
                        slots.release()
                for key, entry_id, fields in entries:
                    if entry_id in in_hand:
                        continue
                    await slots.acquire()  # a read of both streams may bring up to 2 * want
                    in_hand.add(entry_id)
                    tasks.start_soon(handle, key, entry_id, fields)

    async def _next(self, promote: AsyncScript, keys: tuple[str, str, str], group: str,
                    consumer: str, count: int,
                    claim_ms: int | None) -> list[tuple[str, bytes, Fields]]:  # fmt: skip
        """Due retries promoted, then entries idle for `claim_ms` claimed (when given), else
        up to `count` new entries of each stream (waiting at most until the next retry is
        due)."""
        stream, retries, schedule = keys
        await promote(keys=[schedule, retries], args=[time.time()])
        entries: list[tuple[str, bytes, Fields]] = []
        if claim_ms is not None:
            for key in (stream, retries):
                reply: Any = await self.redis.xautoclaim(
                    key, group, consumer, min_idle_time=claim_ms, start_id="0-0", count=count
                )
                entries += [(key, entry_id, fields) for entry_id, fields in reply[1] if fields]
            if entries:
                return entries
        read: Any = await self.redis.xreadgroup(
            group, consumer, {stream: ">", retries: ">"}, count=count,
            block=await self._block_ms(schedule),
        )  # fmt: skip
        for key, got in read or []:
            name = key.decode() if isinstance(key, bytes) else key
            entries += [(name, entry_id, fields) for entry_id, fields in got]
        return entries

    async def _block_ms(self, schedule: str) -> int:
        """Wait for new entries at most until the next retry is due (and at most 1 s)."""
        nearest: Any = await self.redis.zrange(schedule, 0, 0, withscores=True)
        if not nearest:
            return 1000
        wait = float(nearest[0][1]) - time.time()
        return max(5, min(1000, round(wait * 1000)))

    async def _handle(self, key: str, group: str, topic: str, entry_id: bytes, fields: Fields,
                      handler: Handler, policy: RetryPolicy) -> None:  # fmt: skip
        body = fields[b"body"] if b"body" in fields else base64.b64decode(fields[b"b64"])
        headers: dict[str, str] = json.loads(fields.get(b"headers", b"{}"))
        attempt = int(fields.get(b"attempt", b"1"))
        delivery = Delivery(fields[b"id"].decode(), topic, body, attempt, headers)
        retries, schedule, dlq = self._keys(topic, group)
        async with self.redis.pipeline(transaction=True) as pipe:
            try:
                await handler(delivery)
            except Exception as error:
                if attempt >= policy.max_attempts:
                    log.warning("broker.dead_letter", topic=topic, group=group,
                                message_id=delivery.message_id, attempts=attempt,
                                error=str(error))  # fmt: skip
                    pipe.xadd(dlq, {
                        "id": delivery.message_id, "b64": base64.b64encode(body),
                        "attempt": str(attempt), "headers": json.dumps(headers),
                        "error": f"{type(error).__name__}: {error}",
                        "failed_at": dt.datetime.now(dt.UTC).isoformat(),
                    })  # fmt: skip
                else:
                    delay = policy.delay(attempt)
                    log.info("broker.retry", topic=topic, group=group, attempt=attempt,
                             message_id=delivery.message_id, delay=delay,
                             error=str(error))  # fmt: skip
                    member = json.dumps({
                        "id": delivery.message_id, "b64": base64.b64encode(body).decode(),
                        "attempt": str(attempt + 1), "headers": json.dumps(headers),
                        "nonce": uuid.uuid4().hex,
                    })  # fmt: skip
                    pipe.zadd(schedule, {member: time.time() + delay})
            pipe.xack(key, group, entry_id)
            if key == retries:
                pipe.xdel(key, entry_id)
            await pipe.execute()

    async def dead_letters(self, topic: str, group: str, *, limit: int = 100) -> list[DeadLetter]:
        entries: Any = await self.redis.xrange(self._keys(topic, group)[2], count=limit)
        return [
            DeadLetter(
                message_id=fields[b"id"].decode(),
                topic=topic,
                body=base64.b64decode(fields[b"b64"]),
                attempts=int(fields[b"attempt"]),
                error=fields[b"error"].decode(),
                failed_at=dt.datetime.fromisoformat(fields[b"failed_at"].decode()),
            )
            for _, fields in entries
        ]

    async def ping(self) -> None:
        try:
            await self.redis.ping()
        except RedisError as error:
            raise BrokerError(f"cannot reach Redis: {error}") from error

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
        self._redis = None
