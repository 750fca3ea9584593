"""A film's UGC summary reaches its search document: a change to `ugc.film_stats` queues the
film in the search sync's change queue (`search.change`, with its NOTIFY), like the catalog's
own triggers do; the film document query reads the summary (a sanctioned cross-context read).

Revision ID: ugc_0002
Revises: ugc_0001
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "ugc_0002"
down_revision: str | Sequence[str] | None = "ugc_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "search_0001"

CHANNEL = "kinoteka_search"
FUNCTION = "ugc.queue_film_stats_change"


def upgrade() -> None:
    # Only keys that are film ids are queued (every key the context writes is one).
    select = (
        "SELECT 'film', r.key::uuid FROM {rows} r WHERE r.key ~ "
        "'^[0-9a-f]{{8}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{12}}$'"
    )
    insert = "INSERT INTO search.change (entity, entity_id)"
    op.execute(
        f"""
        CREATE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                {insert} {select.format(rows="old_rows")};
            ELSE
                {insert} {select.format(rows="new_rows")};
            END IF;
            PERFORM pg_notify('{CHANNEL}', '');
            RETURN NULL;
        END $$
        """
    )
    for event, referencing in (
        ("INSERT", "NEW TABLE AS new_rows"),
        ("UPDATE", "NEW TABLE AS new_rows"),
        ("DELETE", "OLD TABLE AS old_rows"),
    ):
        op.execute(
            f"CREATE TRIGGER search_capture_{event.lower()} AFTER {event} ON ugc.film_stats"
            f" REFERENCING {referencing} FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()"
        )


def downgrade() -> None:
    for event in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS search_capture_{event} ON ugc.film_stats")
    op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")
