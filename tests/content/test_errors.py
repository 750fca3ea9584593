"""The caller's mistakes are 4xx with a reason; only an index that cannot answer is a 503."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from kinoteka.app import create_app
from kinoteka.infra import search as search_port
from kinoteka.infra.search import FieldKind, FieldSpec, IndexDefinition, SearchIndex
from kinoteka.search.settings import IndexNames
from tests.content.conftest import content_services

ODD_QUERIES = ['"', '"star', "AND", "OR NOT", "title:", "title:(", "*", "?", "st*r", "a~2", "\\",
               "(((", "[1 TO", "-", "+", "/x/", "звёздные войны", "🎬", "ǅ Ꮳ ﬀ", "x" * 200,
               "star " * 40]  # fmt: skip


@pytest.mark.parametrize("path", ["/api/v1/films/search", "/api/v1/persons/search"])
async def test_odd_queries_are_searched_as_words(
    public_client: httpx.AsyncClient, path: str
) -> None:
    for query in ODD_QUERIES:
        response = await public_client.get(path, params={"query": query})
        assert response.status_code == 200, (query, response.text)
        assert isinstance(response.json(), list)
    found = await public_client.get(path, params={"query": "star " * 40})
    if path.endswith("films/search"):
        assert found.json(), "repeated words still find films"
    too_long = await public_client.get(path, params={"query": "x" * 201})
    assert too_long.status_code == 422
    assert "query" in too_long.text


async def test_a_page_size_over_the_configured_maximum_is_422(
    movies_database: str, flushed_redis: str, movies_index: tuple[str, SearchIndex]
) -> None:
    url, index = movies_index
    services = content_services(
        movies_database, flushed_redis, index, url, public=True,
        max_page_size=20, default_page_size=5,
    )  # fmt: skip
    app = create_app(services, ["content"])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://content.test"
    ) as client:
        assert len((await client.get("/api/v1/films")).json()) == 5
        assert len((await client.get("/api/v1/films", params={"page_size": 20})).json()) == 20
        for params in ({"page_size": 21}, {"page[size]": 21}):
            refused = await client.get("/api/v1/genres", params=params)
            assert refused.status_code == 422
            (error,) = refused.json()["detail"]
            assert error["loc"] == ["query", next(iter(params))]
            assert "20" in error["msg"]
    await services.cache.close()
    await services.db.close()


@pytest.fixture
async def bare_index(tmp_path: Path) -> AsyncIterator[tuple[str, SearchIndex]]:
    """An index whose films hold only a title: what an older index layout (or a sort a newer
    API asks for) looks like to the content API."""
    names = IndexNames()
    keyword = FieldSpec("id", FieldKind.KEYWORD)
    definitions = [
        IndexDefinition(names.movies, (keyword, FieldSpec("title", FieldKind.TEXT, boost=1.0))),
        IndexDefinition(names.genres, (keyword,)),
        IndexDefinition(names.persons, (keyword,)),
    ]
    url = f"tantivy://{tmp_path / 'bare'}"
    index = search_port.from_url(url, definitions)
    await index.ensure_indexes()
    yield url, index
    await index.close()


async def test_a_sort_the_index_cannot_do_is_400_with_the_reason(
    movies_database: str, flushed_redis: str, bare_index: tuple[str, SearchIndex]
) -> None:
    url, index = bare_index
    services = content_services(movies_database, flushed_redis, index, url, public=True)
    app = create_app(services, ["content"])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://content.test"
    ) as client:
        for path in ("/api/v1/films", "/api/v1/genres", "/api/v1/persons"):
            response = await client.get(path)
            assert response.status_code == 400, (path, response.text)
            detail = response.json()["detail"]
            assert "cannot run this query" in detail
            assert "has no field" in detail
            assert "retry-after" not in response.headers
        searched = await client.get("/api/v1/films/search", params={"query": "star"})
        assert searched.status_code == 200  # what the index can do still answers
    await services.cache.close()
    await services.db.close()
