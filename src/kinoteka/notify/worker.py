"""The notify worker: the broker's consumers plus three small loops.

- consumers: auth's account events, `notify.email` (one SMTP send per message) and
  `notify.broadcast` (one fan-out step per message), each retried with backoff and parked in
  the dead-letter queue after `max_attempts`;
- the outbox relay: auth's recorded events to the broker;
- the scheduler: broadcasts whose time came are started;
- the sweeper: email deliveries still queued long after their message should have run (the
  process died between its commit and its publish), or claimed by a sender longer than the
  claim's lease (the sender died mid-send), are queued and published again; sending is
  idempotent, so a spare message costs nothing.

`kinoteka notify worker` runs it alone; `kinoteka up` runs it beside the API.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Awaitable, Callable

import anyio
import structlog

from kinoteka import auth
from kinoteka.infra.broker import Delivery as BrokerDelivery
from kinoteka.infra.outage import StoreUnavailable
from kinoteka.notify import repository
from kinoteka.notify.broadcasts import handle_broadcast_step, start_due_broadcasts
from kinoteka.notify.kit import BROADCAST_TOPIC, EMAIL_TOPIC, GROUP, NotifyKit
from kinoteka.notify.service import (
    EVENT_KINDS,
    handle_account_event,
    handle_email,
    publish_emails,
)

log = structlog.get_logger(__name__)

SWEEP_EVERY = 60.0


async def declare(kit: NotifyKit) -> None:
    """The worker's queues, so nothing published before it first consumes is dropped."""
    for topic in (*EVENT_KINDS, EMAIL_TOPIC, BROADCAST_TOPIC):
        await kit.broker.declare(topic, GROUP)


async def relay_outbox(kit: NotifyKit) -> int:
    async def publish(topic: str, body: bytes, message_id: str) -> None:
        await kit.broker.publish(topic, body, message_id=message_id)

    total = 0
    while published := await auth.relay_account_events(kit.db, publish):
        total += published
    return total


async def sweep_stale_emails(kit: NotifyKit, queued_for: float, claimed_for: float) -> int:
    """Publish again the email deliveries queued for `queued_for` seconds or claimed for
    `claimed_for` without being sent since (their message or their sender was lost)."""
    now = dt.datetime.now(dt.UTC)
    async with kit.db.session() as session:
        stale = await repository.stale_emails(
            session, now - dt.timedelta(seconds=queued_for),
            now - dt.timedelta(seconds=claimed_for), limit=5000,
        )  # fmt: skip
        await repository.touch_deliveries(session, stale)
    await publish_emails(kit, stale)
    if stale:
        log.info("notify.swept", emails=len(stale))
    return len(stale)


async def _pace(kit: NotifyKit) -> None:
    last_sweep = time.monotonic()
    # Queued: older than the longest backoff (a delivery waiting for its retry is not stale).
    # Claimed: older than a claim's lease (a claim younger than that still has a sender). A
    # short lease is swept as often as it lapses.
    queued_for = max(300.0, 2 * kit.settings.retry_max_delay, kit.settings.send_lease)
    claimed_for = kit.settings.send_lease
    sweep_every = min(SWEEP_EVERY, claimed_for / 2)
    while True:
        try:
            await relay_outbox(kit)
            await start_due_broadcasts(kit)
            if time.monotonic() - last_sweep >= sweep_every:
                last_sweep = time.monotonic()
                await sweep_stale_emails(kit, queued_for, claimed_for)
        except StoreUnavailable as error:  # an outage: one line per pass, no traceback
            log.warning("notify.loop_failed", store=error.store, error=str(error))
        except Exception:
            log.exception("notify.loop_failed")  # the next pass tries again
        await anyio.sleep(kit.settings.poll_interval)


Handler = Callable[[NotifyKit, BrokerDelivery], Awaitable[None]]


async def _consume(kit: NotifyKit, topic: str, handler: Handler) -> None:
    """Consume `topic` for good: a lost broker connection is retried with backoff."""

    async def handle(message: BrokerDelivery) -> None:
        await handler(kit, message)

    pause = 0.5
    while True:
        started = time.monotonic()
        try:
            await kit.broker.consume(topic, GROUP, handle, retry=kit.retry)
        except Exception as error:
            log.warning("notify.consumer_failed", topic=topic, error=str(error), retry_in=pause)
        pause = 0.5 if time.monotonic() - started > 60 else min(pause * 2, 30.0)
        await anyio.sleep(pause)


async def run_worker(kit: NotifyKit) -> None:
    """Run every consumer and loop until cancelled."""
    await declare(kit)
    log.info("notify.worker_started")
    async with anyio.create_task_group() as tasks:
        for topic in EVENT_KINDS:
            tasks.start_soon(_consume, kit, topic, handle_account_event)
        tasks.start_soon(_consume, kit, EMAIL_TOPIC, handle_email)
        tasks.start_soon(_consume, kit, BROADCAST_TOPIC, handle_broadcast_step)
        tasks.start_soon(_pace, kit)
