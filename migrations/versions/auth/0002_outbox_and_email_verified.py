"""Auth: an outbox for domain events, and the account's verified-email flag.

Revision ID: auth_0002
Revises: auth_0001
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision: str = "auth_0002"
down_revision: str | Sequence[str] | None = "auth_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "auth"


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column("email_verified", sa.Boolean(), server_default="false", nullable=False),
        schema=SCHEMA,
    )
    op.add_column("users", sa.Column("email_confirm_hash", sa.Text()), schema=SCHEMA)
    op.create_unique_constraint(
        "uq_users_email_confirm_hash", "users", ["email_confirm_hash"], schema=SCHEMA
    )
    op.create_table(
        "outbox",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("payload", JSONB(), nullable=False),
        sa.Column(
            "created", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        schema=SCHEMA,
    )
    op.create_index("ix_outbox_created", "outbox", ["created"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("outbox", schema=SCHEMA)
    op.drop_constraint("uq_users_email_confirm_hash", "users", schema=SCHEMA)
    op.drop_column("users", "email_confirm_hash", schema=SCHEMA)
    op.drop_column("users", "email_verified", schema=SCHEMA)
