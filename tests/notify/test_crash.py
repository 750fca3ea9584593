"""A worker killed with `kill -9` in the middle of sending: RabbitMQ hands the message to the
next worker, which leaves the delivery to the dead worker's claim (without holding up other
mail); once the claim has lapsed (`send_lease`) the sweeper queues it again and it is sent:
the mail goes out once (the SMTP server never accepted the half-sent copy)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import AsyncIterator

import orjson
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import text

from kinoteka.auth import AccountEvent
from kinoteka.infra import db as db_port
from kinoteka.notify.kit import NotifyKit, build_notify_kit
from kinoteka.notify.worker import declare, run_worker
from kinoteka.settings import Settings
from tests.contract.rabbitmq import delete_declared
from tests.contract.test_broker_contract import rabbitmq_url
from tests.notify.conftest import SmtpServer, eventually, notify_settings

pytestmark = pytest.mark.slow


@pytest.fixture
def settings(smtp: SmtpServer) -> Settings:
    return notify_settings(
        smtp.port, broker_url=rabbitmq_url(), broker_prefix=f"crash-{uuid.uuid4().hex[:8]}",
        smtp_timeout=30.0, send_lease=4.0,
    )  # fmt: skip


@pytest.fixture
async def kit(
    settings: Settings, fresh_database: str, flushed_redis: str
) -> AsyncIterator[NotifyKit]:
    db = db_port.from_url(fresh_database)
    built = build_notify_kit(settings, db, flushed_redis)
    await declare(built)
    yield built
    await built.close()
    await db.close()
    await delete_declared(built.broker)


def spawn_worker(settings: Settings, database_url: str, redis_url: str) -> subprocess.Popen[bytes]:
    n = settings.notify
    env = {
        **os.environ,
        "KINOTEKA_DATABASE_URL": database_url,
        "KINOTEKA_REDIS_URL": redis_url,
        "KINOTEKA_SECRET_KEY": settings.secret_key.get_secret_value(),
        "KINOTEKA_NOTIFY__BROKER_URL": n.broker_url or "",
        "KINOTEKA_NOTIFY__BROKER_PREFIX": n.broker_prefix,
        "KINOTEKA_NOTIFY__SMTP_PORT": str(n.smtp_port),
        "KINOTEKA_NOTIFY__SMTP_TIMEOUT": "30",
        "KINOTEKA_NOTIFY__POLL_INTERVAL": "0.05",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "kinoteka", "notify", "worker"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


async def test_a_worker_killed_mid_send_sends_once_after_redelivery(
    kit: NotifyKit, smtp: SmtpServer, settings: Settings, fresh_database: str,
    flushed_redis: str, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    hold = threading.Event()
    entered = threading.Event()
    smtp.mailbox.hold = hold
    original = smtp.mailbox.handle_DATA

    async def holding(server: SMTP, session: Session, envelope: Envelope) -> str:
        entered.set()
        return await original(server, session, envelope)

    monkeypatch.setattr(smtp.mailbox, "handle_DATA", holding)
    address = f"crash-{uuid.uuid4().hex[:8]}@example.com"
    event = orjson.dumps({
        "user_id": str(uuid.uuid4()), "email": address, "device": "web", "user_agent": "x",
        "ip": "", "at": "2026-12-04T10:00:00+00:00",
    })  # fmt: skip
    await kit.broker.publish(AccountEvent.NEW_DEVICE_SIGN_IN, event, message_id="crash-1")

    worker = spawn_worker(settings, fresh_database, flushed_redis)
    try:
        await eventually(entered.is_set, seconds=60)  # mid-send: the DATA is on the wire
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)
    smtp.mailbox.hold = None
    hold.set()  # the dead worker's half-sent copy is refused, never accepted

    task = asyncio.create_task(run_worker(kit))
    try:
        await eventually(lambda: smtp.mailbox.to(address), seconds=30)

        async def sent() -> bool:
            async with kit.db.session() as session:
                status: str | None = await session.scalar(text(
                    "SELECT d.status FROM notify.delivery d JOIN notify.notification n"
                    " ON n.id = d.notification_id WHERE n.email = :e AND d.channel = 'email'"
                ), {"e": address})  # fmt: skip
            return status == "sent"

        await eventually(sent)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert len(smtp.mailbox.to(address)) == 1
