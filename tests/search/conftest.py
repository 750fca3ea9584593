"""Fixtures for the sync: a synced copy of the 999-film catalog, small catalogs to mutate."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from kinoteka.infra import db as db_port
from kinoteka.infra.db import libpq_url
from kinoteka.infra.search import SearchIndex
from kinoteka.search.service import catalog_sync, open_index
from kinoteka.search.settings import SearchSettings
from kinoteka.search.sync import CatalogSync


def execute(url: str, statement: str, params: Any = None) -> None:
    with psycopg.connect(libpq_url(url)) as connection:
        connection.execute(statement, params)


@dataclass
class SmallCatalog:
    """Three films, two genres, three persons: ids by name."""

    films: dict[str, str] = field(default_factory=dict)
    genres: dict[str, str] = field(default_factory=dict)
    persons: dict[str, str] = field(default_factory=dict)


def seed_small_catalog(url: str) -> SmallCatalog:
    catalog = SmallCatalog()
    with psycopg.connect(libpq_url(url)) as connection:
        for title, rating in (("Alien", 8.5), ("Blade Runner", 8.1), ("Arrival", 7.9)):
            film_id = str(uuid.uuid4())
            catalog.films[title] = film_id
            connection.execute(
                "INSERT INTO content.film_work (id, title, rating, type)"
                " VALUES (%s, %s, %s, 'movie')",
                (film_id, title, rating),
            )
        for name in ("Sci-Fi", "Drama"):
            catalog.genres[name] = str(uuid.uuid4())
            connection.execute(
                "INSERT INTO content.genre (id, name) VALUES (%s, %s)", (catalog.genres[name], name)
            )
        for name in ("Ridley Scott", "Sigourney Weaver", "Denis Villeneuve"):
            catalog.persons[name] = str(uuid.uuid4())
            connection.execute(
                "INSERT INTO content.person (id, full_name) VALUES (%s, %s)",
                (catalog.persons[name], name),
            )
        links = [("Alien", "Sci-Fi"), ("Blade Runner", "Sci-Fi"), ("Blade Runner", "Drama"),
                 ("Arrival", "Sci-Fi")]  # fmt: skip
        for title, genre in links:
            connection.execute(
                "INSERT INTO content.genre_film_work (id, film_work_id, genre_id)"
                " VALUES (gen_random_uuid(), %s, %s)",
                (catalog.films[title], catalog.genres[genre]),
            )
        credits = [
            ("Alien", "Ridley Scott", "director"),
            ("Blade Runner", "Ridley Scott", "director"),
            ("Alien", "Sigourney Weaver", "actor"),
            ("Arrival", "Denis Villeneuve", "director"),
            ("Blade Runner", "Denis Villeneuve", "writer"),
        ]
        for title, person, role in credits:
            connection.execute(
                "INSERT INTO content.person_film_work (id, film_work_id, person_id, role)"
                " VALUES (gen_random_uuid(), %s, %s, %s)",
                (catalog.films[title], catalog.persons[person], role),
            )
    return catalog


@dataclass
class SyncRig:
    database_url: str
    search_url: str
    sync: CatalogSync
    index: SearchIndex
    catalog: SmallCatalog


@pytest.fixture
async def rig(fresh_database: str, tmp_path: Path) -> AsyncIterator[SyncRig]:
    """A small catalog in a fresh database and a sync into a new Tantivy index."""
    catalog = seed_small_catalog(fresh_database)
    search_url = f"tantivy://{tmp_path / 'index'}"
    settings = SearchSettings(batch_size=50)
    db = db_port.from_url(fresh_database, pool_size=2)
    index = open_index(search_url, settings)
    sync = catalog_sync(db, index, search_url, settings)
    yield SyncRig(fresh_database, search_url, sync, index, catalog)
    await index.close()
    await db.close()


@pytest.fixture(scope="session")
async def movies_index(
    movies_database: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[SearchIndex, CatalogSync]]:
    """The 999-film catalog synced into a Tantivy index (checkpoint in a YAML file)."""
    root = tmp_path_factory.mktemp("movies_index")
    search_url = f"tantivy://{root / 'index'}"
    settings = SearchSettings()
    db = db_port.from_url(movies_database, pool_size=2)
    index = open_index(search_url, settings)
    sync = catalog_sync(db, index, search_url, settings, state_file=root / "state.yaml")
    await sync.run_once()
    yield index, sync
    await index.close()
    await db.close()
