"""The content API's viewer-counter sorts (`user_rating`, `review_count`) in order, over films
the viewers rated and reviewed through ugc and the real sync carried into the index."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psycopg
import pytest

from kinoteka.app import create_app
from kinoteka.infra import db as db_port
from kinoteka.infra import documents as documents_port
from kinoteka.infra.db import libpq_url
from kinoteka.search.service import catalog_sync, open_index
from kinoteka.search.settings import SearchSettings
from kinoteka.ugc import rate_film, write_review
from kinoteka.ugc.settings import UgcSettings
from tests.content.conftest import content_services

FILMS = "/api/v1/films"
# title: (viewers' scores, how many of those viewers also wrote a review)
OPINIONS: dict[str, tuple[list[int], int]] = {
    "Loved": ([10, 9], 1),
    "Debated": ([8, 2, 5, 5], 4),
    "Panned": ([1, 2, 3], 2),
    "Unseen": ([], 0),
}


@pytest.fixture
async def rated_client(
    fresh_database: str, flushed_redis: str, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """The content API over four films the viewers rated and reviewed as `OPINIONS` says,
    synced into a new Tantivy index."""
    films = {title: uuid.uuid4() for title in OPINIONS}
    with psycopg.connect(libpq_url(fresh_database)) as connection:
        for title, film_id in films.items():
            connection.execute(
                "INSERT INTO content.film_work (id, title, rating, type)"
                " VALUES (%s, %s, 5.0, 'movie')",
                (film_id, title),
            )
    store = documents_port.from_url(fresh_database)
    try:
        for title, (scores, reviews) in OPINIONS.items():
            for n, score in enumerate(scores):
                viewer = uuid.uuid4()
                await rate_film(store, viewer, films[title], score)
                if n < reviews:
                    await write_review(store, UgcSettings(), viewer, films[title],
                                       text=f"{title} review {n}", score=score)  # fmt: skip
    finally:
        await store.close()
    search_url = f"tantivy://{tmp_path / 'index'}"
    settings = SearchSettings()
    index = open_index(search_url, settings)
    database = db_port.from_url(fresh_database, pool_size=2)
    try:
        await catalog_sync(database, index, search_url, settings).run_once()
    finally:
        await database.close()
    services = content_services(fresh_database, flushed_redis, index, search_url, public=True)
    app = create_app(services, ["content"])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://content.test"
    ) as client:
        yield client
    await services.cache.close()
    await index.close()


async def _titles(client: httpx.AsyncClient, sort: str) -> list[str]:
    response = await client.get(FILMS, params={"sort": sort})
    assert response.status_code == 200, response.text
    return [film["title"] for film in response.json()]


async def test_films_sort_by_viewers_rating_unrated_last(rated_client: httpx.AsyncClient) -> None:
    # averages: Loved 9.5, Debated 5.0, Panned 2.0; Unseen has none
    assert await _titles(rated_client, "-user_rating") == ["Loved", "Debated", "Panned", "Unseen"]
    assert await _titles(rated_client, "user_rating") == ["Panned", "Debated", "Loved", "Unseen"]
    loved = (await rated_client.get(FILMS, params={"sort": "-user_rating"})).json()[0]
    assert loved["user_rating"] == 9.5


async def test_films_sort_by_review_count_unreviewed_last(rated_client: httpx.AsyncClient) -> None:
    assert await _titles(rated_client, "-review_count") == ["Debated", "Panned", "Loved", "Unseen"]
    assert await _titles(rated_client, "review_count") == ["Loved", "Panned", "Debated", "Unseen"]


async def test_an_unknown_sort_is_a_422_naming_the_choices(
    rated_client: httpx.AsyncClient,
) -> None:
    response = await rated_client.get(FILMS, params={"sort": "-reviews"})
    assert response.status_code == 422
    assert "review_count" in response.text
