"""Analytics schema: refused collector events, the resume read model; `analytics.view` granted.

Revision ID: analytics_0001
Revises:
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision: str = "analytics_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("analytics",)
depends_on: str | Sequence[str] | None = "auth_0001"

SCHEMA = "analytics"
PERMISSION = "analytics.view"
GRANTED_TO = ("admin", "super_user")


def upgrade() -> None:
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    op.create_table(
        "failed_event",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("user_id", UUID(as_uuid=True), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("batch_index", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("payload", JSONB(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_failed_event"),
        schema=SCHEMA,
    )
    op.create_index("ix_failed_event_received_at", "failed_event", ["received_at"], schema=SCHEMA)
    op.create_table(
        "watch_progress",
        sa.Column("user_id", UUID(as_uuid=True), nullable=False),
        sa.Column("film_id", UUID(as_uuid=True), nullable=False),
        sa.Column("position", sa.Float(), nullable=False),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("watched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "film_id", name="pk_watch_progress"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_watch_progress_user_id_watched_at",
        "watch_progress",
        ["user_id", "watched_at"],
        schema=SCHEMA,
    )
    op.execute(
        sa.text(
            "UPDATE auth.role SET permissions = array_append(permissions, :permission)"
            " WHERE name = ANY(:roles) AND NOT (:permission = ANY(permissions))"
        ).bindparams(permission=PERMISSION, roles=list(GRANTED_TO))
    )


def downgrade() -> None:
    op.execute(
        sa.text(
            "UPDATE auth.role SET permissions = array_remove(permissions, :permission)"
        ).bindparams(permission=PERMISSION)
    )
    op.drop_table("watch_progress", schema=SCHEMA)
    op.drop_table("failed_event", schema=SCHEMA)
    op.execute(f"DROP SCHEMA IF EXISTS {SCHEMA}")
