"""The content API's contract, checked against the catalog it was synced from."""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from typing import Any

import httpx
import psycopg
import pytest

from kinoteka.infra.db import libpq_url

FILMS = "/api/v1/films"
CRAIG_FILM = "24eafcd7-1018-4951-9e17-583e2554ef0a"
NO_DIRECTOR_FILM = "479f20b0-58d1-4f16-8944-9b82f5b1f22a"


# Letters Unicode does not decompose, folded as the index's ASCII folding does.
_UNDECOMPOSED = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ß": "ss", "ł": "l", "đ": "d",
                               "ð": "d", "þ": "th"})  # fmt: skip


def _folded(title: str) -> str:
    decomposed = unicodedata.normalize("NFKD", title.casefold().translate(_UNDECOMPOSED))
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _rows(url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(libpq_url(url)) as connection:
        return connection.execute(query, params).fetchall()


async def _all_pages(client: httpx.AsyncClient, path: str, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    page = 1
    while True:
        response = await client.get(path, params={**params, "page_size": 100, "page_number": page})
        assert response.status_code == 200, response.text
        batch = response.json()
        if not batch:
            return found
        found.extend(batch)
        page += 1


async def test_films_default_order_is_best_rated_first(public_client: httpx.AsyncClient) -> None:
    response = await public_client.get(FILMS)
    assert response.status_code == 200
    films = response.json()
    assert len(films) == 50
    assert set(films[0]) == {"uuid", "title", "imdb_rating", "user_rating"}
    ratings = [film["imdb_rating"] for film in films]
    assert ratings == sorted(ratings, reverse=True)


async def test_pages_join_up_to_the_unpaged_order(public_client: httpx.AsyncClient) -> None:
    sorts = ("imdb_rating", "-imdb_rating", "title", "-title", "user_rating", "-user_rating",
             "added", "-added", "review_count", "-review_count")  # fmt: skip
    for sort in sorts:
        first = (await public_client.get(FILMS, params={"sort": sort, "page_size": 50})).json()
        second = (
            await public_client.get(FILMS, params={"sort": sort, "page_size": 50, "page_number": 2})
        ).json()
        hundred = (await public_client.get(FILMS, params={"sort": sort, "page_size": 100})).json()
        assert [f["uuid"] for f in first + second] == [f["uuid"] for f in hundred], sort
    legacy = await public_client.get(FILMS, params={"page[size]": 10, "page[number]": 3})
    modern = await public_client.get(FILMS, params={"page_size": 10, "page_number": 3})
    assert legacy.json() == modern.json()


async def test_title_sort_and_past_the_end(public_client: httpx.AsyncClient) -> None:
    everything = await _all_pages(public_client, FILMS, sort="title")
    assert len(everything) == 999
    # Titles sort case- and accent-insensitively ("À la…" among the "A"s).
    titles = [_folded(film["title"]) for film in everything]
    assert titles == sorted(titles)
    past = await public_client.get(FILMS, params={"page_size": 100, "page_number": 11})
    assert past.status_code == 200
    assert past.json() == []


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"page_size": 0}, "page_size"),
        ({"page_size": 101}, "page_size"),
        ({"page_size": "ten"}, "page_size"),
        ({"page_number": 0}, "page_number"),
        ({"page[size]": -1}, "page[size]"),
        ({"page[number]": "x"}, "page[number]"),
        ({"sort": "rating"}, "sort"),
    ],
)
async def test_bad_paging_and_sort_are_422_naming_the_parameter(
    public_client: httpx.AsyncClient, params: dict[str, Any], name: str
) -> None:
    response = await public_client.get(FILMS, params=params)
    assert response.status_code == 422
    assert name in response.text


async def test_added_sort_follows_when_films_entered_the_catalog(
    public_client: httpx.AsyncClient, movies_database: str
) -> None:
    created = dict(_rows(movies_database, "SELECT id::text, created FROM content.film_work"))
    newest = (await public_client.get(FILMS, params={"sort": "-added", "page_size": 100})).json()
    times = [created[film["uuid"]] for film in newest]
    assert times == sorted(times, reverse=True)
    assert times[0] == max(created.values())
    oldest = (await public_client.get(FILMS, params={"sort": "added", "page_size": 100})).json()
    times = [created[film["uuid"]] for film in oldest]
    assert times == sorted(times)
    assert times[0] == min(created.values())


async def test_genre_filter_equals_the_catalog_for_every_genre(
    public_client: httpx.AsyncClient, movies_database: str
) -> None:
    expected: dict[str, set[str]] = defaultdict(set)
    for genre_id, film_id in _rows(
        movies_database, "SELECT genre_id::text, film_work_id::text FROM content.genre_film_work"
    ):
        expected[genre_id].add(film_id)
    genres = (await public_client.get("/api/v1/genres")).json()
    assert len(genres) == 26
    for genre in genres:
        films = await _all_pages(public_client, FILMS, genre=genre["uuid"])
        assert {film["uuid"] for film in films} == expected[genre["uuid"]], genre["name"]
        assert len(films) == len(expected[genre["uuid"]])
    one = genres[0]["uuid"]
    legacy = await public_client.get(FILMS, params={"filter[genre]": one, "page_size": 100})
    modern = await public_client.get(FILMS, params={"genre": one, "page_size": 100})
    assert legacy.json() == modern.json()


async def test_film_detail_matches_the_catalog(
    public_client: httpx.AsyncClient, movies_database: str
) -> None:
    response = await public_client.get(f"{FILMS}/{CRAIG_FILM}")
    assert response.status_code == 200
    film = response.json()
    assert set(film) == {
        "uuid", "title", "imdb_rating", "description", "genre", "actors", "writers", "directors",
        "release_date", "type", "posters", "has_video", "duration", "qualities",
        "user_rating", "user_rating_count", "review_count",
    }  # fmt: skip
    assert (film["has_video"], film["duration"], film["qualities"]) == (False, None, [])
    assert film["posters"] == {}  # the shared catalog has no posters
    assert [w["full_name"] for w in film["writers"]] == ["Craig Hutchinson"]
    no_director = (await public_client.get(f"{FILMS}/{NO_DIRECTOR_FILM}")).json()
    assert no_director["directors"] == []

    sample = _rows(
        movies_database,
        "SELECT id::text, title, rating, creation_date, type FROM content.film_work "
        "ORDER BY md5(id::text) LIMIT 15",
    )
    for film_id, title, rating, released, kind in sample:
        body = (await public_client.get(f"{FILMS}/{film_id}")).json()
        assert body["title"] == title
        assert body["imdb_rating"] == rating
        assert body["release_date"] == (released.isoformat() if released else None)
        assert body["type"] == kind
        credits = _rows(
            movies_database,
            "SELECT p.id::text, pfw.role FROM content.person_film_work pfw "
            "JOIN content.person p ON p.id = pfw.person_id WHERE pfw.film_work_id = %s",
            film_id,
        )
        for role in ("actor", "writer", "director"):
            got = {person["uuid"] for person in body[f"{role}s"]}
            assert got == {pid for pid, r in credits if r == role}, (film_id, role)
        genres = _rows(
            movies_database,
            "SELECT genre_id::text FROM content.genre_film_work WHERE film_work_id = %s",
            film_id,
        )
        assert {g["uuid"] for g in body["genre"]} == {g for (g,) in genres}


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        (f"{FILMS}/00000000-0000-4000-8000-000000000000", "film not found"),
        (f"{FILMS}/not-a-uuid", "film not found"),
        ("/api/v1/genres/00000000-0000-4000-8000-000000000000", "genre not found"),
        ("/api/v1/genres/42", "genre not found"),
        ("/api/v1/persons/00000000-0000-4000-8000-000000000000", "person not found"),
        ("/api/v1/persons/00000000-0000-4000-8000-000000000000/film", "person not found"),
        ("/api/v1/persons/nobody", "person not found"),
    ],
)
async def test_missing_things_are_404(
    public_client: httpx.AsyncClient, path: str, detail: str
) -> None:
    response = await public_client.get(path)
    assert response.status_code == 404
    assert response.json() == {"detail": detail}


@pytest.mark.parametrize(
    ("query", "title"),
    [
        ("Star Slamer", "Star Slammer"),
        ("Jefree Star", "The Secret World of Jeffree Star"),
        ("Phantasy Star Millenium", "Phantasy Star IV: The End of the Millennium"),
        ("Perri Mason", "Perry Mason: The Case of the All-Star Assassin"),
        ("Kirbi Super Star", "Kirby Super Star"),
    ],
)
async def test_search_tolerates_typos(
    public_client: httpx.AsyncClient, query: str, title: str
) -> None:
    response = await public_client.get(f"{FILMS}/search", params={"query": query})
    assert response.status_code == 200
    titles = [film["title"] for film in response.json()]
    assert title in titles[:3], titles[:5]


async def test_search_without_hits_is_an_empty_list(public_client: httpx.AsyncClient) -> None:
    response = await public_client.get(f"{FILMS}/search", params={"query": "qwxzvbnmpl"})
    assert response.status_code == 200
    assert response.json() == []


async def test_persons_and_their_films_match_the_catalog(
    public_client: httpx.AsyncClient, movies_database: str
) -> None:
    sample = _rows(
        movies_database,
        "SELECT id::text, full_name FROM content.person ORDER BY md5(id::text) LIMIT 12",
    )
    for person_id, name in sample:
        credits = _rows(
            movies_database,
            "SELECT film_work_id::text, role FROM content.person_film_work WHERE person_id = %s",
            person_id,
        )
        roles: dict[str, set[str]] = defaultdict(set)
        for film_id, role in credits:
            roles[film_id].add(role)
        body = (await public_client.get(f"/api/v1/persons/{person_id}")).json()
        assert body["full_name"] == name
        assert {f["uuid"]: set(f["roles"]) for f in body["films"]} == roles
        for suffix in ("film", "films", "film/"):
            films = await public_client.get(f"/api/v1/persons/{person_id}/{suffix}")
            assert films.status_code == 200
            assert {f["uuid"] for f in films.json()} == set(roles)

    found = await public_client.get("/api/v1/persons/search", params={"query": "Craig Hutchinson"})
    assert found.status_code == 200
    assert "Craig Hutchinson" in [p["full_name"] for p in found.json()][:3]


async def test_paths_answer_with_and_without_a_trailing_slash(
    public_client: httpx.AsyncClient,
) -> None:
    for path in ("/api/v1/films", "/api/v1/genres", f"{FILMS}/{CRAIG_FILM}"):
        bare = await public_client.get(path)
        slashed = await public_client.get(path + "/")
        assert bare.status_code == slashed.status_code == 200
        assert bare.json() == slashed.json()


async def test_answers_are_cached_and_revalidated(public_client: httpx.AsyncClient) -> None:
    first = await public_client.get(f"{FILMS}/{CRAIG_FILM}")
    second = await public_client.get(f"{FILMS}/{CRAIG_FILM}/")
    assert first.headers["x-cache"] == "miss"
    assert second.headers["x-cache"] == "hit"
    assert first.json() == second.json()
    etag = second.headers["etag"]
    revalidated = await public_client.get(f"{FILMS}/{CRAIG_FILM}", headers={"If-None-Match": etag})
    assert revalidated.status_code == 304
    assert revalidated.content == b""
    spelled_differently = await public_client.get(
        FILMS, params={"page[number]": 2, "page[size]": 7}
    )
    again = await public_client.get(FILMS, params={"page_size": 7, "page_number": 2})
    assert spelled_differently.headers["x-cache"] == "miss"
    assert again.headers["x-cache"] == "hit"


async def test_an_edit_in_the_index_changes_the_next_answer(
    public_client: httpx.AsyncClient, movies_index: tuple[str, Any]
) -> None:
    _, index = movies_index
    path = f"{FILMS}/{NO_DIRECTOR_FILM}"
    before = await public_client.get(path)
    assert (await public_client.get(path)).headers["x-cache"] == "hit"
    document = await index.get("movies", NO_DIRECTOR_FILM)
    assert document is not None
    original = dict(document)
    try:
        await index.bulk("movies", [{**document, "title": "Renamed by the sync"}])
        await index.refresh()
        after = await public_client.get(path)
        assert after.headers["x-cache"] == "miss"
        assert after.json()["title"] == "Renamed by the sync"
        assert after.headers["etag"] != before.headers["etag"]
    finally:
        await index.bulk("movies", [original])
        await index.refresh()


async def test_genres_are_paged_like_every_list(public_client: httpx.AsyncClient) -> None:
    everything = (await public_client.get("/api/v1/genres")).json()
    assert len(everything) == 26
    names = [genre["name"].casefold() for genre in everything]
    assert names == sorted(names)
    pages = [
        (await public_client.get("/api/v1/genres", params={"page_size": 10, "page_number": n}))
        for n in (1, 2, 3, 4)
    ]
    assert [len(page.json()) for page in pages] == [10, 10, 6, 0]
    assert [g for page in pages for g in page.json()] == everything
    legacy = await public_client.get("/api/v1/genres", params={"page[size]": 5, "page[number]": 2})
    assert legacy.json() == everything[5:10]


@pytest.mark.parametrize("path", ["/api/v1/genres", "/api/v1/persons"])
@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"page_size": 0}, "page_size"),
        ({"page_size": 101}, "page_size"),
        ({"page_size": "ten"}, "page_size"),
        ({"page_number": 0}, "page_number"),
        ({"page_number": "1.5"}, "page_number"),
        ({"page[size]": -1}, "page[size]"),
        ({"page[size]": 500}, "page[size]"),
        ({"page[number]": "x"}, "page[number]"),
    ],
)
async def test_bad_paging_of_genres_and_persons_is_422_naming_the_parameter(
    public_client: httpx.AsyncClient, path: str, params: dict[str, Any], name: str
) -> None:
    response = await public_client.get(path, params=params)
    assert response.status_code == 422, response.text
    assert name in response.text


async def test_persons_list_is_paged_and_sorted_by_name(
    public_client: httpx.AsyncClient, movies_database: str
) -> None:
    (count,) = _rows(movies_database, "SELECT count(*) FROM content.person")[0]
    everything = await _all_pages(public_client, "/api/v1/persons")
    assert len(everything) == count
    assert len({person["uuid"] for person in everything}) == count
    names = [_folded(person["full_name"]) for person in everything]
    assert names == sorted(names)
    assert set(everything[0]) == {"uuid", "full_name", "films"}
    first = (await public_client.get("/api/v1/persons", params={"page_size": 7})).json()
    assert first == everything[:7]
    backwards = await public_client.get(
        "/api/v1/persons/", params={"sort": "-full_name", "page_size": 100}
    )
    reversed_names = [_folded(person["full_name"]) for person in backwards.json()]
    assert reversed_names == sorted(names, reverse=True)[:100]
    refused = await public_client.get("/api/v1/persons", params={"sort": "imdb_rating"})
    assert refused.status_code == 422
    assert "sort" in refused.text


async def test_a_film_with_a_poster_links_every_width(
    public_client: httpx.AsyncClient, movies_index: tuple[str, Any]
) -> None:
    _, index = movies_index
    document = await index.get("movies", CRAIG_FILM)
    assert document is not None
    original = dict(document)
    poster = f"/api/v1/posters/{CRAIG_FILM}/0123456789abcdef"
    try:
        await index.bulk("movies", [{**document, "poster_url": f"{poster}/320.webp"}])
        await index.refresh()
        film = (await public_client.get(f"{FILMS}/{CRAIG_FILM}")).json()
        assert film["posters"] == {w: f"{poster}/{w}.webp" for w in ("160", "320", "640")}
    finally:
        await index.bulk("movies", [original])
        await index.refresh()


async def test_has_video_narrows_lists_and_searches_to_watchable_films(
    public_client: httpx.AsyncClient, movies_index: tuple[str, Any]
) -> None:
    _, index = movies_index
    everything = await _all_pages(public_client, FILMS)
    assert not await _all_pages(public_client, FILMS, has_video="true")  # cached empty answer
    originals = [await index.get("movies", film_id) for film_id in (CRAIG_FILM, NO_DIRECTOR_FILM)]
    assert all(originals)
    video = {"has_video": True, "duration": 5400.5, "qualities": ["1080p", "720p"]}
    try:
        await index.bulk("movies", [{**document, **video} for document in originals if document])
        await index.refresh()
        watchable = await _all_pages(public_client, FILMS, has_video="true")
        assert {film["uuid"] for film in watchable} == {CRAIG_FILM, NO_DIRECTOR_FILM}
        unwatchable = await _all_pages(public_client, FILMS, has_video="false")
        assert len(unwatchable) == len(everything) - 2
        title = next(d["title"] for d in originals if d and d["id"] == CRAIG_FILM)
        search = f"{FILMS}/search"
        found = await public_client.get(search, params={"query": title, "has_video": "true"})
        ids = [film["uuid"] for film in found.json()]
        assert ids[0] == CRAIG_FILM
        assert set(ids) <= {CRAIG_FILM, NO_DIRECTOR_FILM}
        unfiltered = await public_client.get(search, params={"query": title})
        assert len(unfiltered.json()) > len(ids)
        detail = (await public_client.get(f"{FILMS}/{CRAIG_FILM}")).json()
        assert (detail["has_video"], detail["duration"], detail["qualities"]) == (
            True, 5400.5, ["1080p", "720p"],
        )  # fmt: skip
    finally:
        await index.bulk("movies", [document for document in originals if document])
        await index.refresh()


@pytest.mark.parametrize("path", [FILMS, f"{FILMS}/search"])
async def test_a_bad_has_video_is_422_naming_the_parameter(
    public_client: httpx.AsyncClient, path: str
) -> None:
    response = await public_client.get(path, params={"query": "star", "has_video": "maybe"})
    assert response.status_code == 422
    assert "has_video" in response.text
