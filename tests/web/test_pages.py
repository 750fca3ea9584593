"""The catalog pages over HTTP: rows, search as you type, genres with sort and paging, films,
persons, languages, closed browsing, and the error pages."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from kinoteka.infra.search import SearchIndex
from tests.web.conftest import web_client, web_services

Index = tuple[str, SearchIndex]
FILM_LINK = re.compile(r'href="/films/([0-9a-f-]{36})"')
GENRE_LINK = re.compile(r'href="/genres/([0-9a-f-]{36})"')


@pytest.fixture
async def client(
    fresh_database: str, flushed_redis: str, web_index: Index, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    services = web_services(fresh_database, flushed_redis, web_index, tmp_path)
    async with web_client(services) as client:
        yield client


async def test_home_has_rows_of_films_and_genres(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    html = response.text
    assert '<html lang="en"' in html
    assert "Top rated" in html
    assert "Star Wars: Knights of the Old Republic" in html  # the best rated film leads
    assert len(set(FILM_LINK.findall(html))) >= 12
    assert GENRE_LINK.search(html)
    assert "Sign in" in html


async def test_home_has_a_new_row_newest_in_the_catalog_first(
    client: httpx.AsyncClient, movies_database: str
) -> None:
    import psycopg

    from kinoteka.infra.db import libpq_url

    with psycopg.connect(libpq_url(movies_database)) as connection:
        created: dict[str, dt.datetime] = dict(
            connection.execute("SELECT id::text, created FROM content.film_work")
        )
    html = (await client.get("/")).text
    assert html.index(">New</h2>") < html.index(">Top rated</h2>")
    row = html.split(">New</h2>")[1].split("</section>")[0]
    films = FILM_LINK.findall(row)
    assert len(films) == 12
    times = [created[film] for film in films]
    assert times == sorted(times, reverse=True)
    assert times[0] == max(created.values())
    assert 'href="/films?sort=-added"' in row
    listed = await client.get("/films", params={"sort": "-added"})
    assert listed.status_code == 200
    assert FILM_LINK.findall(listed.text.split('id="sort"')[1])[:12] == films
    assert '<option value="-added" selected>' in listed.text


async def test_the_language_follows_accept_language_and_the_switch(
    client: httpx.AsyncClient,
) -> None:
    russian = await client.get("/", headers={"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"})
    assert '<html lang="ru"' in russian.text
    assert "Лучшие по рейтингу" in russian.text
    assert russian.headers["content-language"] == "ru"

    switched = await client.get("/lang/en?next=/genres")
    assert switched.status_code == 303
    assert switched.headers["location"] == "/genres"
    again = await client.get("/genres", headers={"Accept-Language": "ru"})
    assert '<html lang="en"' in again.text

    elsewhere = await client.get("/lang/ru?next=https://evil.example/")
    assert elsewhere.headers["location"] == "/"


async def test_search_forgives_a_typo_and_answers_htmx_with_the_results_alone(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/search", params={"q": "Star Wras"})
    assert page.status_code == 200
    assert "Star Wars" in page.text
    assert "<html" in page.text

    partial = await client.get("/search", params={"q": "Star Wras"}, headers={"HX-Request": "true"})
    assert "Star Wars" in partial.text
    assert "<html" not in partial.text

    empty = await client.get("/search")
    assert empty.status_code == 200
    assert FILM_LINK.search(empty.text.split('id="results"')[1]) is None


async def test_a_genre_pages_and_sorts_by_plain_links(client: httpx.AsyncClient) -> None:
    genres = await client.get("/genres")
    genre_ids = GENRE_LINK.findall(genres.text)
    assert len(genre_ids) == 26
    counts = {}
    for genre_id in genre_ids:
        page = await client.get(f"/genres/{genre_id}")
        counts[genre_id] = int(re.search(r"(\d+) films", page.text).group(1))  # type: ignore[union-attr]
    biggest = max(counts, key=lambda g: counts[g])
    assert counts[biggest] > 24

    first = await client.get(f"/genres/{biggest}")
    assert 'rel="next"' in first.text
    next_url = re.search(r'href="([^"]+)" rel="next"', first.text).group(1)  # type: ignore[union-attr]
    assert next_url == f"/genres/{biggest}?page=2"
    second = await client.get(next_url.replace("&amp;", "&"))
    assert set(FILM_LINK.findall(first.text)).isdisjoint(FILM_LINK.findall(second.text))
    assert 'rel="prev"' in second.text

    by_title = await client.get(f"/genres/{biggest}", params={"sort": "title"})
    titles = re.findall(r'<span class="card-title">([^<]+)</span>', by_title.text)
    assert titles == sorted(titles, key=str.lower) or titles == sorted(titles)
    paged = re.search(r'href="([^"]+)" rel="next"', by_title.text).group(1)  # type: ignore[union-attr]
    assert "sort=title" in paged
    assert "page=2" in paged


async def test_film_and_person_pages_link_to_each_other(client: httpx.AsyncClient) -> None:
    found = await client.get("/search", params={"q": "Star Wars X-Wing"})
    film_id = FILM_LINK.search(found.text).group(1)  # type: ignore[union-attr]
    film = await client.get(f"/films/{film_id}")
    assert film.status_code == 200
    assert f'href="/films/{film_id}/watch"' not in film.text  # no video in this catalog
    assert "This film has no video yet." in film.text
    person_id = re.search(r'href="/persons/([0-9a-f-]{36})"', film.text)
    if person_id is None:
        pytest.skip("this film has no credits in the dataset")
    person = await client.get(f"/persons/{person_id.group(1)}")
    assert person.status_code == 200
    assert f"/films/{film_id}" in person.text


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/films/00000000-0000-0000-0000-000000000000", 404),
        ("/films/not-a-uuid", 404),
        ("/persons/00000000-0000-0000-0000-000000000000", 404),
        ("/genres/nope", 404),
        ("/genres", 200),
        ("/search?page=0", 400),
        ("/search?page=abc", 400),
        ("/genres/00000000-0000-0000-0000-000000000000?sort=bogus", 400),
    ],
)
async def test_bad_addresses_get_pages_not_tracebacks(
    client: httpx.AsyncClient, path: str, status: int
) -> None:
    response = await client.get(path)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")


async def test_watching_asks_an_anonymous_visitor_to_sign_in(client: httpx.AsyncClient) -> None:
    home = await client.get("/")
    film_id = FILM_LINK.search(home.text).group(1)  # type: ignore[union-attr]
    watch = await client.get(f"/films/{film_id}/watch")
    assert watch.status_code == 303
    assert watch.headers["location"] == f"/signin?next=%2Ffilms%2F{film_id}%2Fwatch"
    signin = await client.get(watch.headers["location"])
    assert "Sign in to watch films." in signin.text


async def test_closed_browsing_sends_visitors_to_sign_in(
    fresh_database: str, flushed_redis: str, web_index: Index, tmp_path: Path
) -> None:
    services = web_services(
        fresh_database, flushed_redis, web_index, tmp_path, public_browsing=False
    )
    async with web_client(services) as client:
        for path in ("/", "/search?q=star", "/genres"):
            response = await client.get(path)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/signin?next=")
        assert (await client.get("/signin")).status_code == 200


async def test_pages_are_compressed_and_assets_served_from_node_modules(
    client: httpx.AsyncClient,
) -> None:
    home = await client.get("/", headers={"Accept-Encoding": "gzip"})
    assert home.headers["content-encoding"] == "gzip"
    css = await client.get("/static/web/kinoteka.css")
    assert css.status_code == 200
    for path in (
        "/static/vendor/htmx/htmx.min.js",
        "/static/vendor/hls/hls.min.js",
        "/static/vendor/dash/dash.all.min.js",
    ):
        response = await client.get(path)
        assert response.status_code == 200, f"{path}: run `make up` (npm ci) first"


async def test_all_films_page_through_plain_links_from_the_top_row(
    client: httpx.AsyncClient,
) -> None:
    home = await client.get("/")
    assert 'href="/films"' in home.text
    first = await client.get("/films")
    assert "<h1>All films</h1>" in first.text
    assert "<title>All films" in first.text
    assert "999 films" in first.text
    assert 'href="/films?page=2" rel="next"' in first.text
    last = await client.get("/films", params={"page": 42, "sort": "title"})
    assert 'rel="next"' not in last.text
    assert FILM_LINK.search(last.text)


async def test_films_with_a_video_get_the_first_row_and_a_list_of_their_own(
    fresh_database: str, flushed_redis: str, web_index: Index, tmp_path: Path
) -> None:
    from kinoteka.infra.search import SearchQuery
    from kinoteka.search.service import open_index
    from kinoteka.search.settings import SearchSettings

    settings = SearchSettings()
    source = await web_index[1].search(SearchQuery(index=settings.indexes.movies, limit=30))
    url = f"tantivy://{tmp_path / 'index'}"
    index = open_index(url, settings)
    await index.ensure_indexes()
    documents = [dict(d, has_video=i < 2) for i, d in enumerate(source.documents)]
    # the first film's video has its artwork made, the second's not yet (no catalog posters)
    art = f"/media/art/{documents[0]['id']}/v1/"
    documents[0].update(video_poster_url=art + "poster-list.webp", preview_url=art + "preview.webp")
    await index.bulk(settings.indexes.movies, documents, [])
    watchable = {str(d["id"]) for d in documents[:2]}
    services = web_services(fresh_database, flushed_redis, (url, index), tmp_path)
    async with web_client(services) as client:
        html = (await client.get("/")).text
        assert html.index(">Ready to watch</h2>") < html.index(">New</h2>")
        row = html.split(">Ready to watch</h2>")[1].split("</section>")[0]
        assert set(FILM_LINK.findall(row)) == watchable
        listed = await client.get("/films", params={"sort": "-added", "has_video": "true"})
        assert set(FILM_LINK.findall(listed.text)) == watchable
        assert listed.text.count(f'src="{art}poster-list.webp"') == 1  # its card's picture
        assert listed.text.count('class="poster-placeholder"') == 1  # the other's letter
        assert "<h1>Ready to watch</h1>" in listed.text
        assert 'name="has_video" value="true"' in listed.text
        russian = await client.get("/", headers={"accept-language": "ru"})
        assert ">Можно смотреть</h2>" in russian.text
        for film in (str(d["id"]) for d in documents[:3]):
            page = (await client.get(f"/films/{film}")).text
            playable = f'href="/films/{film}/watch"' in page
            assert playable == (film in watchable)
            assert ("This film has no video yet." in page) != playable
            # anonymous visitors see the video's poster and preview too
            assert ('data-preview="' in page) == (film == str(documents[0]["id"]))
        first = (await client.get(f"/films/{documents[0]['id']}")).text
        assert f'data-preview="{art}preview.webp"' in first
        assert f'<img class="poster" src="{art}poster-list.webp"' in first
    await index.close()


async def test_the_home_page_has_no_watch_row_while_no_film_has_a_video(
    client: httpx.AsyncClient,
) -> None:
    assert "Ready to watch" not in (await client.get("/")).text
