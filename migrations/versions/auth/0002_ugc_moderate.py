"""Built-in roles: admins and super users moderate reviews (`ugc.moderate`).

Revision ID: auth_0002
Revises: auth_0001
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "auth_0002"
down_revision: str | Sequence[str] | None = "auth_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PERMISSION = "ugc.moderate"
ROLES = ("admin", "super_user")


def upgrade() -> None:
    op.execute(
        f"UPDATE auth.role SET permissions = array_append(permissions, '{PERMISSION}') "
        f"WHERE name IN {ROLES!r} AND NOT ('{PERMISSION}' = ANY(permissions))"
    )


def downgrade() -> None:
    op.execute(
        f"UPDATE auth.role SET permissions = array_remove(permissions, '{PERMISSION}') "
        f"WHERE name IN {ROLES!r}"
    )
