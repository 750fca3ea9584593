"""Analytics tables in PostgreSQL (schema `analytics`): refused events and the resume read model.

The events themselves live in ClickHouse; PostgreSQL keeps what must be exact and at hand:
the events the collector refused (with why), and each viewer's latest `progress` per film, the
read model behind "continue watching" (one upserted row per account and film).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import BigInteger, DateTime, Float, Identity, Index, Integer, Text, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from kinoteka.infra.db.base import Base

SCHEMA = "analytics"


class FailedEvent(Base):
    __tablename__ = "failed_event"
    __table_args__ = (
        Index("ix_failed_event_received_at", "received_at"),
        {"schema": SCHEMA},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    received_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    source: Mapped[str] = mapped_column(Text)
    batch_index: Mapped[int] = mapped_column(Integer)
    event_id: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    payload: Mapped[Any] = mapped_column(JSONB)


class WatchProgress(Base):
    __tablename__ = "watch_progress"
    __table_args__ = (
        Index("ix_watch_progress_user_id_watched_at", "user_id", "watched_at"),
        {"schema": SCHEMA},
    )

    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    film_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    position: Mapped[float] = mapped_column(Float)
    duration: Mapped[float | None] = mapped_column(Float)
    watched_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
