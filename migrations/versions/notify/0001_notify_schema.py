"""Notify schema: notifications, deliveries per channel, inbox, recipients, preferences,
broadcasts.

Revision ID: notify_0001
Revises:
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision: str = "notify_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("notify",)
depends_on: str | Sequence[str] | None = None

SCHEMA = "notify"
KINDS = ("welcome", "password_reset", "password_changed", "new_device", "announcement")
CHANNELS = ("email", "inbox")


def _enum(name: str, values: Sequence[str], constraint: str) -> sa.Enum:
    return sa.Enum(*values, name=constraint, native_enum=False, create_constraint=True, length=32)


def _now(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def upgrade() -> None:
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    op.create_table(
        "recipient",
        sa.Column("user_id", UUID(as_uuid=True), nullable=False),
        sa.Column("locale", sa.Text(), server_default="en", nullable=False),
        _now("updated"),
        sa.PrimaryKeyConstraint("user_id", name="pk_recipient"),
        schema=SCHEMA,
    )
    op.create_table(
        "preference",
        sa.Column("user_id", UUID(as_uuid=True), nullable=False),
        sa.Column("kind", _enum("kind", KINDS, "kind"), nullable=False),
        sa.Column("channel", _enum("channel", CHANNELS, "channel"), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "kind", "channel", name="pk_preference"),
        schema=SCHEMA,
    )
    op.create_table(
        "broadcast",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "audience", _enum("audience", ("everyone", "role", "genre"), "audience"), nullable=False
        ),
        sa.Column("audience_value", sa.Text()),
        sa.Column(
            "status",
            _enum("status", ("scheduled", "sending", "done", "cancelled"), "broadcast_status"),
            nullable=False,
        ),
        sa.Column("send_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", UUID(as_uuid=True)),
        _now("created"),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("cursor", UUID(as_uuid=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_broadcast"),
        schema=SCHEMA,
    )
    op.create_table(
        "notification",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("kind", _enum("kind", KINDS, "kind"), nullable=False),
        sa.Column("user_id", UUID(as_uuid=True), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("locale", sa.Text(), nullable=False),
        sa.Column("data", JSONB(), nullable=False),
        sa.Column("broadcast_id", UUID(as_uuid=True)),
        _now("created"),
        sa.PrimaryKeyConstraint("id", name="pk_notification"),
        sa.UniqueConstraint("idempotency_key", name="uq_notification_idempotency_key"),
        sa.ForeignKeyConstraint(
            ["broadcast_id"],
            [f"{SCHEMA}.broadcast.id"],
            ondelete="CASCADE",
            name="fk_notification_broadcast_id_broadcast",
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_notification_broadcast_id", "notification", ["broadcast_id"],
                    schema=SCHEMA)  # fmt: skip
    op.create_table(
        "delivery",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("notification_id", UUID(as_uuid=True), nullable=False),
        sa.Column("channel", _enum("channel", CHANNELS, "channel"), nullable=False),
        sa.Column(
            "status",
            _enum("status", ("queued", "sent", "failed"), "delivery_status"),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text()),
        _now("updated"),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_delivery"),
        sa.UniqueConstraint(
            "notification_id", "channel", name="uq_delivery_notification_id_channel"
        ),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            [f"{SCHEMA}.notification.id"],
            ondelete="CASCADE",
            name="fk_delivery_notification_id_notification",
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_delivery_failed", "delivery", ["updated"], schema=SCHEMA,
                    postgresql_where=sa.text("status = 'failed'"))  # fmt: skip
    op.create_table(
        "inbox",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("notification_id", UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", UUID(as_uuid=True), nullable=False),
        sa.Column("kind", _enum("kind", KINDS, "kind"), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("link", sa.Text()),
        _now("created"),
        sa.Column("read_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_inbox"),
        sa.UniqueConstraint("notification_id", name="uq_inbox_notification_id"),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            [f"{SCHEMA}.notification.id"],
            ondelete="CASCADE",
            name="fk_inbox_notification_id_notification",
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_inbox_user_id_created", "inbox", ["user_id", "created"], schema=SCHEMA)
    op.create_index("ix_inbox_unread", "inbox", ["user_id"], schema=SCHEMA,
                    postgresql_where=sa.text("read_at IS NULL"))  # fmt: skip


def downgrade() -> None:
    op.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
