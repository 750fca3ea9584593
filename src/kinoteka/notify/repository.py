"""The notify context's queries."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import and_, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from kinoteka.notify.models import (
    Broadcast,
    BroadcastStatus,
    Channel,
    Delivery,
    DeliveryStatus,
    InboxItem,
    Kind,
    Notification,
    Preference,
    Recipient,
)

INBOX_CHANNEL = "kinoteka_notify_inbox"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def set_locale(session: AsyncSession, user_id: uuid.UUID, locale: str) -> None:
    statement = insert(Recipient).values(user_id=user_id, locale=locale)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[Recipient.user_id], set_={"locale": locale, "updated": func.now()}
        )
    )


async def locales(session: AsyncSession, user_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = await session.execute(
        select(Recipient.user_id, Recipient.locale).where(Recipient.user_id.in_(user_ids))
    )
    return {row.user_id: row.locale for row in rows}


async def preferences(
    session: AsyncSession, user_id: uuid.UUID
) -> dict[tuple[Kind, Channel], bool]:
    rows = await session.scalars(select(Preference).where(Preference.user_id == user_id))
    return {(row.kind, row.channel): row.enabled for row in rows}


async def set_preference(
    session: AsyncSession, user_id: uuid.UUID, kind: Kind, channel: Channel, enabled: bool
) -> None:
    statement = insert(Preference).values(
        user_id=user_id, kind=kind, channel=channel, enabled=enabled
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[Preference.user_id, Preference.kind, Preference.channel],
            set_={"enabled": enabled},
        )
    )


async def opted_out(
    session: AsyncSession, user_ids: Sequence[uuid.UUID], kind: Kind
) -> set[tuple[uuid.UUID, Channel]]:
    """The (user, channel) pairs switched off for `kind` among `user_ids`."""
    rows = await session.execute(
        select(Preference.user_id, Preference.channel).where(
            Preference.user_id.in_(user_ids), Preference.kind == kind, ~Preference.enabled
        )
    )
    return {(row.user_id, row.channel) for row in rows}


async def add_notifications(
    session: AsyncSession, rows: list[dict[str, Any]]
) -> dict[str, uuid.UUID]:
    """Insert notifications (skipping idempotency keys already there); key → id of every row."""
    if not rows:
        return {}
    await session.execute(
        insert(Notification).on_conflict_do_nothing(index_elements=[Notification.idempotency_key]),
        rows,
    )
    keys = [row["idempotency_key"] for row in rows]
    found = await session.execute(
        select(Notification.idempotency_key, Notification.id).where(
            Notification.idempotency_key.in_(keys)
        )
    )
    return {row.idempotency_key: row.id for row in found}


async def add_deliveries(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(
            insert(Delivery).on_conflict_do_nothing(
                index_elements=[Delivery.notification_id, Delivery.channel]
            ),
            rows,
        )


async def add_inbox_items(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(
            insert(InboxItem).on_conflict_do_nothing(index_elements=[InboxItem.notification_id]),
            rows,
        )
        await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": INBOX_CHANNEL})


async def queued_email_deliveries(
    session: AsyncSession, notification_ids: Iterable[uuid.UUID]
) -> list[uuid.UUID]:
    ids = list(notification_ids)
    if not ids:
        return []
    rows = await session.scalars(
        select(Delivery.id).where(
            Delivery.notification_id.in_(ids),
            Delivery.channel == Channel.EMAIL,
            Delivery.status == DeliveryStatus.QUEUED,
        )
    )
    return list(rows)


async def lock_email_delivery(
    session: AsyncSession, delivery_id: uuid.UUID
) -> tuple[Delivery, Notification] | None:
    """The delivery and its notification, the delivery row locked; None when another worker
    holds it (a duplicate of the message is being handled) or it does not exist."""
    row = (
        await session.execute(
            select(Delivery, Notification)
            .join(Notification, Notification.id == Delivery.notification_id)
            .where(Delivery.id == delivery_id)
            .with_for_update(of=Delivery, skip_locked=True)
        )
    ).first()
    return (row[0], row[1]) if row is not None else None


async def stale_queued_emails(session: AsyncSession, older_than: dt.datetime,
                              limit: int) -> list[uuid.UUID]:  # fmt: skip
    rows = await session.scalars(
        select(Delivery.id).where(
            Delivery.channel == Channel.EMAIL,
            Delivery.status == DeliveryStatus.QUEUED,
            Delivery.updated < older_than,
        ).limit(limit)
    )  # fmt: skip
    return list(rows)


async def touch_deliveries(session: AsyncSession, ids: Sequence[uuid.UUID]) -> None:
    await session.execute(update(Delivery).where(Delivery.id.in_(ids)).values(updated=func.now()))


# The inbox


async def inbox(
    session: AsyncSession, user_id: uuid.UUID, *, unread_only: bool, before: dt.datetime | None,
    limit: int,
) -> Sequence[InboxItem]:  # fmt: skip
    query = select(InboxItem).where(InboxItem.user_id == user_id)
    if unread_only:
        query = query.where(InboxItem.read_at.is_(None))
    if before is not None:
        query = query.where(InboxItem.created < before)
    return (await session.scalars(query.order_by(InboxItem.created.desc()).limit(limit))).all()


async def unread_count(session: AsyncSession, user_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count()).where(InboxItem.user_id == user_id, InboxItem.read_at.is_(None))
    )
    return count or 0


async def mark_read(session: AsyncSession, user_id: uuid.UUID, item_id: uuid.UUID | None) -> int:
    """Mark one item (or every item when `item_id` is None) read; how many rows matched."""
    condition = and_(InboxItem.user_id == user_id, InboxItem.read_at.is_(None))
    if item_id is not None:
        condition = and_(condition, InboxItem.id == item_id)
    result: Any = await session.execute(update(InboxItem).where(condition).values(read_at=_now()))
    if result.rowcount:  # other tabs of the account update their bell
        await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": INBOX_CHANNEL})
    return int(result.rowcount)


async def inbox_item_exists(session: AsyncSession, user_id: uuid.UUID, item_id: uuid.UUID) -> bool:
    found = await session.scalar(
        select(InboxItem.id).where(InboxItem.user_id == user_id, InboxItem.id == item_id)
    )
    return found is not None


# Broadcasts


async def lock_broadcast(session: AsyncSession, broadcast_id: uuid.UUID) -> Broadcast | None:
    return await session.scalar(
        select(Broadcast).where(Broadcast.id == broadcast_id).with_for_update()
    )


async def due_broadcasts(session: AsyncSession, now: dt.datetime) -> Sequence[Broadcast]:
    return (
        await session.scalars(
            select(Broadcast)
            .where(Broadcast.status == BroadcastStatus.SCHEDULED, Broadcast.send_at <= now)
            .with_for_update(skip_locked=True)
        )
    ).all()


async def broadcasts(session: AsyncSession, limit: int) -> Sequence[Broadcast]:
    return (
        await session.scalars(select(Broadcast).order_by(Broadcast.created.desc()).limit(limit))
    ).all()


async def broadcast_progress(session: AsyncSession, broadcast_id: uuid.UUID) -> dict[str, int]:
    """Deliveries of the broadcast by `<channel>.<status>`."""
    rows = await session.execute(
        select(Delivery.channel, Delivery.status, func.count())
        .join(Notification, Notification.id == Delivery.notification_id)
        .where(Notification.broadcast_id == broadcast_id)
        .group_by(Delivery.channel, Delivery.status)
    )
    return {f"{channel}.{status}": count for channel, status, count in rows}


async def progress_of(
    session: AsyncSession, broadcast_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[str, int]]:
    """`broadcast_progress` of several broadcasts in one query (those without rows left out)."""
    if not broadcast_ids:
        return {}
    rows = await session.execute(
        select(Notification.broadcast_id, Delivery.channel, Delivery.status, func.count())
        .join(Notification, Notification.id == Delivery.notification_id)
        .where(Notification.broadcast_id.in_(broadcast_ids))
        .group_by(Notification.broadcast_id, Delivery.channel, Delivery.status)
    )
    found: dict[uuid.UUID, dict[str, int]] = {}
    for broadcast_id, channel, status, count in rows:
        if broadcast_id is not None:
            found.setdefault(broadcast_id, {})[f"{channel}.{status}"] = count
    return found


async def failed_deliveries(session: AsyncSession, limit: int) -> Sequence[Any]:
    return (
        await session.execute(
            select(
                Delivery.id,
                Delivery.channel,
                Delivery.attempts,
                Delivery.error,
                Delivery.updated,
                Notification.kind,
                Notification.email,
                Notification.broadcast_id,
            )
            .join(Notification, Notification.id == Delivery.notification_id)
            .where(Delivery.status == DeliveryStatus.FAILED)
            .order_by(Delivery.updated.desc())
            .limit(limit)
        )
    ).all()


# One broadcast chunk, set-based: a statement per table whatever the chunk's size.

_OFF = (
    "EXISTS (SELECT 1 FROM notify.preference p WHERE p.user_id = {user} "
    "AND p.kind = 'announcement' AND p.channel = '{channel}' AND NOT p.enabled)"
)
_CHUNK_NOTIFICATIONS = text(f"""
INSERT INTO notify.notification
    (id, idempotency_key, kind, user_id, email, locale, data, broadcast_id, created)
SELECT gen_random_uuid(), u.key, 'announcement', u.id, u.email, coalesce(r.locale, :locale),
       CAST(:data AS jsonb), :broadcast, now()
FROM unnest(CAST(:ids AS uuid[]), CAST(:emails AS text[]), CAST(:keys AS text[]))
     AS u(id, email, key)
LEFT JOIN notify.recipient r ON r.user_id = u.id
WHERE NOT ({_OFF.format(user="u.id", channel="email")}
           AND {_OFF.format(user="u.id", channel="inbox")})
ON CONFLICT (idempotency_key) DO NOTHING
""")  # noqa: S608 - the fragments are constants of this module
_CHUNK_OF = "FROM notify.notification n WHERE n.idempotency_key = ANY(CAST(:keys AS text[]))"
_CHUNK_INBOX_DELIVERIES = text(f"""
INSERT INTO notify.delivery (id, notification_id, channel, status, attempts, updated, sent_at)
SELECT gen_random_uuid(), n.id, 'inbox', 'sent', 1, now(), now() {_CHUNK_OF}
  AND NOT {_OFF.format(user="n.user_id", channel="inbox")}
ON CONFLICT (notification_id, channel) DO NOTHING
""")
_CHUNK_INBOX = text(f"""
INSERT INTO notify.inbox (id, notification_id, user_id, kind, title, body, link, created)
SELECT gen_random_uuid(), n.id, n.user_id, 'announcement', :title, :body, NULL, now() {_CHUNK_OF}
  AND NOT {_OFF.format(user="n.user_id", channel="inbox")}
ON CONFLICT (notification_id) DO NOTHING
""")
_CHUNK_EMAILS = text(f"""
INSERT INTO notify.delivery (id, notification_id, channel, status, attempts, updated)
SELECT gen_random_uuid(), n.id, 'email', 'queued', 0, now() {_CHUNK_OF}
  AND NOT {_OFF.format(user="n.user_id", channel="email")}
ON CONFLICT (notification_id, channel) DO NOTHING
""")
_CHUNK_QUEUED = text(f"""
SELECT d.id FROM notify.delivery d WHERE d.channel = 'email' AND d.status = 'queued'
  AND d.notification_id IN (SELECT n.id {_CHUNK_OF})
""")  # noqa: S608 - the fragments are constants of this module


async def write_broadcast_chunk(
    session: AsyncSession, *, broadcast_id: uuid.UUID, people: Sequence[tuple[uuid.UUID, str]],
    data: dict[str, str], title: str, body: str, default_locale: str,
) -> list[uuid.UUID]:  # fmt: skip
    """Notifications, deliveries and inbox items of one chunk of a broadcast's recipients (a
    recipient who switched off both channels gets nothing); the queued email deliveries."""
    import orjson

    ids = [user_id for user_id, _ in people]
    keys = [f"broadcast:{broadcast_id}:{user_id}" for user_id in ids]
    await session.execute(_CHUNK_NOTIFICATIONS, {
        "ids": ids, "emails": [email for _, email in people], "keys": keys,
        "locale": default_locale, "data": orjson.dumps(data).decode(), "broadcast": broadcast_id,
    })  # fmt: skip
    await session.execute(_CHUNK_INBOX_DELIVERIES, {"keys": keys})
    await session.execute(_CHUNK_INBOX, {"keys": keys, "title": title, "body": body})
    await session.execute(_CHUNK_EMAILS, {"keys": keys})
    await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": INBOX_CHANNEL})
    return list(await session.scalars(_CHUNK_QUEUED, {"keys": keys}))
