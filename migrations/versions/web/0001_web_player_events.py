"""Web schema: player events (versioned), kept until the activity context's collector takes over.

Revision ID: web_0001
Revises:
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision: str = "web_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("web",)
depends_on: str | Sequence[str] | None = None

SCHEMA = "web"


def upgrade() -> None:
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    op.create_table(
        "player_event",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("user_id", UUID(as_uuid=True), nullable=False),
        sa.Column("film_id", UUID(as_uuid=True), nullable=False),
        sa.Column("playback_id", UUID(as_uuid=True), nullable=False),
        sa.Column("schema_version", sa.SmallInteger, nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("position", sa.Float, nullable=False),
        sa.Column("client_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "received_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("payload", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.PrimaryKeyConstraint("id", name="pk_player_event"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_player_event_resume",
        "player_event",
        ["user_id", "film_id", "type", "id"],
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("player_event", schema=SCHEMA)
    op.execute(f"DROP SCHEMA IF EXISTS {SCHEMA}")
