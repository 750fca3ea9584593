"""Web schema: drop `web.player_event`; the analytics collector keeps the player's events now.

The resume points and "continue watching" are read from `analytics.watch_progress`.

Revision ID: web_0002
Revises: web_0001
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision: str = "web_0002"
down_revision: str | Sequence[str] | None = "web_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "web"


def upgrade() -> None:
    op.drop_table("player_event", schema=SCHEMA)


def downgrade() -> None:
    # The table comes back empty: its events went to the collector, not back here.
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
