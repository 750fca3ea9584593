"""Notify tables (schema `notify`): notifications, their deliveries per channel, the inbox,
recipients' locale and preferences, and broadcasts."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from kinoteka.infra.db.base import Base, text_enum

SCHEMA = "notify"


class Kind(StrEnum):
    WELCOME = "welcome"
    PASSWORD_RESET = "password_reset"  # noqa: S105 - a kind of message
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 - a kind of message
    NEW_DEVICE = "new_device"
    ANNOUNCEMENT = "announcement"

    @property
    def security(self) -> bool:
        """Security messages go out whatever the preferences say."""
        return self is not Kind.ANNOUNCEMENT


class Channel(StrEnum):
    EMAIL = "email"
    INBOX = "inbox"


class DeliveryStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"  # claimed by a sender; `updated` is the claim time
    SENT = "sent"
    FAILED = "failed"


class BroadcastStatus(StrEnum):
    SCHEDULED = "scheduled"
    SENDING = "sending"
    DONE = "done"
    CANCELLED = "cancelled"


class AudienceKind(StrEnum):
    EVERYONE = "everyone"
    ROLE = "role"
    GENRE = "genre"


def _now_column() -> Mapped[dt.datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class Recipient(Base):
    """How to address an account: the locale it chose (`en` until it chooses)."""

    __tablename__ = "recipient"
    __table_args__ = ({"schema": SCHEMA},)

    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    locale: Mapped[str] = mapped_column(Text, nullable=False, default="en", server_default="en")
    updated: Mapped[dt.datetime] = _now_column()


class Preference(Base):
    __tablename__ = "preference"
    __table_args__ = (PrimaryKeyConstraint("user_id", "kind", "channel"), {"schema": SCHEMA})

    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    kind: Mapped[Kind] = mapped_column(text_enum(Kind, "kind"))
    channel: Mapped[Channel] = mapped_column(text_enum(Channel, "channel"))
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False)


class Broadcast(Base):
    __tablename__ = "broadcast"
    __table_args__ = ({"schema": SCHEMA},)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    subject: Mapped[str] = mapped_column(Text, nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    audience: Mapped[AudienceKind] = mapped_column(
        text_enum(AudienceKind, "audience"), nullable=False
    )
    audience_value: Mapped[str | None] = mapped_column(Text)
    status: Mapped[BroadcastStatus] = mapped_column(
        text_enum(BroadcastStatus, "broadcast_status"), nullable=False
    )
    send_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created: Mapped[dt.datetime] = _now_column()
    # How far the fan-out got: recipients are taken in user id order after `cursor`.
    recipients: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    cursor: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Notification(Base):
    __tablename__ = "notification"
    __table_args__ = (
        UniqueConstraint("idempotency_key"),
        Index("ix_notification_broadcast_id", "broadcast_id"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    idempotency_key: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[Kind] = mapped_column(text_enum(Kind, "kind"), nullable=False)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    email: Mapped[str] = mapped_column(Text, nullable=False)
    locale: Mapped[str] = mapped_column(Text, nullable=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    broadcast_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey(f"{SCHEMA}.broadcast.id", ondelete="CASCADE")
    )
    created: Mapped[dt.datetime] = _now_column()


class Delivery(Base):
    """One notification on one channel; the unique pair is what makes a redelivery harmless."""

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("notification_id", "channel"),
        Index("ix_delivery_failed", "updated", postgresql_where=text("status = 'failed'")),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    notification_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.notification.id", ondelete="CASCADE"), nullable=False
    )
    channel: Mapped[Channel] = mapped_column(text_enum(Channel, "channel"), nullable=False)
    status: Mapped[DeliveryStatus] = mapped_column(
        text_enum(DeliveryStatus, "delivery_status"), nullable=False
    )
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    updated: Mapped[dt.datetime] = _now_column()
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class InboxItem(Base):
    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("notification_id"),
        Index("ix_inbox_user_id_created", "user_id", "created"),
        Index("ix_inbox_unread", "user_id", postgresql_where=text("read_at IS NULL")),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    notification_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.notification.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    kind: Mapped[Kind] = mapped_column(text_enum(Kind, "kind"), nullable=False)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    link: Mapped[str | None] = mapped_column(Text)
    created: Mapped[dt.datetime] = _now_column()
    read_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
