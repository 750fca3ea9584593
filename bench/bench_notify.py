"""Notify throughput: a broadcast to generated accounts, through the broker, next to the bare
rate of the same work without it, measured in the same run.

- In-app: deliveries/s of a broadcast's fan-out (notification, inbox and delivery rows per
  recipient, in chunks) run by the worker through the broker, next to the same chunk writes
  called in a loop. Goal: >= 10,000/s.
- Email: emails/s of a broadcast delivered by the worker (broker messages, a batch claimed in
  one statement, rendered, sent over the pool of reused SMTP connections, recorded in one
  statement) to a local SMTP server (aiosmtpd's own command, in its own process, discarding
  what it gets), next to bare aiosmtplib sends of one rendered message over as many
  connections (no database, no rendering, no broker). Goal: >= 300/s.

The broker is the embedded Redis (Streams), and RabbitMQ too when it answers on
KINOTEKA_TEST_RABBITMQ_URL (default amqp://guest:guest@127.0.0.1:5672/).
Scale: KINOTEKA_BENCH_NOTIFY_ACCOUNTS (default 100,000) and KINOTEKA_BENCH_NOTIFY_EMAILS
(default 3,000); KINOTEKA_BENCH_NOTIFY_CHUNK (default: the setting's broadcast_chunk).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import aio_pika
from sqlalchemy import text

from bench.fixtures import migrated_database, postgres_server
from kinoteka.infra import db as db_port
from kinoteka.infra.broker.rabbitmq import RabbitBroker
from kinoteka.infra.cache.embedded import EmbeddedRedis
from kinoteka.logs import configure_logging
from kinoteka.notify.broadcasts import Audience, audience_page, create_broadcast, write_chunk
from kinoteka.notify.kit import NotifyKit, build_notify_kit
from kinoteka.notify.mail import Mailer, build_message
from kinoteka.notify.models import AudienceKind, Broadcast, Kind
from kinoteka.notify.rendering import render
from kinoteka.notify.settings import NotifySettings
from kinoteka.notify.worker import declare, run_worker
from kinoteka.settings import LogSettings, Settings

ACCOUNTS = int(os.environ.get("KINOTEKA_BENCH_NOTIFY_ACCOUNTS", "100000"))
EMAILS = int(os.environ.get("KINOTEKA_BENCH_NOTIFY_EMAILS", "3000"))
RABBITMQ = os.environ.get("KINOTEKA_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
CHUNK = int(os.environ.get("KINOTEKA_BENCH_NOTIFY_CHUNK", NotifySettings().broadcast_chunk))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _rabbitmq_up() -> bool:
    parts = urlsplit(RABBITMQ)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), 2).close()
    except OSError:
        return False
    return True


async def _accounts(kit: NotifyKit, count: int, email_off: bool) -> None:
    async with kit.db.session() as session:
        await session.execute(text("TRUNCATE auth.users CASCADE"))
        await session.execute(text(
            "INSERT INTO auth.users (id, email, is_active, failed_logins)"
            " SELECT gen_random_uuid(), 'viewer' || n || '@bench.local', true, 0"
            " FROM generate_series(1, :n) AS n"), {"n": count})  # fmt: skip
        await session.execute(text("TRUNCATE notify.preference, notify.broadcast CASCADE"))
        if email_off:
            await session.execute(text(
                "INSERT INTO notify.preference SELECT id, 'announcement', 'email', false"
                " FROM auth.users"))  # fmt: skip


async def _broadcast(kit: NotifyKit) -> uuid.UUID:
    async with kit.db.session() as session:
        broadcast = await create_broadcast(
            session, subject="Dune: Part Three is out", body="Watch it tonight.\n\nIn 4K.",
            audience=Audience(AudienceKind.EVERYONE), send_at=None, created_by=None,
        )  # fmt: skip
        return broadcast.id


async def _wait(kit: NotifyKit, query: str, target: int, params: dict[str, object],
                every: float) -> float:  # fmt: skip
    started = time.perf_counter()
    deadline = started + 3600
    while True:
        async with kit.db.session() as session:
            value = await session.scalar(text(query), params)
        if (value or 0) >= target:
            return time.perf_counter() - started
        assert time.perf_counter() < deadline, "the broadcast did not finish"
        await asyncio.sleep(every)


_SENT = (
    "SELECT count(*) FROM notify.delivery d JOIN notify.notification n"
    " ON n.id = d.notification_id WHERE n.broadcast_id = :b AND d.channel = :c"
    " AND d.status = 'sent'"
)


async def _bare_inapp(kit: NotifyKit) -> float:
    """The same chunk writes, called in a loop: no broker, no worker."""
    broadcast_id = await _broadcast(kit)
    started = time.perf_counter()
    after: uuid.UUID | None = None
    while True:
        async with kit.db.session() as session:
            broadcast = await session.get(Broadcast, broadcast_id)
            assert broadcast is not None
            page = await audience_page(session, broadcast, after, CHUNK)
            await write_chunk(session, kit, broadcast, page.people)
        if page.last:
            break
        after = page.cursor
    return ACCOUNTS / (time.perf_counter() - started)


async def _through_broker(kit: NotifyKit, count: int, channel: str) -> float:
    broadcast_id = await _broadcast(kit)
    worker = asyncio.create_task(run_worker(kit))
    params = {"b": broadcast_id, "c": channel}
    try:
        if channel == "inbox":
            # In-app deliveries are written with their chunk, so the broadcast is done when
            # the last chunk commits; polling its row (not counting 100,000 rows 20 times a
            # second) keeps the measurement from loading the database it measures.
            done = "SELECT count(*) FROM notify.broadcast WHERE id = :b AND status = 'done'"
            seconds = await _wait(kit, done, 1, params, every=0.05)
        else:
            seconds = await _wait(kit, _SENT, count, params, every=0.1)
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
    async with kit.db.session() as session:
        sent = await session.scalar(text(_SENT), params)
    assert sent == count, f"{sent} of {count} {channel} deliveries sent"
    return count / seconds


async def _bare_email(settings: NotifySettings, count: int) -> float:
    rendered = render(Kind.ANNOUNCEMENT, "en", {"subject": "Dune", "body": "Watch it.",
                                                "unsubscribe_url": "http://x/u"})  # fmt: skip
    mailer = Mailer(settings)
    limit = asyncio.Semaphore(64)

    async def one(number: int) -> None:
        async with limit:
            await mailer.send(build_message(
                sender=settings.mail_from, recipient=f"viewer{number}@bench.local",
                subject=rendered.subject, text=rendered.text, html=rendered.html))  # fmt: skip

    started = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(count)))
    seconds = time.perf_counter() - started
    await mailer.close()
    return count / seconds


async def _measure(report: Callable[[str], None], database: str, redis_url: str,
                   broker: str, smtp_port: int) -> None:  # fmt: skip
    notify = NotifySettings(
        broker_url=None if broker == "redis" else RABBITMQ,
        broker_prefix=f"bench-{uuid.uuid4().hex[:8]}", smtp_port=smtp_port,
        poll_interval=0.05, broadcast_chunk=CHUNK,
    )  # fmt: skip
    secret = "bench-secret-key-bench-secret-key"  # noqa: S105 - a throwaway deployment
    settings = Settings(notify=notify, secret_key=secret)
    db = db_port.from_url(database, pool_size=20)
    kit = build_notify_kit(settings, db, redis_url)
    try:
        await declare(kit)
        await _accounts(kit, ACCOUNTS, email_off=True)
        bare = await _bare_inapp(kit)
        await _accounts(kit, ACCOUNTS, email_off=True)
        rate = await _through_broker(kit, ACCOUNTS, "inbox")
        report(
            f"[{broker}] in-app deliveries: {rate:,.0f}/s through the broker, "
            f"bare {bare:,.0f}/s ({rate / bare:.2f}x); goal >= 10,000/s"
        )
        bare_mail = await _bare_email(notify, EMAILS)
        await _accounts(kit, EMAILS, email_off=False)
        mail = await _through_broker(kit, EMAILS, "email")
        report(
            f"[{broker}] emails: {mail:,.0f}/s through the broker, "
            f"bare aiosmtplib {bare_mail:,.0f}/s ({mail / bare_mail:.2f}x); goal >= 300/s"
        )
    finally:
        await kit.close()
        await db.close()
        await _delete_declared(kit)


async def _delete_declared(kit: NotifyKit) -> None:
    """Leave the shared RabbitMQ as it was."""
    if not isinstance(kit.broker, RabbitBroker):
        return
    connection = await aio_pika.connect(kit.broker.url)
    try:
        channel = await connection.channel()
        for name in sorted(kit.broker.declared):
            await channel.queue_delete(name)
        await channel.exchange_delete(kit.broker.prefix)
    finally:
        await connection.close()


@contextmanager
def _smtp_server(port: int) -> Iterator[None]:
    """A local SMTP server in its own process, as a real one would be (not a thread of this
    one, where it would share the interpreter with the worker it measures)."""
    server = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink",
         "-l", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                assert server.poll() is None, "the SMTP server did not start"
                assert time.monotonic() < deadline, "the SMTP server did not answer"
                time.sleep(0.1)
        yield
    finally:
        server.terminate()
        server.wait(10)


def run(report: Callable[[str], None]) -> None:
    configure_logging(LogSettings(level=os.environ.get("KINOTEKA_BENCH_LOG_LEVEL", "WARNING")))
    port = _free_port()
    report(f"{ACCOUNTS:,} accounts for in-app, {EMAILS:,} for email, chunks of {CHUNK}")
    with _smtp_server(port), tempfile.TemporaryDirectory(prefix="kinoteka-bench-redis-") as \
            directory, postgres_server() as server:  # fmt: skip
        redis = EmbeddedRedis(Path(directory) / "redis")
        redis_url = redis.start()
        try:
            brokers = ["redis", "rabbitmq"] if _rabbitmq_up() else ["redis"]
            for broker in brokers:
                with migrated_database(server) as database:
                    asyncio.run(_measure(report, database, redis_url, broker, port))
        finally:
            redis.stop()
