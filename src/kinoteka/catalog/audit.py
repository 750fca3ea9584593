"""The admin audit trail: who changed which catalog object, how, and when (`admin.audit_log`).

Rows are written by the admin views after each create, edit and delete, and shown read-only in
the admin. `changes` holds the submitted values (JSON-safe), never secrets.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, DateTime, Identity, Index, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kinoteka.infra.db.base import Base, text_enum

SCHEMA = "admin"


class AuditAction(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class AuditRecord(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_entity_object_id", "entity", "object_id"),
        {"schema": SCHEMA},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    actor_id: Mapped[str | None] = mapped_column(Text)
    actor_email: Mapped[str | None] = mapped_column(Text)
    action: Mapped[AuditAction] = mapped_column(
        text_enum(AuditAction, "audit_action"), nullable=False
    )
    entity: Mapped[str] = mapped_column(Text, nullable=False)
    object_id: Mapped[str | None] = mapped_column(Text)
    object_repr: Mapped[str | None] = mapped_column(Text)
    changes: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    def __str__(self) -> str:
        return f"{self.action} {self.entity} {self.object_repr or self.object_id}"


def json_safe(value: Any) -> Any:
    """Form values as JSON: UUIDs, dates, enums and decimals as strings, files by name."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, uuid.UUID | dt.date | dt.datetime | dt.time | Decimal):
        return str(value) if not isinstance(value, dt.date) else value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(item) for item in value]
    filename = getattr(value, "filename", None)
    if filename is not None:
        return {"file": str(filename)}
    return str(value)
