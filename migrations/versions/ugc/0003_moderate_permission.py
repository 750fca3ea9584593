"""Built-in roles gain `ugc.moderate` (admins and super users hide and restore reviews).

Revision ID: ugc_0003
Revises: ugc_0002
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "ugc_0003"
down_revision: str | Sequence[str] | None = "ugc_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "auth_0001"

# A frozen copy of who gets it, as when this revision was written.
PERMISSION = "ugc.moderate"
ROLES = ("admin", "super_user")


def upgrade() -> None:
    names = ", ".join(f"'{role}'" for role in ROLES)
    op.execute(
        f"UPDATE auth.role SET permissions = array_append(permissions, '{PERMISSION}') "
        f"WHERE name IN ({names}) AND NOT '{PERMISSION}' = ANY(permissions)"
    )


def downgrade() -> None:
    op.execute(f"UPDATE auth.role SET permissions = array_remove(permissions, '{PERMISSION}')")
