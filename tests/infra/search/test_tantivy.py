"""Tantivy adapter behaviour beyond the shared contract: batches held uncommitted."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kinoteka.infra.search import SearchError, SearchQuery
from kinoteka.infra.search.tantivy import LAYOUT_FILE, TantivyIndex
from kinoteka.infra.search.tantivy import writer as tantivy_writer
from kinoteka.search.documents import SearchIndexes
from kinoteka.search.settings import IndexNames


@pytest.fixture
async def index(tmp_path: Path) -> AsyncIterator[TantivyIndex]:
    adapter = TantivyIndex(tmp_path / "index", SearchIndexes.named(IndexNames()).all())
    await adapter.ensure_indexes()
    yield adapter
    await adapter.close()


def film(title: str, rating: object = 5.0) -> dict[str, object]:
    return {"id": str(uuid.uuid4()), "title": title, "imdb_rating": rating}


async def test_a_failed_batch_drops_what_was_held_uncommitted(index: TantivyIndex) -> None:
    await index.bulk("movies", [film("Held")], commit=False)
    with pytest.raises(SearchError, match="imdb_rating"):
        await index.bulk("movies", [film("Broken", rating="not a number")])
    kept = film("Kept")
    await index.bulk("movies", [kept])
    assert await index.count("movies") == 1
    assert await index.get("movies", str(kept["id"])) == kept


async def test_an_idle_writer_holding_uncommitted_batches_is_kept(
    index: TantivyIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tantivy_writer, "WRITER_IDLE", 0.0)
    await index.bulk("movies", [film("First")])  # starts the idle timer
    held = film("Held")
    await index.bulk("movies", [held], commit=False)
    index.writers.release_idle()  # what the timer does once batches stop coming
    await index.bulk("movies", commit=True)
    assert await index.count("movies") == 2
    assert await index.get("movies", str(held["id"])) == held


async def test_uncommitted_batches_are_not_searchable_yet(index: TantivyIndex) -> None:
    await index.bulk("movies", [film("Pending")], commit=False)
    assert await index.count("movies") == 0
    await index.bulk("movies", commit=True)
    assert await index.count("movies") == 1


async def test_an_index_of_an_older_layout_answers_until_a_rebuild_replaces_it(
    tmp_path: Path,
) -> None:
    root = tmp_path / "index"
    definitions = SearchIndexes.named(IndexNames()).all()
    first = TantivyIndex(root, definitions)
    await first.ensure_indexes()
    kept = film("Kept from before")
    await first.bulk("movies", [kept])
    await first.close()
    old = (root / "movies" / "CURRENT").read_text()
    (root / "movies" / old / LAYOUT_FILE).write_text("an older layout")

    second = TantivyIndex(root, definitions)
    try:
        assert await second.ensure_indexes() == []  # nothing emptied or replaced at start-up
        assert await second.outdated() == ["movies"]
        rebuilt = film("Rebuilt in the new layout")
        searchable_meanwhile: list[bool] = []

        async def batches() -> AsyncIterator[list[dict[str, object]]]:
            yield [rebuilt]
            # the rebuild is under way: searches still answer from the old version
            searchable_meanwhile.append(await second.get("movies", str(kept["id"])) == kept)
            yield [kept]

        assert await second.rebuild("movies", batches()) == 2
        assert searchable_meanwhile == [True]
        assert await second.outdated() == []
        assert not (root / "movies" / old).exists()
        assert await second.count("movies") == 2
        assert await second.get("movies", str(rebuilt["id"])) == rebuilt
    finally:
        await second.close()


@given(
    text=st.text(max_size=300),
    fuzzy=st.booleans(),
    fields=st.sampled_from([(), ("title",), ("actors_names", "description")]),
)
@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
def test_any_text_compiles_to_a_query_that_runs(
    searchable: TantivyIndex, text: str, fuzzy: bool, fields: tuple[str, ...]
) -> None:
    """Whatever the text (operators, wildcards, control characters, any script), the query
    runs: words are searched as words, nothing is parsed as syntax."""
    query = SearchQuery("movies", text=f"{text} harbor", fuzzy=fuzzy, fields=fields, limit=5)
    hits = searchable._search(query)  # the search start to end, in this thread
    assert len(hits.documents) <= 5
    if "title" in (fields or ("title",)):
        assert "Harbor Lights" in [d["title"] for d in hits.documents]


@pytest.fixture
async def searchable(index: TantivyIndex) -> TantivyIndex:
    await index.bulk("movies", [film("Harbor Lights"), film("Star Wars"), film("Léon")])
    return index
