"""Analytics tables in PostgreSQL (schema `analytics`): refused events.

The events themselves live in ClickHouse; PostgreSQL keeps the events the collector refused
(with why), each once: `dedup_key` names a refused event by what it was (the viewer, the
batch's playback, the reason and the event as sent), so a batch resent after a 503 keeps
nothing twice. "Continue watching" is ugc's watch progress, fed the accepted `progress` events
(`collect(on_progress=…)`), not a table of this context.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import BigInteger, DateTime, Identity, Index, Integer, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from kinoteka.infra.db.base import Base

SCHEMA = "analytics"


class FailedEvent(Base):
    __tablename__ = "failed_event"
    __table_args__ = (
        Index("ix_failed_event_received_at", "received_at"),
        UniqueConstraint("dedup_key"),
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
    dedup_key: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
