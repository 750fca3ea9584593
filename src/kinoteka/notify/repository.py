"""The notify context's queries."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from sqlalchemy import and_, func, or_, select, text, update
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


_CLAIM_EMAILS = text("""
WITH free AS (
    SELECT d.id FROM notify.delivery d
    WHERE d.id = ANY(CAST(:ids AS uuid[])) AND d.channel = 'email'
      AND (d.status = 'queued'
           OR (d.status = 'sending' AND d.updated < now() - make_interval(secs => :lease)))
    FOR UPDATE SKIP LOCKED
)
UPDATE notify.delivery d SET status = 'sending', attempts = d.attempts + 1, updated = now()
FROM free, notify.notification n
WHERE d.id = free.id AND n.id = d.notification_id
RETURNING d.id, n.id AS notification_id, n.kind, n.user_id, n.email, n.locale, n.data
""")
_RECORD_EMAILS = text("""
UPDATE notify.delivery d
SET status = r.status, error = r.error, updated = now(),
    sent_at = CASE WHEN r.status = 'sent' THEN now() ELSE d.sent_at END
FROM unnest(CAST(:ids AS uuid[]), CAST(:statuses AS text[]), CAST(:errors AS text[]))
     AS r(id, status, error)
WHERE d.id = r.id AND d.status = 'sending'
""")


async def claim_emails(
    session: AsyncSession, delivery_ids: Sequence[uuid.UUID], lease: float
) -> list[tuple[uuid.UUID, Notification]]:
    """Claim the email deliveries among `delivery_ids` that are queued (or whose claim is older
    than `lease` seconds): each becomes `sending` with its attempt counted. The claimed ones,
    each with its notification (detached: for rendering only)."""
    if not delivery_ids:
        return []
    rows = await session.execute(_CLAIM_EMAILS, {"ids": list(delivery_ids), "lease": lease})
    return [
        (row.id, Notification(id=row.notification_id, kind=Kind(row.kind), user_id=row.user_id,
                              email=row.email, locale=row.locale, data=row.data))
        for row in rows
    ]  # fmt: skip


async def record_emails(
    session: AsyncSession, results: Sequence[tuple[uuid.UUID, str, str | None]]
) -> None:
    """Each claimed delivery's outcome, `(id, status, error)`, in one statement."""
    await session.execute(_RECORD_EMAILS, {
        "ids": [r[0] for r in results], "statuses": [r[1] for r in results],
        "errors": [r[2] for r in results],
    })  # fmt: skip


async def stale_emails(session: AsyncSession, queued_before: dt.datetime,
                       claimed_before: dt.datetime, limit: int) -> list[uuid.UUID]:  # fmt: skip
    """Email deliveries not sent since: queued before `queued_before`, or claimed by a sender
    before `claimed_before` (a claim that old outlived its sender)."""
    rows = await session.scalars(
        select(Delivery.id).where(
            Delivery.channel == Channel.EMAIL,
            or_(
                and_(Delivery.status == DeliveryStatus.QUEUED, Delivery.updated < queued_before),
                and_(Delivery.status == DeliveryStatus.SENDING,
                     Delivery.updated < claimed_before),
            ),
        ).limit(limit)
    )  # fmt: skip
    return list(rows)


async def touch_deliveries(session: AsyncSession, ids: Sequence[uuid.UUID]) -> None:
    """Stale email deliveries about to be published again: queued anew, so a claim that
    outlived its sender no longer holds them."""
    await session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids), Delivery.status.in_([DeliveryStatus.QUEUED,
                                                           DeliveryStatus.SENDING]))
        .values(updated=func.now(), status=DeliveryStatus.QUEUED)
    )  # fmt: skip


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


# One broadcast chunk, set-based: one statement whatever the chunk's size. Each recipient's
# preferences are read once; the notifications inserted (a key already there is skipped) feed
# the deliveries and inbox items through data-modifying CTEs, whose foreign keys are checked
# at the end of the statement, when every row is in.
_CHUNK = text("""
WITH people AS (
    SELECT u.id, u.email, u.key, coalesce(r.locale, :locale) AS locale,
           coalesce(bool_or(p.channel = 'email' AND NOT p.enabled), false) AS email_off,
           coalesce(bool_or(p.channel = 'inbox' AND NOT p.enabled), false) AS inbox_off
    FROM unnest(CAST(:ids AS uuid[]), CAST(:emails AS text[]), CAST(:keys AS text[]))
         AS u(id, email, key)
    LEFT JOIN notify.recipient r ON r.user_id = u.id
    LEFT JOIN notify.preference p ON p.user_id = u.id AND p.kind = 'announcement'
    GROUP BY u.id, u.email, u.key, r.locale
), added AS (
    INSERT INTO notify.notification
        (id, idempotency_key, kind, user_id, email, locale, data, broadcast_id, created)
    SELECT gen_random_uuid(), key, 'announcement', id, email, locale, CAST(:data AS jsonb),
           :broadcast, now()
    FROM people WHERE NOT (email_off AND inbox_off)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id, user_id
), chosen AS (
    SELECT a.id, a.user_id, p.email_off, p.inbox_off
    FROM added a JOIN people p ON p.id = a.user_id
), inbox_deliveries AS (
    INSERT INTO notify.delivery (id, notification_id, channel, status, attempts, updated, sent_at)
    SELECT gen_random_uuid(), id, 'inbox', 'sent', 1, now(), now() FROM chosen
    WHERE NOT inbox_off
), inbox AS (
    INSERT INTO notify.inbox (id, notification_id, user_id, kind, title, body, link, created)
    SELECT gen_random_uuid(), id, user_id, 'announcement', :title, :body, NULL, now()
    FROM chosen WHERE NOT inbox_off
), emails AS (
    INSERT INTO notify.delivery (id, notification_id, channel, status, attempts, updated)
    SELECT gen_random_uuid(), id, 'email', 'queued', 0, now() FROM chosen WHERE NOT email_off
    RETURNING id
)
SELECT id FROM emails
""")


async def write_broadcast_chunk(
    session: AsyncSession, *, broadcast_id: uuid.UUID, people: Sequence[tuple[uuid.UUID, str]],
    data: dict[str, str], title: str, body: str, default_locale: str,
) -> list[uuid.UUID]:  # fmt: skip
    """Notifications, deliveries and inbox items of one chunk of a broadcast's recipients (a
    recipient who switched off both channels gets nothing); the queued email deliveries.

    A recipient whose notification is already there gets nothing more: a chunk is written
    whole, with the broadcast's cursor, in one transaction."""
    ids = [user_id for user_id, _ in people]
    emails = list(await session.scalars(_CHUNK, {
        "ids": ids, "emails": [email for _, email in people],
        "keys": [f"broadcast:{broadcast_id}:{user_id}" for user_id in ids],
        "locale": default_locale, "data": orjson.dumps(data).decode(), "broadcast": broadcast_id,
        "title": title, "body": body,
    }))  # fmt: skip
    await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": INBOX_CHANNEL})
    return emails
