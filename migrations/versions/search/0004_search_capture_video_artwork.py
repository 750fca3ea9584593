"""Search sync: a film's document follows its video's artwork (`video_poster_url`, `preview_url`).

The artwork of a switched-in version is added after the video plays (`outputs.artwork`), so
the trigger on `media.videos` from `search_0003` now also queues the film when a row's
`outputs` change: at a switch-in, when the artwork is added and when it is given up; never on
a job's progress and heartbeat writes.

Revision ID: search_0004
Revises: search_0003
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "search_0004"
down_revision: str | Sequence[str] | None = "search_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNEL = "kinoteka_search"
FUNCTION = "search.capture_videos"
INSERT = "INSERT INTO search.change (entity, entity_id)"
BEFORE = ("film_id", "status", "current_version", "duration", "qualities")
AFTER = (*BEFORE, "outputs")


def _function(fields: Sequence[str]) -> str:
    changed = " OR ".join(f"o.{name} IS DISTINCT FROM n.{name}" for name in fields)
    return f"""
        CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            queued bigint;
        BEGIN
            IF TG_OP = 'INSERT' THEN
                {INSERT} SELECT DISTINCT 'film', r.film_id FROM new_rows r
                          WHERE r.current_version IS NOT NULL;
            ELSIF TG_OP = 'UPDATE' THEN
                {INSERT} SELECT 'film', n.film_id FROM new_rows n JOIN old_rows o ON o.id = n.id
                          WHERE {changed}
                          UNION
                         SELECT 'film', o.film_id FROM new_rows n JOIN old_rows o ON o.id = n.id
                          WHERE {changed};
            ELSE
                {INSERT} SELECT DISTINCT 'film', r.film_id FROM old_rows r
                          WHERE r.current_version IS NOT NULL;
            END IF;
            GET DIAGNOSTICS queued = ROW_COUNT;
            IF queued > 0 THEN
                PERFORM pg_notify('{CHANNEL}', '');
            END IF;
            RETURN NULL;
        END $$
        """


def upgrade() -> None:
    op.execute(_function(AFTER))


def downgrade() -> None:
    op.execute(_function(BEFORE))
