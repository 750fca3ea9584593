"""A missing or unreachable index is a 503 with a reason, never a 500."""

from __future__ import annotations

from pathlib import Path

import httpx

from kinoteka.app import create_app
from kinoteka.search.service import open_index
from kinoteka.search.settings import SearchSettings
from tests.content.conftest import content_services


async def test_no_index_yet_answers_503(
    movies_database: str, flushed_redis: str, tmp_path: Path
) -> None:
    url = f"tantivy://{tmp_path / 'never-synced'}"
    index = open_index(url, SearchSettings())
    services = content_services(movies_database, flushed_redis, index, url, public=True)
    app = create_app(services, ["content"])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://content.test"
    ) as client:
        for path in ("/api/v1/genres", "/api/v1/films", "/api/v1/films/search?query=star"):
            response = await client.get(path)
            assert response.status_code == 503, (path, response.text)
            assert "search index" in response.json()["detail"]
            assert response.headers["retry-after"] == "5"
    await services.close()
