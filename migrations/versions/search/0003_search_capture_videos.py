"""Search sync: a film's document follows its playable video (`has_video`, `duration`, …).

Statement triggers on `media.videos` queue the film's id in `search.change` (and NOTIFY) as
the catalog's do, but only when what the document shows may change: a row inserted or
deleted with a switched-in version, or an update of its film, status, switched-in version,
duration or qualities (not the progress and heartbeats a job writes every few seconds).

Revision ID: search_0003
Revises: search_0002
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "search_0003"
down_revision: str | Sequence[str] | None = "search_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "media_0002"

CHANNEL = "kinoteka_search"
FUNCTION = "search.capture_videos"
INSERT = "INSERT INTO search.change (entity, entity_id)"
FIELDS = ("film_id", "status", "current_version", "duration", "qualities")
_CHANGED = " OR ".join(f"o.{name} IS DISTINCT FROM n.{name}" for name in FIELDS)


def upgrade() -> None:
    op.execute(
        f"""
        CREATE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            queued bigint;
        BEGIN
            IF TG_OP = 'INSERT' THEN
                {INSERT} SELECT DISTINCT 'film', r.film_id FROM new_rows r
                          WHERE r.current_version IS NOT NULL;
            ELSIF TG_OP = 'UPDATE' THEN
                {INSERT} SELECT 'film', n.film_id FROM new_rows n JOIN old_rows o ON o.id = n.id
                          WHERE {_CHANGED}
                          UNION
                         SELECT 'film', o.film_id FROM new_rows n JOIN old_rows o ON o.id = n.id
                          WHERE {_CHANGED};
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
    )
    for event, referencing in (
        ("INSERT", "NEW TABLE AS new_rows"),
        ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
        ("DELETE", "OLD TABLE AS old_rows"),
    ):
        op.execute(
            f"CREATE TRIGGER search_capture_{event.lower()} AFTER {event} ON media.videos"
            f" REFERENCING {referencing} FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()"
        )


def downgrade() -> None:
    for event in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS search_capture_{event} ON media.videos")
    op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")
