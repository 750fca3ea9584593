"""Import the course's SQLite layout into the catalog: checked, batched, atomic, idempotent.

The source is read and checked in full before PostgreSQL is touched; rows go through COPY into
a staging table and are upserted from there, so a second run of the same file changes nothing.
A verification pass then compares per-table counts and content checksums on both sides.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from kinoteka.catalog.models import SCHEMA, FilmType, PersonRole, analyze_catalog
from kinoteka.infra.db import libpq_url

BATCH_SIZE = 1000

Convert = Callable[[Any], Any]


class ImportInputError(Exception):
    """The source file cannot be imported; the message names what is wrong."""


def _uuid(value: Any) -> uuid.UUID:
    return uuid.UUID(str(value))


def _text(value: Any) -> str:
    if value is None or str(value).strip() == "":
        raise ValueError("must not be empty")
    return str(value)


def _optional_text(value: Any) -> str | None:
    return None if value is None else str(value)


def _rating(value: Any) -> float | None:
    if value is None or value == "":
        return None
    rating = float(value)
    if math.isnan(rating) or not 0 <= rating <= 10:
        raise ValueError(f"{value!r} is outside 0..10")
    return rating


def _date(value: Any) -> dt.date | None:
    if value is None or value == "":
        return None
    return dt.date.fromisoformat(str(value)[:10])


def _timestamp(value: Any) -> dt.datetime | None:
    if value is None or value == "":
        return None
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _film_type(value: Any) -> str:
    return FilmType(str(value)).value


def _role(value: Any) -> str:
    return PersonRole(str(value)).value


@dataclass(frozen=True)
class Column:
    source: str
    target: str
    convert: Convert
    compared: bool = True  # part of the content checksum and of the "changed?" test


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[Column, ...]
    link: bool = False  # link rows are immutable: existing ones are left as they are

    @property
    def targets(self) -> list[str]:
        return [column.target for column in self.columns]

    @property
    def compared(self) -> list[str]:
        return [column.target for column in self.columns if column.compared]


ID = Column("id", "id", _uuid)
CREATED = Column("created_at", "created", _timestamp, compared=False)
MODIFIED = Column("updated_at", "modified", _timestamp, compared=False)

# Parents before children, so foreign keys hold at every step.
TABLES: tuple[TableSpec, ...] = (
    TableSpec(
        "genre",
        (ID, Column("name", "name", _text), Column("description", "description", _optional_text),
         CREATED, MODIFIED),
    ),
    TableSpec("person", (ID, Column("full_name", "full_name", _text), CREATED, MODIFIED)),
    TableSpec(
        "film_work",
        (ID, Column("title", "title", _text),
         Column("description", "description", _optional_text),
         Column("creation_date", "creation_date", _date),
         Column("file_path", "file_path", _optional_text),
         Column("rating", "rating", _rating), Column("type", "type", _film_type),
         CREATED, MODIFIED),
    ),
    TableSpec(
        "genre_film_work",
        (ID, Column("film_work_id", "film_work_id", _uuid), Column("genre_id", "genre_id", _uuid),
         CREATED),
        link=True,
    ),
    TableSpec(
        "person_film_work",
        (ID, Column("film_work_id", "film_work_id", _uuid),
         Column("person_id", "person_id", _uuid), Column("role", "role", _role), CREATED),
        link=True,
    ),
)  # fmt: skip


@dataclass
class TableReport:
    table: str
    source_rows: int = 0
    inserted: int = 0
    updated: int = 0
    target_rows: int = 0
    source_checksum: str = ""
    target_checksum: str = ""

    @property
    def matches(self) -> bool:
        return self.source_rows == self.target_rows and self.source_checksum == self.target_checksum


@dataclass
class ImportReport:
    path: Path
    tables: list[TableReport] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(table.inserted or table.updated for table in self.tables)

    @property
    def verified(self) -> bool:
        return all(table.matches for table in self.tables)


Progress = Callable[[str, int, int], None]
"""Called as (table, rows done in this step, rows in the table)."""


def _canonical(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return str(value)


def content_checksum(rows: Iterable[Sequence[Any]]) -> str:
    """Order-independent digest of rows' compared content."""
    lines = sorted("\x1f".join(_canonical(value) for value in row) for row in rows)
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _open_source(path: Path) -> sqlite3.Connection:
    if not path.exists():
        raise ImportInputError(f"{path}: no such file")
    if not path.is_file():
        raise ImportInputError(f"{path}: not a file")
    connection = sqlite3.connect(f"file:{path.absolute()}?mode=ro", uri=True)
    try:
        connection.execute("select count(*) from sqlite_master").fetchone()
    except sqlite3.DatabaseError as error:
        connection.close()
        raise ImportInputError(f"{path}: not a SQLite database ({error})") from None
    return connection


def _check_layout(source: sqlite3.Connection, path: Path) -> None:
    for spec in TABLES:
        info = source.execute(f"PRAGMA table_info({spec.name})").fetchall()
        if not info:
            raise ImportInputError(f"{path}: table {spec.name!r} is missing")
        present = {row[1] for row in info}
        for column in spec.columns:
            if column.source not in present:
                raise ImportInputError(f"{path}: column {spec.name}.{column.source} is missing")


class _TextError(ValueError):
    """A text value PostgreSQL cannot store (NUL byte, bytes that are not UTF-8)."""


def _decoded(value: Any) -> Any:
    # The source connection hands text over as bytes, so bad UTF-8 is a row fault, not a
    # sqlite3 error that names no row.
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError as error:
            raise _TextError(
                f"is not valid UTF-8 text ({error.reason} at byte {error.start})"
            ) from None
    if isinstance(value, str) and "\x00" in value:
        raise _TextError("contains a NUL byte")
    return value


def _place(spec: TableSpec, number: int, raw_id: Any) -> str:
    return f"{spec.name} row {number} (id={raw_id})"


# What the target schema holds unique, beside each table's primary key.
UNIQUE: dict[str, tuple[tuple[str, ...], ...]] = {
    "genre": (("name",),),
    "genre_film_work": (("film_work_id", "genre_id"),),
    "person_film_work": (("film_work_id", "person_id", "role"),),
}
# (table, column) -> the table its values must name, in the source or in the catalog.
REFERENCES: dict[tuple[str, str], str] = {
    ("genre_film_work", "film_work_id"): "film_work",
    ("genre_film_work", "genre_id"): "genre",
    ("person_film_work", "film_work_id"): "film_work",
    ("person_film_work", "person_id"): "person",
}


@dataclass
class SourceTable:
    """A table's converted rows, with the place (`genre row 3 (id=…)`) of each for messages."""

    spec: TableSpec
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    places: list[str] = field(default_factory=list)

    def column(self, name: str) -> int:
        return self.spec.targets.index(name)


def _read_table(source: sqlite3.Connection, spec: TableSpec) -> SourceTable:
    names = ", ".join(column.source for column in spec.columns)
    table = SourceTable(spec)
    query = f"SELECT {names} FROM {spec.name}"  # noqa: S608 - names are ours
    for number, raw in enumerate(source.execute(query), start=1):
        raw_id = raw[0].decode("utf-8", "replace") if isinstance(raw[0], bytes) else raw[0]
        place = _place(spec, number, raw_id)
        converted = []
        for column, value in zip(spec.columns, raw, strict=True):
            try:
                converted.append(column.convert(_decoded(value)))
            except _TextError as error:
                raise ImportInputError(f"{place}: column {column.source} {error}") from None
            except (ValueError, TypeError) as error:
                shown = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
                raise ImportInputError(
                    f"{place}: column {column.source} has a bad value {shown!r} ({error})"
                ) from None
        table.rows.append(tuple(converted))
        table.places.append(place)
    return table


def _check_unique(table: SourceTable) -> None:
    keys = (("id",), *UNIQUE.get(table.spec.name, ()))
    for key in keys:
        indexes = [table.column(name) for name in key]
        seen: dict[tuple[Any, ...], int] = {}
        for position, row in enumerate(table.rows):
            value = tuple(row[i] for i in indexes)
            first = seen.setdefault(value, position)
            if first != position:
                shown = key[0] if len(key) == 1 else f"({', '.join(key)})"
                raise ImportInputError(
                    f"{table.places[position]}: column {shown} repeats "
                    f"{table.places[first]}, but the catalog keeps it unique"
                )


def read_source(path: Path) -> dict[str, SourceTable]:
    """Read, convert and cross-check every table; the first fault stops the import.

    Each fault is named by table, row and column: text PostgreSQL cannot store, values of the
    wrong type, repeated keys (primary keys and every unique constraint of the catalog), and
    links to rows the file does not hold (those the catalog holds are checked by the import).
    """
    source = _open_source(path)
    try:
        _check_layout(source, path)
        source.text_factory = bytes
        tables = {spec.name: _read_table(source, spec) for spec in TABLES}
    except sqlite3.DatabaseError as error:
        raise ImportInputError(f"{path}: cannot read ({error})") from None
    finally:
        source.close()
    for table in tables.values():
        _check_unique(table)
    return tables


def _missing_references(
    connection: psycopg.Connection[Any], tables: dict[str, SourceTable]
) -> None:
    """Refuse links to rows neither the file nor the catalog holds, before any write."""
    for (name, column), parent in REFERENCES.items():
        table = tables[name]
        index = table.column(column)
        known = {row[0] for row in tables[parent].rows}
        missing = {row[index] for row in table.rows} - known
        if missing:
            found = connection.execute(
                sql.SQL("SELECT id FROM {} WHERE id = ANY(%s)").format(
                    sql.Identifier(SCHEMA, parent)
                ),
                (list(missing),),
            ).fetchall()
            missing -= {value for (value,) in found}
        for position, row in enumerate(table.rows):
            if row[index] in missing:
                raise ImportInputError(
                    f"{table.places[position]}: column {column} names {parent} {row[index]}, "
                    "which is neither in the file nor in the catalog"
                )


def _catalog_clashes(connection: psycopg.Connection[Any], tables: dict[str, SourceTable]) -> None:
    """Refuse rows whose unique key the catalog already holds under another id."""
    for name, keys in UNIQUE.items():
        table = tables[name]
        for key in keys:
            if not table.rows:
                continue
            indexes = [table.column(column) for column in key]
            by_key = {tuple(row[i] for i in indexes): position
                      for position, row in enumerate(table.rows)}  # fmt: skip
            columns = sql.SQL(", ").join(sql.Identifier(column) for column in key)
            query = sql.SQL("SELECT id, {columns} FROM {target} WHERE ({columns}) IN ({keys})")
            found = connection.execute(
                query.format(
                    columns=columns,
                    target=sql.Identifier(SCHEMA, name),
                    keys=sql.SQL("SELECT * FROM unnest({})").format(
                        sql.SQL(", ").join(
                            sql.SQL("%s::uuid[]" if column.endswith("_id") else "%s::text[]")
                            for column in key
                        )
                    ),
                ),
                [[row[i] for row in table.rows] for i in indexes],
            ).fetchall()
            for existing_id, *value in found:
                position = by_key[tuple(value)]
                if table.rows[position][0] != existing_id:
                    shown = key[0] if len(key) == 1 else f"({', '.join(key)})"
                    raise ImportInputError(
                        f"{table.places[position]}: column {shown} is already in the catalog "
                        f"under {name} id {existing_id}"
                    )


def _upsert_statement(spec: TableSpec, stage: str) -> sql.Composed:
    columns = sql.SQL(", ").join(sql.Identifier(name) for name in spec.targets)
    target = sql.Identifier(SCHEMA, spec.name)
    conflict: sql.Composable
    if spec.link:
        conflict = sql.SQL("ON CONFLICT DO NOTHING")
    else:
        updated = [name for name in spec.compared if name != "id"]
        conflict = sql.SQL(
            "ON CONFLICT (id) DO UPDATE SET {assignments} "
            "WHERE ({current}) IS DISTINCT FROM ({new})"
        ).format(
            assignments=sql.SQL(", ").join(
                sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(name)) for name in updated
            ),
            current=sql.SQL(", ").join(sql.Identifier(spec.name, name) for name in updated),
            new=sql.SQL(", ").join(
                sql.SQL("EXCLUDED.{}").format(sql.Identifier(n)) for n in updated
            ),
        )
    return sql.SQL(
        "INSERT INTO {target} AS {alias} ({columns}) "
        "SELECT {columns} FROM {stage} {conflict} RETURNING (xmax = 0)"
    ).format(
        target=target,
        alias=sql.Identifier(spec.name),
        columns=columns,
        stage=sql.Identifier(stage),
        conflict=conflict,
    )


def _load_table(
    connection: psycopg.Connection[Any],
    spec: TableSpec,
    rows: list[tuple[Any, ...]],
    report: TableReport,
    progress: Progress | None,
) -> None:
    stage = f"stage_{spec.name}"
    connection.execute(
        sql.SQL(
            "CREATE TEMP TABLE {stage} (LIKE {target} INCLUDING DEFAULTS) ON COMMIT DROP"
        ).format(stage=sql.Identifier(stage), target=sql.Identifier(SCHEMA, spec.name))
    )
    for name in ("created", "modified"):
        if name in spec.targets:
            # LIKE copies NOT NULL; empty timestamps are filled with now() below, before upsert.
            connection.execute(
                sql.SQL("ALTER TABLE {stage} ALTER COLUMN {col} DROP NOT NULL").format(
                    stage=sql.Identifier(stage), col=sql.Identifier(name)
                )
            )
    copy_sql = sql.SQL("COPY {stage} ({columns}) FROM STDIN").format(
        stage=sql.Identifier(stage),
        columns=sql.SQL(", ").join(sql.Identifier(name) for name in spec.targets),
    )
    with connection.cursor() as cursor:
        for start in range(0, len(rows), BATCH_SIZE):
            batch = rows[start : start + BATCH_SIZE]
            with cursor.copy(copy_sql) as copy:
                for row in batch:
                    copy.write_row(row)
            if progress is not None:
                progress(spec.name, len(batch), len(rows))
        # created/modified left empty in the source get the table defaults.
        for name in ("created", "modified"):
            if name in spec.targets:
                cursor.execute(
                    sql.SQL("UPDATE {stage} SET {col} = now() WHERE {col} IS NULL").format(
                        stage=sql.Identifier(stage), col=sql.Identifier(name)
                    )
                )
        try:
            cursor.execute(_upsert_statement(spec, stage))
        except psycopg.errors.UniqueViolation as error:
            constraint = error.diag.constraint_name or "a unique constraint"
            detail = error.diag.message_detail or ""
            raise ImportInputError(
                f"{spec.name}: rows clash with catalog rows on {constraint} {detail}".strip()
            ) from None
        except psycopg.errors.ForeignKeyViolation as error:
            raise ImportInputError(
                f"{spec.name}: {error.diag.message_detail or 'a reference points nowhere'}"
            ) from None
        except (psycopg.errors.DataError, psycopg.errors.IntegrityError) as error:
            # The checks before the transaction should leave nothing for here; if the schema
            # grows a rule they miss, the import still ends in one line and a rollback.
            raise ImportInputError(f"{spec.name}: {error.diag.message_primary}") from None
        outcomes = cursor.fetchall()
    report.inserted = sum(1 for (inserted,) in outcomes if inserted)
    report.updated = len(outcomes) - report.inserted


def _verify(
    connection: psycopg.Connection[Any],
    spec: TableSpec,
    rows: list[tuple[Any, ...]],
    report: TableReport,
) -> None:
    indexes = [spec.targets.index(name) for name in spec.compared]
    report.source_rows = len(rows)
    report.source_checksum = content_checksum([tuple(row[i] for i in indexes) for row in rows])
    ids = [row[0] for row in rows]
    query = sql.SQL("SELECT {columns} FROM {target} WHERE id = ANY(%s)").format(
        columns=sql.SQL(", ").join(sql.Identifier(name) for name in spec.compared),
        target=sql.Identifier(SCHEMA, spec.name),
    )
    target_rows = connection.execute(query, (ids,)).fetchall()
    report.target_rows = len(target_rows)
    report.target_checksum = content_checksum(target_rows)


def import_sqlite(
    database_url: str, path: Path, *, progress: Progress | None = None
) -> ImportReport:
    """Load `path` into the catalog in one transaction, then verify both sides."""
    tables = read_source(path)
    report = ImportReport(path=path, tables=[TableReport(spec.name) for spec in TABLES])
    with psycopg.connect(libpq_url(database_url)) as connection:
        with connection.transaction():
            # Checked against the catalog inside the transaction, before its first write.
            _missing_references(connection, tables)
            _catalog_clashes(connection, tables)
            for spec, table_report in zip(TABLES, report.tables, strict=True):
                _load_table(connection, spec, tables[spec.name].rows, table_report, progress)
            analyze_catalog(connection)
        with connection.transaction():
            for spec, table_report in zip(TABLES, report.tables, strict=True):
                _verify(connection, spec, tables[spec.name].rows, table_report)
    return report
