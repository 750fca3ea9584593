"""Auth tables (schema `auth`): users, roles, sessions and their refresh tokens, login history,
signing keys, password-reset tokens and linked social accounts."""

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
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from kinoteka.infra.db.base import Base, text_enum

SCHEMA = "auth"


class DeviceType(StrEnum):
    WEB = "web"
    MOBILE = "mobile"
    SMART_TV = "smart_tv"
    OTHER = "other"


class LoginOutcome(StrEnum):
    SUCCESS = "success"
    WRONG_PASSWORD = "wrong_password"  # noqa: S105 - an outcome, not a secret
    UNKNOWN_ACCOUNT = "unknown_account"
    LOCKED = "locked"
    INACTIVE = "inactive"


class LoginMethod(StrEnum):
    PASSWORD = "password"  # noqa: S105 - a login method, not a secret
    OAUTH = "oauth"


def _now_column() -> Mapped[dt.datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("email"), {"schema": SCHEMA})

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(Text, nullable=False)
    # None for accounts created by a social login until a password is set.
    password_hash: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created: Mapped[dt.datetime] = _now_column()
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    email_verified: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default="false"
    )
    # The digest of the emailed confirmation token, cleared when the link is followed.
    email_confirm_hash: Mapped[str | None] = mapped_column(Text, unique=True)


class Role(Base):
    __tablename__ = "role"
    __table_args__ = (UniqueConstraint("name"), {"schema": SCHEMA})

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    permissions: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False, default=list)
    created: Mapped[dt.datetime] = _now_column()


class UserRole(Base):
    __tablename__ = "user_role"
    __table_args__ = (
        PrimaryKeyConstraint("user_id", "role_id"),
        Index("ix_user_role_role_id", "role_id"),
        {"schema": SCHEMA},
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.users.id", ondelete="CASCADE"), nullable=False
    )
    role_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.role.id", ondelete="CASCADE"), nullable=False
    )
    granted: Mapped[dt.datetime] = _now_column()


class LoginSession(Base):
    """One login on one device: the family every rotated refresh token of it belongs to."""

    __tablename__ = "session"
    __table_args__ = (Index("ix_session_user_id", "user_id"), {"schema": SCHEMA})

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.users.id", ondelete="CASCADE"), nullable=False
    )
    created: Mapped[dt.datetime] = _now_column()
    last_used: Mapped[dt.datetime] = _now_column()
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_reason: Mapped[str | None] = mapped_column(Text)
    ip: Mapped[str | None] = mapped_column(Text)
    user_agent: Mapped[str | None] = mapped_column(Text)
    device_type: Mapped[DeviceType] = mapped_column(
        text_enum(DeviceType, "device_type"), nullable=False
    )
    # The one live access token of the session, denylisted when it is replaced or revoked.
    access_jti: Mapped[str | None] = mapped_column(Text)
    access_expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class RefreshToken(Base):
    __tablename__ = "refresh_token"
    __table_args__ = (
        UniqueConstraint("token_hash"),
        Index("ix_refresh_token_session_id", "session_id"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.session.id", ondelete="CASCADE"), nullable=False
    )
    token_hash: Mapped[str] = mapped_column(Text, nullable=False)
    created: Mapped[dt.datetime] = _now_column()
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    rotated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class LoginHistory(Base):
    """Every login attempt; LIST-partitioned by device type (partitions made by the migration)."""

    __tablename__ = "login_history"
    __table_args__ = (
        PrimaryKeyConstraint("id", "device_type"),
        Index("ix_login_history_user_id_created", "user_id", "created"),
        {"schema": SCHEMA, "postgresql_partition_by": "LIST (device_type)"},
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), default=uuid.uuid4)
    device_type: Mapped[DeviceType] = mapped_column(
        text_enum(DeviceType, "device_type"), nullable=False
    )
    # No foreign key: failed attempts on unknown emails are recorded too.
    user_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    email: Mapped[str] = mapped_column(Text, nullable=False)
    created: Mapped[dt.datetime] = _now_column()
    ip: Mapped[str | None] = mapped_column(Text)
    user_agent: Mapped[str | None] = mapped_column(Text)
    method: Mapped[LoginMethod] = mapped_column(
        text_enum(LoginMethod, "login_method"), nullable=False
    )
    outcome: Mapped[LoginOutcome] = mapped_column(
        text_enum(LoginOutcome, "login_outcome"), nullable=False
    )


class SigningKey(Base):
    """An Ed25519 key pair; the newest unretired one signs, the unexpired ones verify."""

    __tablename__ = "signing_key"
    __table_args__ = ({"schema": SCHEMA},)

    kid: Mapped[str] = mapped_column(Text, primary_key=True)
    algorithm: Mapped[str] = mapped_column(Text, nullable=False)
    # PKCS#8 PEM encrypted with the deployment's secret key.
    private_pem: Mapped[str] = mapped_column(Text, nullable=False)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    created: Mapped[dt.datetime] = _now_column()
    retired_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # Served in the JWKS until then: the last token it signed has expired by that time.
    verify_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class PasswordReset(Base):
    __tablename__ = "password_reset"
    __table_args__ = (UniqueConstraint("token_hash"), {"schema": SCHEMA})

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.users.id", ondelete="CASCADE"), nullable=False
    )
    token_hash: Mapped[str] = mapped_column(Text, nullable=False)
    created: Mapped[dt.datetime] = _now_column()
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class OAuthAccount(Base):
    __tablename__ = "oauth_account"
    __table_args__ = (
        UniqueConstraint("provider", "subject"),
        Index("ix_oauth_account_user_id", "user_id"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    provider: Mapped[str] = mapped_column(Text, nullable=False)
    subject: Mapped[str] = mapped_column(Text, nullable=False)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.users.id", ondelete="CASCADE"), nullable=False
    )
    email: Mapped[str | None] = mapped_column(Text)
    created: Mapped[dt.datetime] = _now_column()


class OutboxEvent(Base):
    """A domain event written in the transaction that caused it, relayed to the broker later."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_created", "created"), {"schema": SCHEMA})

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    topic: Mapped[str] = mapped_column(Text, nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    created: Mapped[dt.datetime] = _now_column()
