"""Analytics schema: a refused event is kept once (`analytics.failed_event.dedup_key`).

A batch answered 503 (the bus down) is resent by the player; its refused events were kept by
the first answer and were kept again by every resend (issue #17). Each row now carries a key
naming the refused event (`kinoteka.analytics.repository.failed_event_key`: the viewer, the
batch's playback, the reason and the event as sent), unique, and the collector inserts with
`ON CONFLICT DO NOTHING`. Rows kept before get a key of their own row id: they stay as they
were, none is taken for another.

Revision ID: analytics_0003
Revises: analytics_0002
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision: str = "analytics_0003"
down_revision: str | Sequence[str] | None = "analytics_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "analytics"


def upgrade() -> None:
    op.add_column(
        "failed_event", sa.Column("dedup_key", UUID(as_uuid=True), nullable=True), schema=SCHEMA
    )
    op.execute(
        f"UPDATE {SCHEMA}.failed_event SET dedup_key = md5('failed_event:' || id::text)::uuid"
    )
    op.alter_column("failed_event", "dedup_key", nullable=False, schema=SCHEMA)
    op.create_unique_constraint(
        "uq_failed_event_dedup_key", "failed_event", ["dedup_key"], schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_constraint("uq_failed_event_dedup_key", "failed_event", schema=SCHEMA)
    op.drop_column("failed_event", "dedup_key", schema=SCHEMA)
