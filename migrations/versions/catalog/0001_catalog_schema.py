"""Catalog schema: films, genres, persons and credits in `content`, `modified` kept by trigger.

Revision ID: catalog_0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision: str = "catalog_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("catalog",)
depends_on: str | Sequence[str] | None = None

SCHEMA = "content"
ROLES = ("actor", "director", "writer", "producer", "composer", "cinematographer", "editor")


def _timestamps(modified: bool = True) -> list[sa.Column[object]]:
    columns: list[sa.Column[object]] = [
        sa.Column(
            "created", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        )
    ]
    if modified:
        columns.append(
            sa.Column(
                "modified", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
            )
        )
    return columns


def upgrade() -> None:
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    op.execute(
        f"""
        CREATE FUNCTION {SCHEMA}.touch_modified() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.modified := now();
            RETURN NEW;
        END $$
        """
    )
    op.create_table(
        "film_work",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("creation_date", sa.Date()),
        sa.Column("file_path", sa.Text()),
        sa.Column("rating", sa.Float()),
        sa.Column("type", sa.String(32), nullable=False),
        *_timestamps(),
        sa.CheckConstraint("rating >= 0 AND rating <= 10", name=op.f("ck_film_work_rating_range")),
        sa.CheckConstraint("type IN ('movie', 'tv_show')", name=op.f("ck_film_work_film_type")),
        sa.PrimaryKeyConstraint("id", name="pk_film_work"),
        schema=SCHEMA,
    )
    op.create_index("ix_film_work_modified_id", "film_work", ["modified", "id"], schema=SCHEMA)
    op.create_index("ix_film_work_creation_date", "film_work", ["creation_date"], schema=SCHEMA)
    op.create_index("ix_film_work_rating", "film_work", ["rating"], schema=SCHEMA)
    op.create_index("ix_film_work_title", "film_work", ["title"], schema=SCHEMA)

    op.create_table(
        "genre",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text()),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_genre"),
        sa.UniqueConstraint("name", name="uq_genre_name"),
        schema=SCHEMA,
    )
    op.create_index("ix_genre_modified_id", "genre", ["modified", "id"], schema=SCHEMA)

    op.create_table(
        "person",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("full_name", sa.Text(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_person"),
        schema=SCHEMA,
    )
    op.create_index("ix_person_modified_id", "person", ["modified", "id"], schema=SCHEMA)
    op.create_index("ix_person_full_name", "person", ["full_name"], schema=SCHEMA)

    op.create_table(
        "genre_film_work",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("film_work_id", UUID(as_uuid=True), nullable=False),
        sa.Column("genre_id", UUID(as_uuid=True), nullable=False),
        *_timestamps(modified=False),
        sa.PrimaryKeyConstraint("id", name="pk_genre_film_work"),
        sa.ForeignKeyConstraint(
            ["film_work_id"], [f"{SCHEMA}.film_work.id"], ondelete="CASCADE",
            name="fk_genre_film_work_film_work_id_film_work",
        ),
        sa.ForeignKeyConstraint(
            ["genre_id"], [f"{SCHEMA}.genre.id"], ondelete="CASCADE",
            name="fk_genre_film_work_genre_id_genre",
        ),
        sa.UniqueConstraint(
            "film_work_id", "genre_id", name="uq_genre_film_work_film_work_id_genre_id"
        ),
        schema=SCHEMA,
    )  # fmt: skip
    op.create_index("ix_genre_film_work_genre_id", "genre_film_work", ["genre_id"], schema=SCHEMA)

    op.create_table(
        "person_film_work",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("film_work_id", UUID(as_uuid=True), nullable=False),
        sa.Column("person_id", UUID(as_uuid=True), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        *_timestamps(modified=False),
        sa.PrimaryKeyConstraint("id", name="pk_person_film_work"),
        sa.ForeignKeyConstraint(
            ["film_work_id"], [f"{SCHEMA}.film_work.id"], ondelete="CASCADE",
            name="fk_person_film_work_film_work_id_film_work",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], [f"{SCHEMA}.person.id"], ondelete="CASCADE",
            name="fk_person_film_work_person_id_person",
        ),
        sa.UniqueConstraint(
            "film_work_id", "person_id", "role",
            name="uq_person_film_work_film_work_id_person_id_role",
        ),
        sa.CheckConstraint(
            "role IN (" + ", ".join(f"'{role}'" for role in ROLES) + ")",
            name=op.f("ck_person_film_work_person_role"),
        ),
        schema=SCHEMA,
    )  # fmt: skip
    op.create_index(
        "ix_person_film_work_person_id", "person_film_work", ["person_id"], schema=SCHEMA
    )

    for table in ("film_work", "genre", "person"):
        op.execute(
            f"CREATE TRIGGER {table}_touch_modified BEFORE UPDATE ON {SCHEMA}.{table} "
            f"FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.touch_modified()"
        )


def downgrade() -> None:
    for table in ("person_film_work", "genre_film_work", "person", "genre", "film_work"):
        op.drop_table(table, schema=SCHEMA)
    op.execute(f"DROP FUNCTION {SCHEMA}.touch_modified()")
    op.execute(f"DROP SCHEMA IF EXISTS {SCHEMA}")
