"""Media schema: videos (status machine, versions, outputs) and tus uploads in progress.

Revision ID: media_0001
Revises:
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

revision: str = "media_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("media",)
depends_on: str | Sequence[str] | None = None

SCHEMA = "media"
STATUSES = ("uploaded", "probing", "transcoding", "ready", "failed")


def _now(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def upgrade() -> None:
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    statuses = ", ".join(f"'{status}'" for status in STATUSES)
    op.create_table(
        "videos",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("film_id", UUID(as_uuid=True), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("transitions", JSONB, nullable=False),
        sa.Column("failure_reason", sa.Text),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("progress", sa.Float, nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True)),
        sa.Column("source_key", sa.Text, nullable=False),
        sa.Column("source_name", sa.Text, nullable=False),
        sa.Column("source_size", sa.BigInteger, nullable=False),
        sa.Column("checksum", sa.Text),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("current_version", sa.Integer),
        sa.Column("output_prefix", sa.Text),
        sa.Column("duration", sa.Float),
        sa.Column("width", sa.Integer),
        sa.Column("height", sa.Integer),
        sa.Column("qualities", ARRAY(sa.Text), nullable=False),
        sa.Column("outputs_size", sa.BigInteger, nullable=False),
        sa.Column("outputs", JSONB, nullable=False),
        sa.Column("pending", JSONB, nullable=False),
        _now("created"),
        _now("modified"),
        sa.PrimaryKeyConstraint("id", name="pk_videos"),
        sa.CheckConstraint(f"status IN ({statuses})", name="ck_videos_video_status"),
        sa.CheckConstraint("progress >= 0 AND progress <= 100", name="ck_videos_progress_range"),
        schema=SCHEMA,
    )
    op.create_index("ix_videos_film_id", "videos", ["film_id"], schema=SCHEMA)
    op.create_index("ix_videos_status", "videos", ["status"], schema=SCHEMA)
    op.create_table(
        "uploads",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("film_id", UUID(as_uuid=True), nullable=False),
        sa.Column("length", sa.BigInteger, nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("filename", sa.Text, nullable=False),
        sa.Column("checksum", sa.Text),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("video_id", UUID(as_uuid=True)),
        _now("created"),
        sa.Column("expires", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_uploads"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.execute(f"DROP SCHEMA {SCHEMA} CASCADE")
