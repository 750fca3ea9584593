"""Posters on films (`content.film_work.poster_key`) and the admin audit trail (`admin.audit_log`).

Revision ID: catalog_0002
Revises: catalog_0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "catalog_0002"
down_revision: str | Sequence[str] | None = "catalog_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AUDIT_SCHEMA = "admin"
ACTIONS = ("create", "update", "delete")


def upgrade() -> None:
    op.add_column("film_work", sa.Column("poster_key", sa.Text()), schema="content")

    op.execute(f"CREATE SCHEMA IF NOT EXISTS {AUDIT_SCHEMA}")
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("actor_id", sa.Text()),
        sa.Column("actor_email", sa.Text()),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("entity", sa.Text(), nullable=False),
        sa.Column("object_id", sa.Text()),
        sa.Column("object_repr", sa.Text()),
        sa.Column("changes", JSONB()),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
        sa.CheckConstraint(
            "action IN (" + ", ".join(f"'{action}'" for action in ACTIONS) + ")",
            name=op.f("ck_audit_log_audit_action"),
        ),
        schema=AUDIT_SCHEMA,
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"], schema=AUDIT_SCHEMA)
    op.create_index(
        "ix_audit_log_entity_object_id", "audit_log", ["entity", "object_id"], schema=AUDIT_SCHEMA
    )


def downgrade() -> None:
    op.drop_table("audit_log", schema=AUDIT_SCHEMA)
    op.execute(f"DROP SCHEMA IF EXISTS {AUDIT_SCHEMA}")
    op.drop_column("film_work", "poster_key", schema="content")
