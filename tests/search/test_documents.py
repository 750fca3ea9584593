"""The shared 999-film catalog, synced: counts and the documents the issue names."""

from __future__ import annotations

import uuid

from kinoteka.infra.search import SearchIndex, SearchQuery
from kinoteka.search.sync import CatalogSync

WITH_ONE_WRITER = "24eafcd7-1018-4951-9e17-583e2554ef0a"
WITHOUT_DIRECTOR = "479f20b0-58d1-4f16-8944-9b82f5b1f22a"


async def test_counts_match_the_catalog(movies_index: tuple[SearchIndex, CatalogSync]) -> None:
    index, _ = movies_index
    assert await index.count("movies") == 999
    assert await index.count("genres") == 26
    assert await index.count("persons") == 4166


async def test_film_with_exactly_one_writer(movies_index: tuple[SearchIndex, CatalogSync]) -> None:
    index, _ = movies_index
    document = await index.get("movies", WITH_ONE_WRITER)
    assert document is not None
    assert document["writers_names"] == ["Craig Hutchinson"]
    assert [writer["name"] for writer in document["writers"]] == ["Craig Hutchinson"]


async def test_film_without_director(movies_index: tuple[SearchIndex, CatalogSync]) -> None:
    index, _ = movies_index
    document = await index.get("movies", WITHOUT_DIRECTOR)
    assert document is not None
    assert document["directors"] == []
    assert document["directors_names"] == []
    assert document["title"]


async def test_actor_names_match_any_word(movies_index: tuple[SearchIndex, CatalogSync]) -> None:
    index, _ = movies_index
    hits = await index.search(
        SearchQuery("movies", text="Greg Camp", fields=("actors_names",), limit=50)
    )
    assert hits.total == 6
    assert len(hits.documents) == 6
    for document in hits.documents:
        words = {word for name in document["actors_names"] for word in name.split()}
        assert words & {"Greg", "Camp"}


async def test_fuzzy_camp_ranks_star_camp_first(
    movies_index: tuple[SearchIndex, CatalogSync],
) -> None:
    index, _ = movies_index
    hits = await index.search(SearchQuery("movies", text="camp", fuzzy=True, limit=10))
    assert hits.documents[0]["title"] == "Star Camp"


async def test_persons_carry_their_films_with_roles(
    movies_index: tuple[SearchIndex, CatalogSync],
) -> None:
    index, _ = movies_index
    hits = await index.search(SearchQuery("persons", text="Craig Hutchinson", limit=1))
    person = hits.documents[0]
    assert person["full_name"] == "Craig Hutchinson"
    assert {"id": WITH_ONE_WRITER, "roles": ["writer"]} in person["films"]
    films = await index.search(SearchQuery("movies", filters={"writers.id": person["id"]}))
    assert WITH_ONE_WRITER in [film["id"] for film in films.documents]


async def test_verify_finds_index_equal_to_catalog(
    movies_index: tuple[SearchIndex, CatalogSync],
) -> None:
    _, sync = movies_index
    report = await sync.verify(sample=50)
    assert report.ok, report
    assert report.counts["movies"] == (999, 999)


async def test_film_documents_carry_the_poster_url(fresh_database: str) -> None:
    from sqlalchemy import text

    from kinoteka.catalog.posters import poster_url
    from kinoteka.infra import db as db_port
    from kinoteka.search.documents import DocumentKind
    from kinoteka.search.repository.documents import build_documents

    database = db_port.from_url(fresh_database)
    try:
        async with database.engine.begin() as connection:
            await connection.execute(text(
                "INSERT INTO content.film_work (id, title, type, poster_key, creation_date,"
                " rating) VALUES "
                "('11111111-1111-4111-8111-111111111111', 'With', 'movie', 'posters/x/abc',"
                " '2001-02-03', 7.5),"
                "('22222222-2222-4222-8222-222222222222', 'Without', 'tv_show', NULL, NULL, NULL)"
            ))  # fmt: skip
            documents = await build_documents(
                connection,
                DocumentKind.FILM,
                ["11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"],
            )
    finally:
        await database.close()
    by_title = {document["title"]: document for document in documents}
    assert by_title["With"]["poster_url"] == poster_url("posters/x/abc")
    assert by_title["With"]["poster_url"].endswith("/320.webp")
    # A field without a value is left out of the document, not null (Tantivy takes no nulls).
    assert "poster_url" not in by_title["Without"]
    assert "description" not in by_title["Without"]
    assert None not in by_title["Without"].values()
    assert "poster_key" not in by_title["With"]
    # release date and type for the content API; popularity weights search relevance
    assert by_title["With"]["release_date"] == "2001-02-03"
    assert (by_title["With"]["type"], by_title["Without"]["type"]) == ("movie", "tv_show")
    assert "release_date" not in by_title["Without"]
    assert by_title["With"]["popularity"] == 7.5  # no credits: the rating alone
    assert by_title["Without"]["popularity"] == 0


async def _all_documents(url: str, *, legacy: bool = False) -> dict[str, dict[str, object]]:
    """Every document of the catalog at `url`, by kind and id (through the public builders)."""
    from sqlalchemy import text

    from kinoteka.infra import db as db_port
    from kinoteka.search.documents import DocumentKind
    from kinoteka.search.repository.documents import build_documents

    database = db_port.from_url(url, pool_size=1)
    tables = {DocumentKind.FILM: "film_work", DocumentKind.GENRE: "genre",
              DocumentKind.PERSON: "person"}  # fmt: skip
    found: dict[str, dict[str, object]] = {}
    try:
        async with database.engine.connect() as connection:
            if legacy:  # as a PostgreSQL 15 server is read: the json_* functions
                connection.dialect.server_version_info = (15, 0)
            for kind, table in tables.items():
                ids = (await connection.scalars(text(f"SELECT id FROM content.{table}"))).all()  # noqa: S608
                for document in await build_documents(connection, kind, list(ids)):
                    found[f"{kind}:{document['id']}"] = document
    finally:
        await database.close()
    return found


async def test_both_json_dialects_render_the_same_documents(movies_database: str) -> None:
    """PostgreSQL 16+ renders documents with the SQL/JSON constructors, older servers with the
    json_* functions: on the same catalog, the same documents, with no nulls in either."""
    standard = await _all_documents(movies_database)
    legacy = await _all_documents(movies_database, legacy=True)
    assert len(standard) == 999 + 26 + 4166
    assert standard == legacy
    assert all(None not in document.values() for document in standard.values())


async def test_an_older_server_renders_the_same_documents(
    movies_database: str, server_postgres: str
) -> None:
    """The same catalog imported into the PostgreSQL server on 127.0.0.1 (15 on this machine)."""
    from kinoteka.catalog.sqlite_import import import_sqlite
    from tests.conftest import MOVIES_SQLITE, TEMPLATE, create_database, drop_database

    name = f"t_{uuid.uuid4().hex[:12]}"
    url = create_database(server_postgres, name, template=TEMPLATE)
    try:
        import_sqlite(url, MOVIES_SQLITE)
        assert await _all_documents(url) == await _all_documents(movies_database)
    finally:
        drop_database(server_postgres, name)
