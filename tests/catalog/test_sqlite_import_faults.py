"""Faulty SQLite sources: each fault is one line naming table, row and column, nothing written."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from kinoteka.catalog.cli import app
from kinoteka.catalog.sqlite_import import ImportInputError, import_sqlite
from kinoteka.infra.db import libpq_url

TABLES = ("film_work", "genre", "person", "genre_film_work", "person_film_work")
FILM = "11111111-1111-4111-8111-111111111111"
GENRE = "22222222-2222-4222-8222-222222222222"
PERSON = "33333333-3333-4333-8333-333333333333"

SCHEMA = """
CREATE TABLE genre (id TEXT, name TEXT, description TEXT, created_at TEXT, updated_at TEXT);
CREATE TABLE person (id TEXT, full_name TEXT, created_at TEXT, updated_at TEXT);
CREATE TABLE film_work (id TEXT, title TEXT, description TEXT, creation_date TEXT,
    file_path TEXT, rating REAL, type TEXT, created_at TEXT, updated_at TEXT);
CREATE TABLE genre_film_work (id TEXT, film_work_id TEXT, genre_id TEXT, created_at TEXT);
CREATE TABLE person_film_work (id TEXT, film_work_id TEXT, person_id TEXT, role TEXT,
    created_at TEXT);
"""


def _id() -> str:
    return str(uuid.uuid4())


def build_source(path: Path, fault: Callable[[sqlite3.Connection], None] | None = None) -> Path:
    """A valid two-film catalog, then `fault` applied to it."""
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA)
        db.execute("INSERT INTO genre VALUES (?, 'Drama', NULL, NULL, NULL)", (GENRE,))
        db.execute("INSERT INTO person VALUES (?, 'Ann Lee', NULL, NULL)", (PERSON,))
        db.execute(
            "INSERT INTO film_work VALUES (?, 'First', NULL, NULL, NULL, 7.5, 'movie', NULL, NULL)",
            (FILM,),
        )
        db.execute(
            "INSERT INTO film_work VALUES (?, 'Second', NULL, NULL, NULL, 6, 'movie', NULL, NULL)",
            (_id(),),
        )
        db.execute("INSERT INTO genre_film_work VALUES (?, ?, ?, NULL)", (_id(), FILM, GENRE))
        db.execute(
            "INSERT INTO person_film_work VALUES (?, ?, ?, 'actor', NULL)", (_id(), FILM, PERSON)
        )
        if fault is not None:
            fault(db)
    db.close()
    return path


def _counts(url: str) -> dict[str, int]:
    with psycopg.connect(libpq_url(url)) as connection:
        return {
            table: connection.execute(f"SELECT count(*) FROM content.{table}").fetchone()[0]  # type: ignore[index]  # noqa: S608
            for table in TABLES
        }


def _repeat_film_id(db: sqlite3.Connection) -> None:
    db.execute(
        "INSERT INTO film_work VALUES (?, 'Again', NULL, NULL, NULL, 5, 'movie', NULL, NULL)",
        (FILM,),
    )


def _nul_in_title(db: sqlite3.Connection) -> None:
    db.execute("UPDATE film_work SET title = ? WHERE rowid = 2", ("Sec\x00ond",))


def _nul_in_person(db: sqlite3.Connection) -> None:
    db.execute("UPDATE person SET full_name = ?", ("Ann\x00Lee",))


def _invalid_utf8(db: sqlite3.Connection) -> None:
    db.execute("UPDATE film_work SET description = CAST(? AS TEXT) WHERE rowid = 1", (b"\xff\xfe",))


def _repeat_genre_link(db: sqlite3.Connection) -> None:
    db.execute("INSERT INTO genre_film_work VALUES (?, ?, ?, NULL)", (_id(), FILM, GENRE))


def _repeat_credit(db: sqlite3.Connection) -> None:
    db.execute(
        "INSERT INTO person_film_work VALUES (?, ?, ?, 'actor', NULL)", (_id(), FILM, PERSON)
    )


def _repeat_genre_name(db: sqlite3.Connection) -> None:
    db.execute("INSERT INTO genre VALUES (?, 'Drama', NULL, NULL, NULL)", (_id(),))


def _dangling_genre(db: sqlite3.Connection) -> None:
    db.execute("INSERT INTO genre_film_work VALUES (?, ?, ?, NULL)", (_id(), FILM, _id()))


def _rating_as_text(db: sqlite3.Connection) -> None:
    db.execute("UPDATE film_work SET rating = 'great' WHERE rowid = 2")


def _blob_as_id(db: sqlite3.Connection) -> None:
    db.execute("UPDATE person SET id = ?", (b"\x00\x01",))


FAULTS = [
    (_repeat_film_id, "film_work row 3 (id=" + FILM + "): column id repeats film_work row 1"),
    (_nul_in_title, "film_work row 2 (id="),
    (_nul_in_title, "column title contains a NUL byte"),
    (_nul_in_person, "person row 1 (id=" + PERSON + "): column full_name contains a NUL byte"),
    (_invalid_utf8, "film_work row 1 (id=" + FILM + "): column description is not valid UTF-8"),
    (_repeat_genre_link, "genre_film_work row 2 (id="),
    (_repeat_genre_link, "column (film_work_id, genre_id) repeats genre_film_work row 1"),
    (_repeat_credit, "column (film_work_id, person_id, role) repeats person_film_work row 1"),
    (_repeat_genre_name, "genre row 2 (id="),
    (_repeat_genre_name, "column name repeats genre row 1"),
    (_dangling_genre, "column genre_id names genre"),
    (_rating_as_text, "film_work row 2 (id="),
    (_rating_as_text, "column rating has a bad value 'great'"),
    (_blob_as_id, "person row 1"),
    (_blob_as_id, "column id contains a NUL byte"),
]


@pytest.mark.parametrize(("fault", "message"), FAULTS)
def test_fault_is_named_and_nothing_is_written(
    fresh_database: str, tmp_path: Path, fault: Callable[[sqlite3.Connection], None], message: str
) -> None:
    source = build_source(tmp_path / "bad.sqlite", fault)
    with pytest.raises(ImportInputError) as caught:
        import_sqlite(fresh_database, source)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert set(_counts(fresh_database).values()) == {0}


def test_valid_source_imports(fresh_database: str, tmp_path: Path) -> None:
    report = import_sqlite(fresh_database, build_source(tmp_path / "good.sqlite"))
    assert report.verified
    assert _counts(fresh_database) == dict.fromkeys(TABLES, 1) | {"film_work": 2}


def test_link_held_by_the_catalog_under_another_id_is_refused_before_writing(
    fresh_database: str, tmp_path: Path
) -> None:
    import_sqlite(fresh_database, build_source(tmp_path / "first.sqlite"))
    before = _counts(fresh_database)

    def relink(db: sqlite3.Connection) -> None:
        db.execute("UPDATE genre_film_work SET id = ?", (_id(),))
        db.execute(
            "INSERT INTO film_work VALUES (?, 'Third', NULL, NULL, NULL, 1, 'movie', NULL, NULL)",
            (_id(),),
        )

    with pytest.raises(ImportInputError, match=r"already in the catalog under genre_film_work id"):
        import_sqlite(fresh_database, build_source(tmp_path / "second.sqlite", relink))
    assert _counts(fresh_database) == before


def test_links_may_name_rows_the_catalog_already_holds(fresh_database: str, tmp_path: Path) -> None:
    import_sqlite(fresh_database, build_source(tmp_path / "first.sqlite"))

    def only_links(db: sqlite3.Connection) -> None:
        db.execute("DELETE FROM genre")
        db.execute("DELETE FROM person")
        db.execute("DELETE FROM film_work")
        db.execute("DELETE FROM genre_film_work")
        db.execute("DELETE FROM person_film_work")
        db.execute("INSERT INTO person_film_work VALUES (?, ?, ?, 'writer', NULL)",
                   (_id(), FILM, PERSON))  # fmt: skip

    report = import_sqlite(fresh_database, build_source(tmp_path / "links.sqlite", only_links))
    assert report.verified
    assert _counts(fresh_database)["person_film_work"] == 2


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (_repeat_film_id, "column id repeats"),
        (_nul_in_title, "column title contains a NUL byte"),
        (_repeat_genre_link, "column (film_work_id, genre_id) repeats"),
    ],
)
def test_cli_prints_one_line_and_exits_non_zero(
    fresh_database: str,
    tmp_path: Path,
    fault: Callable[[sqlite3.Connection], None],
    message: str,
) -> None:
    source = build_source(tmp_path / "bad.sqlite", fault)
    env = {"KINOTEKA_DATABASE_URL": fresh_database, "KINOTEKA_DATA_DIR": str(tmp_path / "data")}
    result = CliRunner().invoke(app, ["import-sqlite", str(source)], env=env)
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1
    assert lines[0].startswith("error: import-sqlite: ")
    assert message in lines[0]
    assert lines[0].endswith("nothing was written")
    assert set(_counts(fresh_database).values()) == {0}
