"""The SQLite importer against the shared 999-film catalog, on both PostgreSQL footprints."""

from __future__ import annotations

import re
import sqlite3
import uuid
from pathlib import Path

import psycopg
import pytest

from kinoteka.catalog.sqlite_import import ImportInputError, import_sqlite
from kinoteka.infra.db import libpq_url
from tests.conftest import (
    MOVIES_SQLITE,
    TEMPLATE,
    create_database,
    drop_database,
    requires_movies,
)

EXPECTED = {
    "film_work": 999,
    "genre": 26,
    "person": 4166,
    "genre_film_work": 2231,
    "person_film_work": 5783,
}


def _counts(url: str) -> dict[str, int]:
    with psycopg.connect(libpq_url(url)) as connection:
        return {
            table: connection.execute(f"SELECT count(*) FROM content.{table}").fetchone()[0]  # type: ignore[index]  # noqa: S608
            for table in EXPECTED
        }


def _roles(url: str) -> dict[str, int]:
    with psycopg.connect(libpq_url(url)) as connection:
        return dict(
            connection.execute(
                "SELECT role, count(*) FROM content.person_film_work GROUP BY role"
            ).fetchall()
        )


@pytest.fixture(params=["embedded", "server"])
def target_url(request: pytest.FixtureRequest) -> object:
    server = request.getfixturevalue(
        "embedded_postgres" if request.param == "embedded" else "server_postgres"
    )
    name = f"import_{uuid.uuid4().hex[:10]}"
    url = create_database(server, name, template=TEMPLATE)
    yield url
    drop_database(server, name)


@requires_movies
def test_import_counts_checksums_and_second_run_is_a_no_op(target_url: str) -> None:
    first = import_sqlite(target_url, MOVIES_SQLITE)
    assert first.verified
    assert {t.table: t.inserted for t in first.tables} == EXPECTED
    assert _counts(target_url) == EXPECTED
    assert _roles(target_url) == {"actor": 3401, "writer": 1561, "director": 821}
    assert all(t.source_checksum == t.target_checksum for t in first.tables)

    second = import_sqlite(target_url, MOVIES_SQLITE)
    assert not second.changed
    assert second.verified
    assert _counts(target_url) == EXPECTED


@requires_movies
def test_import_repairs_a_drifted_row(fresh_database: str) -> None:
    import_sqlite(fresh_database, MOVIES_SQLITE)
    with psycopg.connect(libpq_url(fresh_database)) as connection:
        connection.execute("UPDATE content.film_work SET title = 'drifted' WHERE rating = 8.0")
    report = import_sqlite(fresh_database, MOVIES_SQLITE)
    film = next(t for t in report.tables if t.table == "film_work")
    assert film.updated > 0
    assert film.inserted == 0
    assert report.verified


def _copy_source(tmp_path: Path) -> Path:
    target = tmp_path / "movies.sqlite"
    target.write_bytes(MOVIES_SQLITE.read_bytes())
    return target


@requires_movies
@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        ("DROP TABLE person_film_work", "table 'person_film_work' is missing"),
        ("ALTER TABLE genre DROP COLUMN description", "column genre.description is missing"),
        ("UPDATE film_work SET rating = 42 WHERE rowid = 7", "film_work row 7 (id="),
        ("UPDATE person_film_work SET role = 'grip' WHERE rowid = 3", "column role"),
        ("UPDATE person SET id = 'not-a-uuid' WHERE rowid = 5", "person row 5 (id=not-a-uuid)"),
        (
            "UPDATE person_film_work SET person_id = '00000000-0000-4000-8000-000000000000' "
            "WHERE rowid = 9",
            "person_film_work",
        ),
    ],
)
def test_bad_sources_are_refused_with_nothing_written(
    fresh_database: str, tmp_path: Path, mutate: str, message: str
) -> None:
    source = _copy_source(tmp_path)
    with sqlite3.connect(source) as connection:
        connection.execute(mutate)
    with pytest.raises(ImportInputError, match=re.escape(message)):
        import_sqlite(fresh_database, source)
    assert set(_counts(fresh_database).values()) == {0}


def test_missing_and_non_sqlite_files_are_refused(fresh_database: str, tmp_path: Path) -> None:
    with pytest.raises(ImportInputError, match="no such file"):
        import_sqlite(fresh_database, tmp_path / "absent.sqlite")
    text = tmp_path / "notes.sqlite"
    text.write_text("just some text, not a database\n" * 100)
    with pytest.raises(ImportInputError, match="not a SQLite database"):
        import_sqlite(fresh_database, text)
    assert set(_counts(fresh_database).values()) == {0}
