"""Migrations up and down on an empty database; the schema they build behaves as documented."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from kinoteka.infra.db import libpq_url, migrations
from tests.conftest import create_database, drop_database


@pytest.fixture
def empty_database(embedded_postgres: str) -> Iterator[str]:
    name = f"empty_{uuid.uuid4().hex[:10]}"
    url = create_database(embedded_postgres, name)
    yield url
    drop_database(embedded_postgres, name)


def _schemas(url: str) -> set[str]:
    with psycopg.connect(libpq_url(url)) as connection:
        rows = connection.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg_%' "
            "AND nspname NOT IN ('information_schema', 'public')"
        ).fetchall()
    return {row[0] for row in rows}


def test_upgrade_and_downgrade_on_an_empty_database(empty_database: str) -> None:
    migrations.upgrade(empty_database)
    assert "content" in _schemas(empty_database)
    heads = migrations.current_heads(empty_database)
    assert "catalog_0001" in heads or any(h.startswith("catalog_") for h in heads)

    migrations.downgrade(empty_database, "base")
    assert migrations.current_heads(empty_database) == set()
    assert "content" not in _schemas(empty_database)

    migrations.upgrade(empty_database)  # and up again, from nothing
    assert "content" in _schemas(empty_database)


def test_modified_is_kept_current_by_the_database(fresh_database: str) -> None:
    with psycopg.connect(libpq_url(fresh_database), autocommit=True) as connection:
        film_id = uuid.uuid4()
        connection.execute(
            "INSERT INTO content.film_work (id, title, type) VALUES (%s, 'Before', 'movie')",
            (film_id,),
        )
        before = connection.execute(
            "SELECT modified FROM content.film_work WHERE id = %s", (film_id,)
        ).fetchone()
        time.sleep(0.01)  # two transactions need distinct now() values, not a wait for work
        connection.execute(
            "UPDATE content.film_work SET title = 'After', modified = '2000-01-01' WHERE id = %s",
            (film_id,),
        )
        after = connection.execute(
            "SELECT modified FROM content.film_work WHERE id = %s", (film_id,)
        ).fetchone()
    assert before is not None
    assert after is not None
    assert after[0] > before[0]


@pytest.mark.parametrize(
    ("statement", "constraint"),
    [
        ("INSERT INTO content.film_work (id, title, type, rating) "
         "VALUES (gen_random_uuid(), 'x', 'movie', 11)", "ck_film_work_rating_range"),
        ("INSERT INTO content.film_work (id, title, type) "
         "VALUES (gen_random_uuid(), 'x', 'opera')", "ck_film_work_film_type"),
        ("INSERT INTO content.genre (id, name) VALUES (gen_random_uuid(), 'Dup'), "
         "(gen_random_uuid(), 'Dup')", "uq_genre_name"),
    ],
)  # fmt: skip
def test_constraints_hold(fresh_database: str, statement: str, constraint: str) -> None:
    with psycopg.connect(libpq_url(fresh_database)) as connection:
        with pytest.raises(psycopg.errors.IntegrityError) as raised:
            connection.execute(statement)
        assert raised.value.diag.constraint_name == constraint


def test_deleting_a_film_cascades_to_its_credits(fresh_database: str) -> None:
    with psycopg.connect(libpq_url(fresh_database), autocommit=True) as connection:
        film, person, genre = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        connection.execute(
            "INSERT INTO content.film_work (id, title, type) VALUES (%s, 'F', 'movie')", (film,)
        )
        connection.execute("INSERT INTO content.person (id, full_name) VALUES (%s, 'P')", (person,))
        connection.execute("INSERT INTO content.genre (id, name) VALUES (%s, 'G')", (genre,))
        connection.execute(
            "INSERT INTO content.person_film_work (id, film_work_id, person_id, role) "
            "VALUES (gen_random_uuid(), %s, %s, 'actor'), (gen_random_uuid(), %s, %s, 'director')",
            (film, person, film, person),
        )
        connection.execute(
            "INSERT INTO content.genre_film_work (id, film_work_id, genre_id) "
            "VALUES (gen_random_uuid(), %s, %s)",
            (film, genre),
        )
        connection.execute("DELETE FROM content.film_work WHERE id = %s", (film,))
        left = connection.execute(
            "SELECT (SELECT count(*) FROM content.person_film_work) "
            "+ (SELECT count(*) FROM content.genre_film_work)"
        ).fetchone()
    assert left == (0,)


def test_models_and_migrations_agree(fresh_database: str) -> None:
    """Autogenerate finds nothing to do: the ORM models describe what the migrations build."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    from kinoteka.infra.db import sync_url
    from kinoteka.tables import metadata

    engine = create_engine(sync_url(fresh_database))
    try:
        with engine.connect() as connection:
            modelled = {(table.schema, table.name) for table in metadata.tables.values()}

            def include_object(
                obj: object, name: str | None, kind: str, reflected: bool, compare_to: object
            ) -> bool:
                # Tables without a model (alembic_version, partitions of a partitioned table,
                # queue tables kept in SQL) and their indexes are the migrations' own business.
                table = obj if kind == "table" else getattr(obj, "table", None)
                key = (getattr(table, "schema", None), getattr(table, "name", None))
                return not (reflected and compare_to is None and key not in modelled)

            context = MigrationContext.configure(
                connection,
                opts={
                    "include_schemas": True,
                    "compare_type": False,
                    "include_object": include_object,
                },
            )
            diff = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_analytics_resume_points_move_into_ugc_progress(empty_database: str) -> None:
    """analytics_0002 drops the second "continue watching" table, keeping its positions."""
    migrations.upgrade(empty_database, "analytics_0001")
    migrations.upgrade(empty_database, "ugc@head")
    user, film, newer_film = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(libpq_url(empty_database)) as connection:
        connection.execute(
            "INSERT INTO analytics.watch_progress VALUES"
            " (%s, %s, 120.5, 6000, '2026-11-30 10:00:00+00'),"
            " (%s, %s, 5900, 6000, '2026-11-30 11:00:00+00')",
            (user, film, user, newer_film),
        )
        # ugc already holds a later heartbeat of the second film: it stays.
        connection.execute(
            "INSERT INTO ugc.progress VALUES (%s, %s)",
            (
                f"{user}:{newer_film}",
                '{"position_seconds": 10, "client_time": "2026-12-01T00:00:00.000000Z"}',
            ),
        )
    migrations.upgrade(empty_database)
    with psycopg.connect(libpq_url(empty_database)) as connection:
        rows: dict[str, dict[str, object]] = dict(
            connection.execute("SELECT key, doc FROM ugc.progress").fetchall()
        )
        left = connection.execute("SELECT to_regclass('analytics.watch_progress')").fetchone()
    assert left == (None,)
    assert rows[f"{user}:{film}"] == {
        "user_id": str(user),
        "film_id": str(film),
        "position_seconds": 120.5,
        "duration_seconds": 6000,
        "client_time": "2026-11-30T10:00:00.000000Z",
        "updated": "2026-11-30T10:00:00.000000Z",
        "finished": False,
    }
    assert rows[f"{user}:{newer_film}"]["position_seconds"] == 10


def test_refused_events_kept_before_analytics_0003_all_stay(empty_database: str) -> None:
    """analytics_0003 keys each refused event; the rows kept before (resends' copies too)
    each get a key of their own and none is lost."""
    migrations.upgrade(empty_database, "analytics_0002")
    user = uuid.uuid4()
    with psycopg.connect(libpq_url(empty_database)) as connection:
        connection.execute(
            "INSERT INTO analytics.failed_event"
            " (user_id, source, batch_index, event_id, reason, payload)"
            " SELECT %s, 'api/v1/events', 1, NULL, 'position: bad', '{\"type\": \"pause\"}'"
            " FROM generate_series(1, 2)",
            (user,),
        )
    migrations.upgrade(empty_database)
    with psycopg.connect(libpq_url(empty_database)) as connection:
        keys = connection.execute("SELECT dedup_key FROM analytics.failed_event").fetchall()
    assert len({key for (key,) in keys}) == 2
    assert None not in {key for (key,) in keys}
