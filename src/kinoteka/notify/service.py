"""Notify use cases: turn account events into notifications, send email deliveries, and the
account's own inbox and preferences.

A notification is created once per idempotency key (`event:<message id>` for an account
event, `broadcast:<id>:<user>` for a broadcast) with one delivery row per channel (unique per
notification and channel). The in-app delivery is the inbox row, written with the
notification; an email delivery is queued and its id published on `notify.email`, where
`send_email` claims and sends it (in batches, `sending.py`) unless it is already sent or
claimed, so a redelivered message sends nothing twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import orjson
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from kinoteka.auth import AccountEvent
from kinoteka.infra.broker import Delivery as BrokerDelivery
from kinoteka.notify import repository
from kinoteka.notify.errors import InboxItemNotFound, InvalidUnsubscribeLink, SecurityMessages
from kinoteka.notify.kit import EMAIL_TOPIC, NotifyKit
from kinoteka.notify.mail import OutgoingMail, build_message
from kinoteka.notify.models import Channel, Delivery, DeliveryStatus, Kind, Notification
from kinoteka.notify.recipients import mail_locale
from kinoteka.notify.rendering import Rendered, render

log = structlog.get_logger(__name__)

EVENT_KINDS: dict[str, Kind] = {
    AccountEvent.CREATED: Kind.WELCOME,
    AccountEvent.PASSWORD_RESET_REQUESTED: Kind.PASSWORD_RESET,
    AccountEvent.PASSWORD_CHANGED: Kind.PASSWORD_CHANGED,
    AccountEvent.NEW_DEVICE_SIGN_IN: Kind.NEW_DEVICE,
}
# A reset link is a credential: it goes to the mailbox only, never to the inbox.
CHANNELS: dict[Kind, tuple[Channel, ...]] = {
    Kind.WELCOME: (Channel.EMAIL, Channel.INBOX),
    Kind.PASSWORD_RESET: (Channel.EMAIL,),
    Kind.PASSWORD_CHANGED: (Channel.EMAIL, Channel.INBOX),
    Kind.NEW_DEVICE: (Channel.EMAIL, Channel.INBOX),
    Kind.ANNOUNCEMENT: (Channel.EMAIL, Channel.INBOX),
}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def render_notification(
    kit: NotifyKit, notification: Notification, unsubscribe_url: str | None = None
) -> Rendered:
    values: dict[str, Any] = {"email": notification.email, **notification.data}
    if notification.kind is Kind.ANNOUNCEMENT:
        values["unsubscribe_url"] = unsubscribe_url or kit.unsubscribe_url(
            notification.user_id, Kind.ANNOUNCEMENT
        )
    return render(notification.kind, notification.locale, values)


def compose_email(
    kit: NotifyKit, notification: Notification, delivery_id: uuid.UUID
) -> OutgoingMail:
    headers: dict[str, str] = {}
    url = None
    if notification.kind is Kind.ANNOUNCEMENT:
        # RFC 8058 one-click unsubscribe: mail clients POST to the URL (the body's link too).
        url = kit.unsubscribe_url(notification.user_id, Kind.ANNOUNCEMENT)
        headers["List-Unsubscribe"] = f"<{url}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    rendered = render_notification(kit, notification, url)
    return build_message(
        sender=kit.settings.mail_from, recipient=notification.email, subject=rendered.subject,
        text=rendered.text, html=rendered.html, message_id=f"<{delivery_id}@kinoteka>",
        headers=headers,
    )  # fmt: skip


PUBLISH_WINDOW = 256
"""Email messages published at once: confirms are awaited together, not one round trip each
(a broadcast chunk's thousand emails took seconds one by one on RabbitMQ)."""


async def publish_emails(kit: NotifyKit, delivery_ids: list[uuid.UUID]) -> None:
    for start in range(0, len(delivery_ids), PUBLISH_WINDOW):
        await asyncio.gather(*(
            kit.broker.publish(EMAIL_TOPIC, str(delivery_id).encode(), message_id=str(delivery_id))
            for delivery_id in delivery_ids[start : start + PUBLISH_WINDOW]
        ))  # fmt: skip


async def handle_account_event(kit: NotifyKit, message: BrokerDelivery) -> None:
    """An auth event: its notification, deliveries and inbox item; its email queued."""
    kind = EVENT_KINDS.get(message.topic)
    if kind is None:
        log.warning("notify.unknown_event", topic=message.topic)
        return
    payload: dict[str, str] = orjson.loads(message.body)
    user_id = uuid.UUID(payload["user_id"])
    email = payload["email"]
    key = f"event:{message.message_id}"
    async with kit.db.session() as session:
        locale = (await repository.locales(session, [user_id])).get(
            user_id, kit.settings.default_locale
        )
        ids = await repository.add_notifications(session, [{
            "id": uuid.uuid4(), "idempotency_key": key, "kind": kind, "user_id": user_id,
            "email": email, "locale": locale, "data": payload, "broadcast_id": None,
        }])  # fmt: skip
        notification_id = ids[key]
        channels = CHANNELS[kind]
        await repository.add_deliveries(session, [
            {"id": uuid.uuid4(), "notification_id": notification_id, "channel": channel,
             "status": DeliveryStatus.QUEUED if channel is Channel.EMAIL else DeliveryStatus.SENT,
             "attempts": 0 if channel is Channel.EMAIL else 1,
             "sent_at": None if channel is Channel.EMAIL else _now()}
            for channel in channels
        ])  # fmt: skip
        if Channel.INBOX in channels:
            rendered = render(kind, locale, {"email": email, **payload})
            await repository.add_inbox_items(session, [{
                "id": uuid.uuid4(), "notification_id": notification_id, "user_id": user_id,
                "kind": kind, "title": rendered.subject, "body": rendered.text, "link": None,
            }])  # fmt: skip
        queued = await repository.queued_email_deliveries(session, [notification_id])
    await publish_emails(kit, queued)
    log.info("notify.event", kind=str(kind), user_id=str(user_id), emails=len(queued))


async def send_email(kit: NotifyKit, delivery_id: uuid.UUID, attempt: int) -> None:
    """Send one queued email delivery (batched with those handled at the same moment: see
    `kinoteka.notify.sending`); a failure is recorded on the row and raised, and on the last
    attempt the delivery is marked failed (the broker parks the message)."""
    await kit.sender.send(kit, delivery_id, attempt, compose_email)


async def handle_email(kit: NotifyKit, message: BrokerDelivery) -> None:
    try:
        delivery_id = uuid.UUID(message.body.decode())
    except ValueError:
        log.warning("notify.bad_email_message", message_id=message.message_id)
        return
    await send_email(kit, delivery_id, message.attempt)


# The account's side


async def locale(session: AsyncSession, kit: NotifyKit, user_id: uuid.UUID) -> str:
    return await mail_locale(session, user_id, kit.settings.default_locale)


async def preferences(
    session: AsyncSession, user_id: uuid.UUID
) -> dict[tuple[Kind, Channel], bool]:
    """Every (kind, channel) an account can get, and whether it is on."""
    chosen = await repository.preferences(session, user_id)
    return {
        (kind, channel): True if kind.security else chosen.get((kind, channel), True)
        for kind, channels in CHANNELS.items()
        for channel in channels
    }


async def set_preference(
    session: AsyncSession, user_id: uuid.UUID, kind: Kind, channel: Channel, enabled: bool
) -> None:
    if kind.security and not enabled:
        raise SecurityMessages(f"{kind.value}: security messages cannot be turned off")
    await repository.set_preference(session, user_id, kind, channel, enabled)
    await session.flush()


async def unsubscribe(session: AsyncSession, kit: NotifyKit, token: str) -> Kind:
    """One-click unsubscribe: the token's kind stops coming by email."""
    found = kit.read_unsubscribe_token(token)
    if found is None or found[1].security:
        raise InvalidUnsubscribeLink("the unsubscribe link is invalid")
    user_id, kind = found
    await repository.set_preference(session, user_id, kind, Channel.EMAIL, False)
    await session.flush()
    log.info("notify.unsubscribed", user_id=str(user_id), kind=str(kind))
    return kind


async def mark_read(session: AsyncSession, user_id: uuid.UUID, item_id: uuid.UUID | None) -> None:
    changed = await repository.mark_read(session, user_id, item_id)
    if (
        item_id is not None
        and not changed
        and not await repository.inbox_item_exists(session, user_id, item_id)
    ):
        raise InboxItemNotFound("no such inbox item")
    await session.flush()


def delivery_summary(delivery: Delivery) -> dict[str, Any]:
    return {"id": str(delivery.id), "channel": str(delivery.channel),
            "status": str(delivery.status), "attempts": delivery.attempts}  # fmt: skip
