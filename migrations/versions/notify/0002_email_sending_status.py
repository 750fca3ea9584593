"""Email deliveries get a `sending` status: a sender claims a batch (status `sending`, the
claim time in `updated`), commits, sends over SMTP with no transaction open, then records the
results in one statement.

Revision ID: notify_0002
Revises: notify_0001
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "notify_0002"
down_revision: str | Sequence[str] | None = "notify_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONSTRAINT = "ck_delivery_delivery_status"


def _statuses(*values: str) -> None:
    listed = ", ".join(f"'{value}'" for value in values)
    op.execute(
        f"ALTER TABLE notify.delivery DROP CONSTRAINT {CONSTRAINT}, "
        f"ADD CONSTRAINT {CONSTRAINT} CHECK (status IN ({listed}))"
    )


def upgrade() -> None:
    _statuses("queued", "sending", "sent", "failed")


def downgrade() -> None:
    op.execute("UPDATE notify.delivery SET status = 'queued' WHERE status = 'sending'")
    _statuses("queued", "sent", "failed")
