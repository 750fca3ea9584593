"""Analytics schema: drop `analytics.watch_progress`; ugc's watch progress is the one read model.

"Continue watching" and the player's resume position read ugc's `progress` documents, which the
web pages feed from the collector's accepted `progress` events. The rows kept here move into
`ugc.progress` first (the later by the player's clock wins over one already there), so no
viewer loses their place.

Revision ID: analytics_0002
Revises: analytics_0001
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision: str = "analytics_0002"
down_revision: str | Sequence[str] | None = "analytics_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "ugc_0001"

SCHEMA = "analytics"
FINISHED_SHARE = 0.95  # ugc's default `finished_ratio`
# ugc's fixed-width UTC time stamps (`kinoteka.ugc.documents.stamp`): text order is time order.
STAMP = """to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""


def upgrade() -> None:
    op.execute(
        f"""
        INSERT INTO ugc.progress (key, doc)
        SELECT wp.user_id::text || ':' || wp.film_id::text,
               jsonb_build_object(
                 'user_id', wp.user_id::text,
                 'film_id', wp.film_id::text,
                 'position_seconds', wp.position,
                 'duration_seconds', wp.duration,
                 'client_time', {STAMP.format("wp.watched_at")},
                 'updated', {STAMP.format("wp.watched_at")},
                 'finished', coalesce(wp.duration > 0
                                      AND wp.position >= {FINISHED_SHARE} * wp.duration, false))
          FROM {SCHEMA}.watch_progress wp
         WHERE wp.duration IS NULL OR wp.position <= wp.duration
        ON CONFLICT (key) DO UPDATE SET doc = EXCLUDED.doc
         WHERE EXCLUDED.doc ->> 'client_time' > ugc.progress.doc ->> 'client_time'
        """
    )
    op.drop_table("watch_progress", schema=SCHEMA)


def downgrade() -> None:
    # The table comes back empty: the positions stay in ugc, which keeps them now.
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
