"""Announcements: compose, preview, send now or at a time, and fan out in chunks.

A started broadcast is walked in steps on `notify.broadcast`: each step takes the next
`broadcast_chunk` recipients in account id order after the broadcast's cursor, writes their
notifications, inbox items and email deliveries in one transaction with the cursor, then
queues the emails and the next step. A step whose cursor already moved (a redelivery) only
passes the walk on, so every recipient gets one notification.

Audiences: everyone, the holders of a role (both from auth's `account_addresses`), or the
viewers who bookmarked or rated films of a genre (ugc's `accounts_engaged_with_genre`, then
their addresses from auth); the walk's cursor is the last account id the audience gave.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import orjson
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from kinoteka import auth, catalog, ugc
from kinoteka.infra.broker import Delivery as BrokerDelivery
from kinoteka.notify import repository
from kinoteka.notify.errors import AudienceUnavailable, BroadcastNotEditable, BroadcastNotFound
from kinoteka.notify.kit import BROADCAST_TOPIC, NotifyKit
from kinoteka.notify.models import (
    AudienceKind,
    Broadcast,
    BroadcastStatus,
    Kind,
)
from kinoteka.notify.rendering import Rendered, render
from kinoteka.notify.service import publish_emails

log = structlog.get_logger(__name__)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Audience:
    kind: AudienceKind
    value: str | None = None


async def check_audience(
    session: AsyncSession, audience: Audience, *, genre_audience: bool = True
) -> None:
    if audience.kind is AudienceKind.ROLE:
        if not audience.value or audience.value not in await auth.role_names(session):
            raise AudienceUnavailable(f"audience: no role {audience.value!r}")
    elif audience.kind is AudienceKind.GENRE:
        if not genre_audience:
            raise AudienceUnavailable(
                "audience: viewers of a genre are read from ugc's PostgreSQL store, and this "
                "deployment keeps ugc in MongoDB"
            )
        try:
            genre_id = uuid.UUID(audience.value or "")
        except ValueError:
            raise AudienceUnavailable(
                f"audience: a genre is given by its id, not {audience.value!r}"
            ) from None
        if genre_id not in await catalog.genre_names(session):
            raise AudienceUnavailable(f"audience: no genre {genre_id}")


@dataclass(frozen=True)
class AudiencePage:
    people: list[tuple[uuid.UUID, str]]
    """(account id, email) of this page's recipients."""
    cursor: uuid.UUID | None
    """Where the next page starts."""
    last: bool
    """Whether the audience has no more pages."""


async def audience_page(
    session: AsyncSession, broadcast: Broadcast, after: uuid.UUID | None, limit: int
) -> AudiencePage:
    if broadcast.audience is AudienceKind.GENRE:
        genre_id = uuid.UUID(str(broadcast.audience_value))
        engaged = await ugc.accounts_engaged_with_genre(session, genre_id, after=after, limit=limit)
        # Deactivated accounts drop out here, so the page may be shorter than the walk.
        people = (
            await auth.account_addresses(session, among=engaged, limit=limit) if engaged else []
        )
        return AudiencePage(people, engaged[-1] if engaged else after, len(engaged) < limit)
    role = broadcast.audience_value if broadcast.audience is AudienceKind.ROLE else None
    people = await auth.account_addresses(session, role=role, after=after, limit=limit)
    return AudiencePage(people, people[-1][0] if people else after, len(people) < limit)


def preview(subject: str, body: str, locale: str = "en") -> Rendered:
    """The announcement as a recipient would see it (with a placeholder unsubscribe link)."""
    values = {"subject": subject, "body": body, "unsubscribe_url": "#unsubscribe"}
    return render(Kind.ANNOUNCEMENT, locale, values)


async def create_broadcast(
    session: AsyncSession, *, subject: str, body: str, audience: Audience,
    send_at: dt.datetime | None, created_by: uuid.UUID | None, genre_audience: bool = True,
) -> Broadcast:  # fmt: skip
    """A broadcast scheduled for `send_at` (now when None); the worker starts it when due."""
    await check_audience(session, audience, genre_audience=genre_audience)
    broadcast = Broadcast(
        id=uuid.uuid4(), subject=subject, body=body, audience=audience.kind,
        audience_value=audience.value, status=BroadcastStatus.SCHEDULED,
        send_at=send_at or _now(), created_by=created_by, recipients=0,
    )  # fmt: skip
    session.add(broadcast)
    await session.flush()
    log.info("notify.broadcast_created", broadcast_id=str(broadcast.id))
    return broadcast


async def cancel_broadcast(session: AsyncSession, broadcast_id: uuid.UUID) -> Broadcast:
    broadcast = await repository.lock_broadcast(session, broadcast_id)
    if broadcast is None:
        raise BroadcastNotFound("no such broadcast")
    if broadcast.status not in (BroadcastStatus.SCHEDULED, BroadcastStatus.SENDING):
        raise BroadcastNotEditable(f"the broadcast is {broadcast.status.value}")
    broadcast.status = BroadcastStatus.CANCELLED
    broadcast.finished_at = _now()
    await session.flush()
    return broadcast


async def get_broadcast(
    session: AsyncSession, broadcast_id: uuid.UUID
) -> tuple[Broadcast, dict[str, int]]:
    broadcast = await session.get(Broadcast, broadcast_id)
    if broadcast is None:
        raise BroadcastNotFound("no such broadcast")
    return broadcast, await repository.broadcast_progress(session, broadcast_id)


async def list_broadcasts(session: AsyncSession, limit: int = 50) -> Sequence[Broadcast]:
    return await repository.broadcasts(session, limit)


def _step(broadcast_id: uuid.UUID, after: uuid.UUID | None) -> tuple[bytes, str]:
    body = orjson.dumps({"broadcast_id": str(broadcast_id), "after": str(after) if after else None})
    return body, f"broadcast:{broadcast_id}:{after or 'start'}"


async def start_due_broadcasts(kit: NotifyKit) -> int:
    """Move scheduled broadcasts whose time came to `sending` and queue their first step."""
    async with kit.db.session() as session:
        due = await repository.due_broadcasts(session, _now())
        for broadcast in due:
            broadcast.status = BroadcastStatus.SENDING
        started = [broadcast.id for broadcast in due]
    for broadcast_id in started:
        body, message_id = _step(broadcast_id, None)
        await kit.broker.publish(BROADCAST_TOPIC, body, message_id=message_id)
        log.info("notify.broadcast_started", broadcast_id=str(broadcast_id))
    return len(started)


async def fan_out_step(kit: NotifyKit, broadcast_id: uuid.UUID, after: uuid.UUID | None) -> None:
    """One chunk of a broadcast's recipients (see the module docstring)."""
    emails: list[uuid.UUID] = []
    async with kit.db.session() as session:
        broadcast = await repository.lock_broadcast(session, broadcast_id)
        if broadcast is None or broadcast.status is not BroadcastStatus.SENDING:
            return
        if broadcast.cursor != after:  # this step was done; pass the walk on
            cursor = broadcast.cursor
        else:
            page = await audience_page(session, broadcast, after, kit.settings.broadcast_chunk)
            emails = await write_chunk(session, kit, broadcast, page.people)
            cursor = page.cursor
            broadcast.cursor = cursor
            broadcast.recipients += len(page.people)
            if page.last:
                broadcast.status = BroadcastStatus.DONE
                broadcast.finished_at = _now()
        more = broadcast.status is BroadcastStatus.SENDING
    await publish_emails(kit, emails)
    if more:
        body, message_id = _step(broadcast_id, cursor)
        await kit.broker.publish(BROADCAST_TOPIC, body, message_id=message_id)


async def write_chunk(
    session: AsyncSession, kit: NotifyKit, broadcast: Broadcast,
    people: list[tuple[uuid.UUID, str]],
) -> list[uuid.UUID]:  # fmt: skip
    """Notifications, deliveries and inbox items of one chunk; the queued email deliveries."""
    if not people:
        return []
    return await repository.write_broadcast_chunk(
        session, broadcast_id=broadcast.id, people=people,
        data={"subject": broadcast.subject, "body": broadcast.body},
        title=broadcast.subject, body=broadcast.body,
        default_locale=kit.settings.default_locale,
    )  # fmt: skip


async def handle_broadcast_step(kit: NotifyKit, message: BrokerDelivery) -> None:
    step = orjson.loads(message.body)
    after = uuid.UUID(step["after"]) if step.get("after") else None
    await fan_out_step(kit, uuid.UUID(step["broadcast_id"]), after)
