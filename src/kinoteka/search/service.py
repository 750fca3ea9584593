"""Wiring of the search context: the index port over the settings' definitions, the sync."""

from __future__ import annotations

from pathlib import Path

from kinoteka.infra import search as search_port
from kinoteka.infra.db import Database
from kinoteka.infra.search import SearchIndex
from kinoteka.search.documents import SearchIndexes
from kinoteka.search.settings import SearchSettings
from kinoteka.search.state import PostgresStateStore, StateStore, YamlStateStore
from kinoteka.search.sync import CatalogSync


def open_index(search_url: str, settings: SearchSettings) -> SearchIndex:
    """The search port at `search_url`, knowing the movies, genres and persons indexes."""
    definitions = SearchIndexes.named(settings.indexes).all()
    return search_port.from_url(search_url, definitions, writer_heap_mib=settings.writer_heap_mib)


def catalog_sync(
    db: Database,
    index: SearchIndex,
    search_url: str,
    settings: SearchSettings,
    state_file: Path | None = None,
) -> CatalogSync:
    """The sync, its checkpoint in `state_file` (YAML) or, by default, in PostgreSQL."""
    store: StateStore = (
        YamlStateStore(state_file) if state_file is not None else PostgresStateStore(db.engine)
    )
    return CatalogSync(db, index, search_url, store, settings)
