"""Built-in roles gain `content.watch` (every account) and `media.upload` (admins).

Revision ID: media_0002
Revises: media_0001
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "media_0002"
down_revision: str | Sequence[str] | None = "media_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "auth_0001"

# A frozen copy of who gets what, as when this revision was written.
GRANTS = {
    "content.watch": ("public_user", "subscriber", "admin", "super_user"),
    "media.upload": ("admin", "super_user"),
}


def upgrade() -> None:
    for permission, roles in GRANTS.items():
        names = ", ".join(f"'{role}'" for role in roles)
        op.execute(
            f"UPDATE auth.role SET permissions = array_append(permissions, '{permission}') "
            f"WHERE name IN ({names}) AND NOT '{permission}' = ANY(permissions)"
        )


def downgrade() -> None:
    for permission in GRANTS:
        op.execute(f"UPDATE auth.role SET permissions = array_remove(permissions, '{permission}')")
