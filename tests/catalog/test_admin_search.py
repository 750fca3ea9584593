"""Admin edits reach the search index through the catalog sync, and the poster URL with them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kinoteka.catalog.posters import poster_url
from kinoteka.infra import db as db_port
from kinoteka.search.service import catalog_sync, open_index
from kinoteka.search.settings import SearchSettings
from tests.catalog.app_fixtures import PASSWORD, Panel, admin_panel

EDITOR = "search-editor@example.com"


@pytest.fixture
async def panel(fresh_database: str, flushed_redis: str, tmp_path: Path) -> AsyncIterator[Panel]:
    async with admin_panel(fresh_database, flushed_redis, tmp_path, {EDITOR: ["admin"]}) as built:
        login = {"username": EDITOR, "password": PASSWORD}
        assert (await built.client.post("/admin/login", data=login)).status_code == 302
        yield built


async def test_created_edited_and_deleted_films_follow_into_the_index(
    panel: Panel, tmp_path: Path
) -> None:
    search_url = f"tantivy://{tmp_path / 'index'}"
    settings = SearchSettings(batch_size=50)
    db = db_port.from_url(panel.database_url, pool_size=2)
    index = open_index(search_url, settings)
    sync = catalog_sync(db, index, search_url, settings)
    try:
        await sync.run_once()
        client = panel.client
        for identity, field, value in (("genre", "name", "Noir"), ("genre", "name", "Mystery"),
                                       ("person", "full_name", "Fritz Admin")):  # fmt: skip
            made = await client.post(
                f"/admin/{identity}/create", data={field: value, "save": "Save"}
            )
            assert made.status_code == 302
        genres = dict(panel.rows("SELECT name, id::text FROM content.genre"))
        ((person_id,),) = panel.rows("SELECT id::text FROM content.person")
        film = {
            "title": "Searchable Admin Film", "type": "movie", "rating": "6.4",
            "genres": [genres["Noir"]], "credits-0-person": person_id,
            "credits-0-role": "director", "save": "Save",
        }  # fmt: skip
        assert (await client.post("/admin/film-work/create", data=film)).status_code == 302
        ((film_id,),) = panel.rows("SELECT id::text FROM content.film_work")

        await sync.run_once()
        document = await index.get("movies", film_id)
        assert document is not None
        assert document["title"] == "Searchable Admin Film"
        assert document["genres"] == ["Noir"]
        assert document["directors_names"] == ["Fritz Admin"]

        # Only the genre links change: the film is touched, so the sync sees it.
        relinked = {**film, "genres": [genres["Mystery"]]}
        edit = await client.post(f"/admin/film-work/edit/{film_id}", data=relinked)
        assert edit.status_code == 302
        await sync.run_once()
        document = await index.get("movies", film_id)
        assert document is not None
        assert document["genres"] == ["Mystery"]

        deleted = await client.delete("/admin/film-work/delete", params={"pks": film_id})
        assert deleted.status_code == 200
        await sync.run_once()
        assert await index.get("movies", film_id) is None
    finally:
        await index.close()
        await db.close()


def test_poster_url_is_what_a_search_document_carries() -> None:
    key = "posters/5f0c6f4e-8a5b-4b9e-9d0e-3c7a1f2b4d6e/0123456789abcdef"
    assert poster_url(key) == f"/api/v1/{key}/320.webp"
    assert poster_url(key, 640) == f"/api/v1/{key}/640.webp"
