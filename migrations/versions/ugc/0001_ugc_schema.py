"""UGC schema: the PostgreSQL document store's collections (`key`, JSONB `doc`) and the
expression indexes their queries use.

Revision ID: ugc_0001
Revises:
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "ugc_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("ugc",)
depends_on: str | Sequence[str] | None = None

SCHEMA = "ugc"

# Per collection: its indexes, as (name suffix, JSONB fields with direction).
COLLECTIONS: dict[str, list[tuple[str, list[str]]]] = {
    "bookmarks": [("user_created", ["user_id", "created DESC"])],
    "ratings": [("film", ["film_id"]), ("user", ["user_id"])],
    "reviews": [
        ("film_created", ["film_id", "hidden", "created DESC"]),
        ("film_likes", ["film_id", "hidden", "likes DESC"]),
        ("user_created", ["user_id", "created DESC"]),
    ],
    "review_votes": [("review", ["review_id"]), ("user", ["user_id"])],
    "progress": [("user_updated", ["user_id", "finished", "updated DESC"])],
    "film_stats": [],
}


def _expression(field: str) -> str:
    name, _, direction = field.partition(" ")
    return f"(doc -> '{name}') {direction}".strip()


def upgrade() -> None:
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    for table, indexes in COLLECTIONS.items():
        op.execute(
            f"CREATE TABLE {SCHEMA}.{table} (key text NOT NULL, doc jsonb NOT NULL, "
            f"CONSTRAINT pk_{table} PRIMARY KEY (key))"
        )
        for suffix, fields in indexes:
            columns = ", ".join(_expression(field) for field in fields)
            op.execute(f"CREATE INDEX ix_{table}_{suffix} ON {SCHEMA}.{table} ({columns})")


def downgrade() -> None:
    op.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
