"""Search sync: change queue fed by statement triggers on `content.*` (with NOTIFY), state table.

Revision ID: search_0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "search_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("search",)
depends_on: str | Sequence[str] | None = "catalog_0001"

SCHEMA = "search"
CHANNEL = "kinoteka_search"

# Per catalog table: what a changed row means for the index, as SELECTs over a transition
# table `{rows}`: the entity itself, and the films whose documents embed it (fan-out).
CAPTURE = {
    "film_work": ["SELECT 'film', r.id FROM {rows} r"],
    "genre": [
        "SELECT 'genre', r.id FROM {rows} r",
        "SELECT 'film', l.film_work_id FROM {rows} r"
        " JOIN content.genre_film_work l ON l.genre_id = r.id",
    ],
    "person": [
        "SELECT 'person', r.id FROM {rows} r",
        "SELECT 'film', l.film_work_id FROM {rows} r"
        " JOIN content.person_film_work l ON l.person_id = r.id",
    ],
    "genre_film_work": ["SELECT 'film', r.film_work_id FROM {rows} r"],
    "person_film_work": [
        "SELECT 'film', r.film_work_id FROM {rows} r",
        "SELECT 'person', r.person_id FROM {rows} r",
    ],
}


def _selects(table: str, rows: str) -> str:
    return " UNION ".join(select.format(rows=rows) for select in CAPTURE[table])


def upgrade() -> None:
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    op.execute(
        f"""
        CREATE TABLE {SCHEMA}.change (
            seq bigint GENERATED ALWAYS AS IDENTITY,
            entity text NOT NULL,
            entity_id uuid NOT NULL,
            recorded timestamptz NOT NULL DEFAULT clock_timestamp(),
            CONSTRAINT pk_change PRIMARY KEY (seq),
            CONSTRAINT ck_change_entity CHECK (entity IN ('film', 'genre', 'person'))
        )
        """
    )
    op.execute(
        f"""
        CREATE TABLE {SCHEMA}.sync_state (
            name text NOT NULL,
            state jsonb NOT NULL,
            saved timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_sync_state PRIMARY KEY (name)
        )
        """
    )
    insert = f"INSERT INTO {SCHEMA}.change (entity, entity_id)"
    for table in CAPTURE:
        function = f"{SCHEMA}.capture_{table}"
        op.execute(
            f"""
            CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'INSERT' THEN
                    {insert} {_selects(table, "new_rows")};
                ELSIF TG_OP = 'UPDATE' THEN
                    {insert} {_selects(table, "new_rows")} UNION {_selects(table, "old_rows")};
                ELSE
                    {insert} {_selects(table, "old_rows")};
                END IF;
                PERFORM pg_notify('{CHANNEL}', '');
                RETURN NULL;
            END $$
            """
        )
        # A trigger with transition tables handles one event, hence three per table.
        for event, referencing in (
            ("INSERT", "NEW TABLE AS new_rows"),
            ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
            ("DELETE", "OLD TABLE AS old_rows"),
        ):
            op.execute(
                f"CREATE TRIGGER search_capture_{event.lower()} AFTER {event} ON content.{table}"
                f" REFERENCING {referencing} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
            )


def downgrade() -> None:
    for table in CAPTURE:
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS search_capture_{event} ON content.{table}")
        op.execute(f"DROP FUNCTION IF EXISTS {SCHEMA}.capture_{table}()")
    op.execute(f"DROP TABLE IF EXISTS {SCHEMA}.sync_state")
    op.execute(f"DROP TABLE IF EXISTS {SCHEMA}.change")
    op.execute(f"DROP SCHEMA IF EXISTS {SCHEMA}")
