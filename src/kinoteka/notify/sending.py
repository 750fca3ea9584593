"""Email deliveries sent in batches, with no database transaction open across SMTP.

The broker hands the worker up to a batch of `notify.email` messages at once and runs their
handlers concurrently; `EmailBatcher` gathers the handlers that arrive together and sends
their deliveries as one batch:

1. claim, one statement and a short transaction: every delivery of the batch still `queued`
   (or `sending` for longer than `send_lease`: its sender died) becomes `sending`, its attempt
   counted; a delivery already sent, failed, or in another sender's hands is skipped, so a
   redelivered message sends nothing twice. One in another sender's hands is left to it and
   its message acknowledged: that sender sends it, or, if it died, the worker's sweeper
   queues and publishes the delivery again once the claim's lease has lapsed. (Waiting here
   for the claim would hold the broker's slots: after a crash every slot would end up waiting
   out the dead sender's lease, and no other mail would move.)
2. send the claimed messages over the mailer's pool of reused SMTP connections;
3. record every result in one statement: `sent`, or the error with the delivery back to
   `queued` (retried by the broker with backoff), or `failed` on the message's last attempt
   (the broker then parks it in the dead-letter queue).

Each handler then returns (the broker acknowledges its message) or raises its delivery's
error. A sender killed between 1 and 3 leaves its deliveries `sending`; the broker redelivers
the unacknowledged messages, and once `send_lease` has passed the deliveries are claimed again
(by a redelivered message, or by the sweeper's).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog

from kinoteka.notify import repository
from kinoteka.notify.mail import MailError, OutgoingMail

if TYPE_CHECKING:
    from kinoteka.notify.kit import NotifyKit
    from kinoteka.notify.models import Notification

Compose = Callable[["NotifyKit", "Notification", uuid.UUID], OutgoingMail]
"""Renders a delivery's message (`service.compose_email`)."""

log = structlog.get_logger(__name__)

GATHER_STEP = 0.005
GATHER_MAX = 0.05
"""The first handler of a burst waits for the rest of the broker's batch: while more keep
arriving, in steps of `GATHER_STEP` seconds, for at most `GATHER_MAX` (or a full batch)."""


@dataclass
class _Waiting:
    delivery_id: uuid.UUID
    attempt: int
    done: asyncio.Future[None]


@dataclass
class EmailBatcher:
    pending: list[_Waiting] = field(default_factory=list)

    async def send(
        self, kit: NotifyKit, delivery_id: uuid.UUID, attempt: int, compose: Compose
    ) -> None:
        """Send one queued email delivery, together with those handled at the same moment;
        raises the delivery's error when it was not sent."""
        waiting = _Waiting(delivery_id, attempt, asyncio.get_running_loop().create_future())
        self.pending.append(waiting)
        if len(self.pending) == 1:  # the first of a burst sends it
            waited, seen = 0.0, 0
            while seen < len(self.pending) < kit.settings.send_batch and waited < GATHER_MAX:
                seen = len(self.pending)
                await asyncio.sleep(GATHER_STEP)
                waited += GATHER_STEP
            batch, self.pending = self.pending, []
            try:
                for start in range(0, len(batch), kit.settings.send_batch):
                    await send_batch(kit, batch[start : start + kit.settings.send_batch], compose)
            finally:
                for other in batch:  # cancelled or failed midway: the rest are retried
                    if not other.done.done():
                        other.done.set_exception(MailError("the sender stopped before sending"))
        await waiting.done


async def send_batch(kit: NotifyKit, batch: list[_Waiting], compose: Compose) -> None:
    """Claim, send and record one batch (see the module docstring); resolve each waiter."""
    attempts: dict[uuid.UUID, int] = {}
    for item in batch:
        attempts[item.delivery_id] = max(item.attempt, attempts.get(item.delivery_id, 0))
    async with kit.db.session() as session:
        claimed = await repository.claim_emails(session, list(attempts), kit.settings.send_lease)
    errors = await _send_and_record(kit, claimed, attempts, compose) if claimed else {}
    for item in batch:
        error = errors.get(item.delivery_id)
        if error is not None:
            item.done.set_exception(error)
        else:  # sent now, already sent or failed, or in another sender's hands
            item.done.set_result(None)


async def _send_and_record(
    kit: NotifyKit, claimed: list[tuple[uuid.UUID, Notification]], attempts: dict[uuid.UUID, int],
    compose: Compose,
) -> dict[uuid.UUID, BaseException]:  # fmt: skip
    outcomes: list[object] = []
    ready: list[tuple[int, OutgoingMail]] = []
    for index, (delivery_id, notification) in enumerate(claimed):
        try:
            ready.append((index, compose(kit, notification, delivery_id)))
            outcomes.append(None)
        except Exception as error:  # this delivery's data cannot make a message
            outcomes.append(error)
    sends = asyncio.gather(*(kit.mailer.send(message) for _, message in ready),
                           return_exceptions=True)  # fmt: skip
    try:
        # A live sender never keeps a claim past half its lease, so a claim older than the
        # lease can only be a dead sender's.
        sent: list[object] = list(await asyncio.wait_for(sends, kit.settings.send_lease / 2))
    except TimeoutError:
        sent = [MailError("SMTP: the batch ran out of time")] * len(ready)
    for (index, _), outcome in zip(ready, sent, strict=True):
        outcomes[index] = outcome
    errors: dict[uuid.UUID, BaseException] = {}
    results: list[tuple[uuid.UUID, str, str | None]] = []
    for (delivery_id, _), outcome in zip(claimed, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            errors[delivery_id] = outcome
            last = attempts[delivery_id] >= kit.settings.max_attempts
            text = f"{type(outcome).__name__}: {outcome}"[:2000]
            results.append((delivery_id, "failed" if last else "queued", text))
            if last:
                log.warning("notify.email_failed", delivery_id=str(delivery_id), error=text)
        else:
            results.append((delivery_id, "sent", None))
    async with kit.db.session() as session:
        await repository.record_emails(session, results)
    return errors
