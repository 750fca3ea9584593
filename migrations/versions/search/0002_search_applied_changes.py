"""Search sync: remember the changes the index acknowledged, so the safety pass skips them.

`search.applied` keeps, per entity, the `recorded` time of the newest queued change the index
acknowledged (rows older than the safety pass's window are purged by the pass itself). The
safety pass re-queues a recently modified row only when neither the queue nor this table holds
a change recorded at or after its `modified`: what the triggers missed, not what they already
delivered. An index on the queue's entity ids answers the same question for pending changes.

Revision ID: search_0002
Revises: search_0001
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "search_0002"
down_revision: str | Sequence[str] | None = "search_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE search.applied (
            entity text NOT NULL,
            entity_id uuid NOT NULL,
            recorded timestamptz NOT NULL,
            applied timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_applied PRIMARY KEY (entity_id, entity),
            CONSTRAINT ck_applied_entity CHECK (entity IN ('film', 'genre', 'person'))
        )
        """
    )
    op.execute("CREATE INDEX ix_applied_applied ON search.applied (applied)")
    op.execute("CREATE INDEX ix_change_entity_id ON search.change (entity_id, entity)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS search.ix_change_entity_id")
    op.execute("DROP TABLE IF EXISTS search.applied")
