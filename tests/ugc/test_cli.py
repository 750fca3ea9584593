"""`kinoteka ugc recount` through the real command: counters corrupted behind the API's back
are found, printed and repaired onto a recount of the stored ratings and reviews."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
from typer.testing import CliRunner

from kinoteka.cli import app
from kinoteka.infra import documents as documents_port
from kinoteka.infra.db import libpq_url
from kinoteka.ugc import rate_film, rating_summary, write_review
from kinoteka.ugc.service import recount_summary
from kinoteka.ugc.settings import UgcSettings
from tests.ugc.conftest import add_films


def _env(database: str) -> dict[str, str]:
    return {"KINOTEKA_DATABASE_URL": database}


async def _write(database: str, films: list[uuid.UUID]) -> None:
    store = documents_port.from_url(database)
    try:
        for score in (4, 8, 9):
            await rate_film(store, uuid.uuid4(), films[0], score)
        await rate_film(store, uuid.uuid4(), films[1], 6)
        await write_review(store, UgcSettings(), uuid.uuid4(), films[1], text="Good.", score=6)
    finally:
        await store.close()


async def _summaries(database: str, films: list[uuid.UUID]) -> list[tuple[object, object]]:
    store = documents_port.from_url(database)
    try:
        return [
            (
                (await rating_summary(store, film)).model_dump(),
                (await recount_summary(store, film)).model_dump(),
            )
            for film in films
        ]
    finally:
        await store.close()


def _sql(database: str, statement: str, *params: object) -> None:
    with psycopg.connect(libpq_url(database), autocommit=True) as connection:
        connection.execute(statement, params)


def test_recount_repairs_corrupted_counters_and_prints_them(fresh_database: str) -> None:
    films = add_films(fresh_database, 4)
    asyncio.run(_write(fresh_database, films))
    # Drift of every kind: a wrong count and sum, a broken value, a lost review count, a
    # counters document gone, and one left behind by a film without ratings or reviews.
    _sql(
        fresh_database,
        'UPDATE ugc.film_stats SET doc = doc || \'{"count": 7, "sum": 1, "n8": "x"}\' '
        "WHERE key = %s",
        str(films[0]),
    )
    _sql(fresh_database, "DELETE FROM ugc.film_stats WHERE key = %s", str(films[1]))
    _sql(
        fresh_database,
        'INSERT INTO ugc.film_stats (key, doc) VALUES (%s, \'{"count": 2, "sum": 10, "n5": 2}\')',
        str(films[2]),
    )
    drifted = asyncio.run(_summaries(fresh_database, films[1:3]))
    assert all(stored != counted for stored, counted in drifted)

    runner = CliRunner()
    result = runner.invoke(app, ["ugc", "recount"], env=_env(fresh_database))
    assert result.exit_code == 0, result.output
    assert f"film {films[0]}: count 7 -> 3, sum 1 -> 21, n8 'x' -> 1" in result.output
    assert f"film {films[1]}: count None -> 1, sum None -> 6, n6 None -> 1, reviews None -> 1" in (
        result.output
    )
    assert f"film {films[2]}: count 2 -> 0, sum 10 -> 0, n5 2 -> 0" in result.output
    assert str(films[3]) not in result.output
    assert "checked 3 film(s), repaired 3" in result.output
    for stored, counted in asyncio.run(_summaries(fresh_database, films)):
        assert stored == counted

    again = runner.invoke(app, ["ugc", "recount", str(films[0])], env=_env(fresh_database))
    assert again.exit_code == 0, again.output
    assert again.output.strip() == "checked 1 film(s), repaired 0"


def test_recount_refuses_a_malformed_film_id(fresh_database: str) -> None:
    result = CliRunner().invoke(app, ["ugc", "recount", "nope"], env=_env(fresh_database))
    assert result.exit_code == 2
    assert "not a film id" in result.output
