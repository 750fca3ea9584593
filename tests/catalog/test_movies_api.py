"""`/api/v1/movies`: the course's paginated contract over the 999-film shared catalog."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psycopg
import pytest

from kinoteka.infra.db import libpq_url
from tests.catalog.app_fixtures import catalog_services, catalog_settings, running_client


@pytest.fixture
async def api(
    movies_database: str, embedded_redis: str, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    services = catalog_services(catalog_settings(tmp_path), movies_database, embedded_redis)
    async with running_client(services, ["catalog"]) as client:
        yield client


def _film_with_credits(url: str) -> tuple[str, dict[str, list[str]]]:
    """A film that has a director, straight from SQL, with its names per role."""
    with psycopg.connect(libpq_url(url)) as connection:
        row = connection.execute(
            "SELECT film_work_id FROM content.person_film_work WHERE role = 'director' "
            "ORDER BY film_work_id LIMIT 1"
        ).fetchone()
        assert row is not None
        film_id = row[0]
        names: dict[str, list[str]] = {}
        for role in ("actor", "director", "writer"):
            names[role + "s"] = sorted(
                name
                for (name,) in connection.execute(
                    "SELECT p.full_name FROM content.person_film_work pfw "
                    "JOIN content.person p ON p.id = pfw.person_id "
                    "WHERE pfw.film_work_id = %s AND pfw.role = %s",
                    (film_id, role),
                )
            )
        names["genres"] = sorted(
            name
            for (name,) in connection.execute(
                "SELECT g.name FROM content.genre_film_work gfw JOIN content.genre g "
                "ON g.id = gfw.genre_id WHERE gfw.film_work_id = %s",
                (film_id,),
            )
        )
    return str(film_id), names


async def test_first_page_follows_the_contract(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1/movies/")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "total_pages", "prev", "next", "results"}
    assert body["count"] == 999
    assert body["total_pages"] == 20
    assert body["prev"] is None
    assert body["next"] == 2
    assert len(body["results"]) == 50
    film = body["results"][0]
    assert set(film) == {
        "id", "title", "description", "creation_date", "rating", "type",
        "genres", "actors", "directors", "writers", "posters",
    }  # fmt: skip
    assert film["posters"] == {}  # the shared catalog has no posters
    titles = [item["title"] for item in body["results"]]
    assert titles == sorted(titles)


async def test_pages_cover_the_catalog_once(api: httpx.AsyncClient) -> None:
    seen: set[str] = set()
    page: int | None = 1
    while page is not None:
        body = (await api.get("/api/v1/movies/", params={"page": page})).json()
        seen.update(item["id"] for item in body["results"])
        assert body["prev"] == (page - 1 if page > 1 else None)
        page = body["next"]
    assert len(seen) == 999

    last = (await api.get("/api/v1/movies/", params={"page": "last"})).json()
    assert last["next"] is None
    assert last["prev"] == 19
    assert len(last["results"]) == 999 - 19 * 50


@pytest.mark.parametrize("page", ["21", "0", "-1", "two"])
async def test_pages_out_of_range_or_malformed_are_refused(
    api: httpx.AsyncClient, page: str
) -> None:
    response = await api.get("/api/v1/movies/", params={"page": page})
    assert response.status_code in {404, 422}
    assert response.status_code == (404 if page == "21" else 422)


async def test_one_movie_carries_names_per_role(
    api: httpx.AsyncClient, movies_database: str
) -> None:
    film_id, names = _film_with_credits(movies_database)

    response = await api.get(f"/api/v1/movies/{film_id}/")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == film_id
    for field, expected in names.items():
        assert body[field] == expected, field
    assert body["directors"]


async def test_unknown_movie_is_404(api: httpx.AsyncClient) -> None:
    response = await api.get(f"/api/v1/movies/{uuid.uuid4()}/")
    assert response.status_code == 404
    for malformed in ("0000", "not-a-uuid", "1" * 40):
        for path in (f"/api/v1/movies/{malformed}/", f"/api/v1/movies/{malformed}"):
            answer = await api.get(path, follow_redirects=True)
            assert answer.status_code == 404, path
            assert answer.json() == {"detail": malformed}


async def test_the_api_is_documented(api: httpx.AsyncClient) -> None:
    schema = (await api.get("/openapi.json")).json()
    assert "/api/v1/movies/" in schema["paths"]
    assert "/api/v1/movies/{film_id}/" in schema["paths"]
    assert "MoviePage" in schema["components"]["schemas"]


async def test_a_movie_links_its_poster_in_every_width_the_admin_renders(
    fresh_database: str, embedded_redis: str, tmp_path: Path
) -> None:
    film_id = uuid.uuid4()
    poster_key = f"posters/{film_id}/0123456789abcdef"
    with psycopg.connect(libpq_url(fresh_database)) as connection:
        connection.execute(
            "INSERT INTO content.film_work (id, title, type, creation_date, poster_key) "
            "VALUES (%s, 'Postered', 'movie', '1999-03-31', %s)",
            (film_id, poster_key),
        )
    settings = catalog_settings(tmp_path)
    services = catalog_services(settings, fresh_database, embedded_redis)
    async with running_client(services, ["catalog"]) as client:
        body = (await client.get(f"/api/v1/movies/{film_id}/")).json()
        listed = (await client.get("/api/v1/movies/")).json()["results"][0]
        widths = settings.catalog.posters.widths
        expected = {str(w): f"/api/v1/{poster_key}/{w}.webp" for w in widths}
        assert body["posters"] == expected
        assert listed["posters"] == expected
        assert body["creation_date"] == "1999-03-31"
        # each link is the poster route, which redirects to a signed storage URL
        redirect = await client.get(expected[str(widths[0])])
        assert redirect.status_code == 307, redirect.text
