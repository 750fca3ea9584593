"""The synthetic catalog: deterministic by seed, consistent, refused twice for one seed."""

from __future__ import annotations

from collections import Counter

import psycopg
import pytest

from kinoteka.catalog.generator import GenerateError, generate_catalog, generate_rows
from kinoteka.infra.db import libpq_url

GENRE_IDS = [f"00000000-0000-4000-8000-{i:012d}" for i in range(26)]


def _materialise(films: int, seed: int) -> list[tuple[str, list[str]]]:
    return [(chunk.table, chunk.lines) for chunk in generate_rows(films, seed, GENRE_IDS)]


def test_same_seed_same_catalog_other_seed_other_catalog() -> None:
    assert _materialise(300, 5) == _materialise(300, 5)
    assert _materialise(300, 5) != _materialise(300, 6)


def test_credits_are_unique_and_people_have_several_roles() -> None:
    credits = [
        line.split("\t")
        for table, lines in _materialise(2000, 1)
        if table == "person_film_work"
        for line in lines
    ]
    triples = [(film, person, role.strip()) for _, film, person, role in credits]
    assert len(triples) == len(set(triples))
    roles_per_person: dict[str, set[str]] = {}
    for _, person, role in triples:
        roles_per_person.setdefault(person, set()).add(role)
    assert any(len(roles) > 1 for roles in roles_per_person.values())
    assert set(Counter(role for _, _, role in triples)) == {"actor", "director", "writer"}


def test_generate_into_postgres_and_refuse_the_same_seed_again(fresh_database: str) -> None:
    report = generate_catalog(fresh_database, 500, seed=11)
    assert report.films == 500
    assert report.persons == 1500
    with psycopg.connect(libpq_url(fresh_database)) as connection:
        films = connection.execute("SELECT count(*) FROM content.film_work").fetchone()
        genres = connection.execute("SELECT count(*) FROM content.genre").fetchone()
        orphans = connection.execute(
            "SELECT count(*) FROM content.film_work f WHERE NOT EXISTS "
            "(SELECT 1 FROM content.person_film_work p WHERE p.film_work_id = f.id)"
        ).fetchone()
    assert films == (500,)
    assert genres == (26,)
    assert orphans == (0,)

    with pytest.raises(GenerateError, match="seed 11"):
        generate_catalog(fresh_database, 10, seed=11)
    again = generate_catalog(fresh_database, 10, seed=12)
    assert again.genres_created == 0


def test_a_generated_catalog_has_planner_statistics(fresh_database: str) -> None:
    generate_catalog(fresh_database, 300, seed=3)
    with psycopg.connect(libpq_url(fresh_database)) as connection:
        estimates: dict[str, float] = dict(
            connection.execute(
                "SELECT c.relname, c.reltuples FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'content' AND c.relkind = 'r'"
            ).fetchall()
        )
    # -1 means never analyzed: the documents' query would then be planned blind
    assert estimates["film_work"] == 300
    assert estimates["person"] == 900
    assert all(rows > 0 for rows in estimates.values()), estimates
