"""The contract every `SearchIndex` adapter passes: Tantivy always, Elasticsearch when
`KINOTEKA_TEST_ELASTICSEARCH_URL` points at a cluster (skipped with that reason otherwise)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from kinoteka.infra import search as search_port
from kinoteka.infra.search import (
    MAX_LIMIT,
    Document,
    EncodedDocument,
    FieldKind,
    FieldSpec,
    IndexDefinition,
    SearchError,
    SearchIndex,
    SearchQuery,
    SearchQueryError,
    SearchUnavailable,
    Sort,
)
from kinoteka.search.documents import SearchIndexes
from kinoteka.search.settings import IndexNames

ELASTICSEARCH_URL = os.environ.get("KINOTEKA_TEST_ELASTICSEARCH_URL")


def film(title: str, rating: float | None = None, **extra: object) -> Document:
    document: Document = {
        "id": str(uuid.uuid4()),
        "imdb_rating": rating,
        "title": title,
        "title_exact": title,
        "description": extra.pop("description", None),
        "genres": [],
        "genre_ids": [],
        "directors_names": [],
        "actors_names": [],
        "writers_names": [],
        "directors_ids": [],
        "actors_ids": [],
        "writers_ids": [],
        "directors": [],
        "actors": [],
        "writers": [],
    }
    document.update(extra)
    return document


def credited(names: Sequence[str]) -> list[dict[str, str]]:
    return [{"id": str(uuid.uuid4()), "name": name} for name in names]


@pytest.fixture(params=["tantivy", "elasticsearch"])
async def index(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SearchIndex]:
    suffix = uuid.uuid4().hex[:8]
    names = IndexNames(movies=f"movies_{suffix}", genres=f"genres_{suffix}", persons=f"p_{suffix}")
    definitions = SearchIndexes.named(names).all()
    if request.param == "tantivy":
        url = f"tantivy://{tmp_path / 'index'}"
    else:
        if not ELASTICSEARCH_URL:
            pytest.skip("no Elasticsearch; set KINOTEKA_TEST_ELASTICSEARCH_URL to run this suite")
        url = ELASTICSEARCH_URL
    adapter = search_port.from_url(url, definitions)
    await adapter.ensure_indexes()
    yield adapter
    if request.param == "elasticsearch":
        client = adapter.client  # type: ignore[attr-defined]
        await client.indices.delete(index=f"*_{suffix}*", ignore_unavailable=True)
    await adapter.close()


def movies(index: SearchIndex) -> str:
    return next(name for name in index.definitions if name.startswith("movies"))


async def load(index: SearchIndex, documents: list[Document]) -> None:
    await index.bulk(movies(index), documents)
    await index.refresh()


async def titles(index: SearchIndex, **query: object) -> list[str]:
    hits = await index.search(SearchQuery(movies(index), **query))  # type: ignore[arg-type]
    return [document["title"] for document in hits.documents]


async def test_ensure_indexes_is_idempotent(index: SearchIndex) -> None:
    assert await index.ensure_indexes() == []
    assert await index.outdated() == []  # just created: in the layout of their definitions
    assert await index.count(movies(index)) == 0


async def test_upsert_get_count_and_delete(index: SearchIndex) -> None:
    first, second = film("Alpha", 5.0), film("Beta", 6.0)
    await load(index, [first, second])
    assert await index.count(movies(index)) == 2
    assert await index.get(movies(index), first["id"]) == first

    renamed = {**first, "title": "Alpha Prime"}
    await index.bulk(movies(index), [renamed], deletes=[second["id"]])
    await index.refresh()
    assert await index.count(movies(index)) == 1  # upsert replaced, no duplicate
    assert await index.get(movies(index), first["id"]) == renamed
    assert await index.get(movies(index), second["id"]) is None


async def test_batches_held_uncommitted_are_all_there_after_the_commit(
    index: SearchIndex,
) -> None:
    documents = [film(f"Held {number}") for number in range(5)]
    await index.bulk(movies(index), documents[:2], commit=False)
    await index.bulk(movies(index), documents[2:4], commit=False)
    await index.bulk(movies(index), documents[4:], commit=True)
    await index.refresh()
    assert await index.count(movies(index)) == 5
    for document in documents:
        assert await index.get(movies(index), document["id"]) == document


async def test_encoded_documents_pass_through_and_read_back_as_documents(
    index: SearchIndex,
) -> None:
    plain, encoded = film("Plain", 6.5), film("Encoded", 7.0, description='Ünïcode, "quoted"')
    text = orjson.dumps({k: v for k, v in encoded.items() if v is not None}).decode()
    await index.bulk(movies(index), [plain, EncodedDocument(encoded["id"], text)])
    await index.refresh()
    assert await index.get(movies(index), encoded["id"]) == orjson.loads(text)
    assert await index.get(movies(index), plain["id"]) == plain
    assert await titles(index, text="unicode quoted") == ["Encoded"]


async def test_derived_objects_are_completed_from_their_flat_fields(index: SearchIndex) -> None:
    """`directors` & co. may be left out of a document (they are the names and ids zipped):
    what the index hands back has them, in order, and nested filters find them."""
    director, cast = credited(["Ridley Scott"]), credited(["Sigourney Weaver", "Tom Skerritt"])
    whole = film(
        "Alien",
        directors=director, directors_names=["Ridley Scott"], directors_ids=[director[0]["id"]],
        actors=cast, actors_names=[p["name"] for p in cast], actors_ids=[p["id"] for p in cast],
    )  # fmt: skip
    bare = {k: v for k, v in whole.items() if k not in ("directors", "actors", "writers")}
    sequel = {k: v for k, v in bare.items() if v is not None}  # encoded: no nulls
    sequel.update(id=str(uuid.uuid4()), title="Aliens")
    encoded = EncodedDocument(sequel["id"], orjson.dumps(sequel).decode())
    await index.bulk(movies(index), [bare, encoded])
    await index.refresh()
    assert await index.get(movies(index), bare["id"]) == whole
    assert await index.get(movies(index), sequel["id"]) == {
        **sequel, "directors": director, "actors": cast, "writers": [],
    }  # fmt: skip
    hits = await index.search(
        SearchQuery(movies(index), filters={"actors.id": cast[1]["id"]}, sort=Sort("title"))
    )
    assert [hit["title"] for hit in hits.documents] == ["Alien", "Aliens"]
    assert all(hit["actors"] == cast and hit["writers"] == [] for hit in hits.documents)


async def test_hits_carry_only_the_fields_asked_for(index: SearchIndex) -> None:
    """`source` names the fields each hit comes back with: those the document has, a derived
    one built from its flat fields; the ranking and the total are the same as without it."""
    cast = credited(["Sigourney Weaver"])
    alien = film("Alien", 8.5, poster_url="/p/alien.jpg", actors=cast,
                 actors_names=["Sigourney Weaver"], actors_ids=[cast[0]["id"]])  # fmt: skip
    bare = {k: v for k, v in alien.items() if k != "actors"}
    await load(index, [bare, film("Aliens", None), film("Alien Nation", 6.0)])
    whole = await index.search(SearchQuery(movies(index), text="alien", fuzzy=True))
    hits = await index.search(
        SearchQuery(movies(index), text="alien", fuzzy=True,
                    source=("id", "title", "imdb_rating", "actors", "poster_url"))
    )  # fmt: skip
    assert hits.total == whole.total == 3
    assert [hit["id"] for hit in hits.documents] == [hit["id"] for hit in whole.documents]
    by_title = {hit["title"]: hit for hit in hits.documents}
    assert by_title["Alien"] == {
        "id": alien["id"], "title": "Alien", "imdb_rating": 8.5, "actors": cast,
        "poster_url": "/p/alien.jpg",
    }  # fmt: skip
    assert by_title["Aliens"].get("imdb_rating") is None
    assert "poster_url" not in by_title["Aliens"]
    assert by_title["Aliens"]["actors"] == []
    sorted_hits = await index.search(
        SearchQuery(movies(index), sort=Sort("title"), source=("title", "nowhere"), limit=2)
    )
    assert sorted_hits.documents == [{"title": "Alien"}, {"title": "Alien Nation"}]


def test_completing_keeps_given_objects_and_refuses_uneven_fields() -> None:
    definition = SearchIndexes.named(IndexNames()).movies
    given = film("Given", directors=credited(["Someone"]))  # not what its flat fields say
    assert definition.complete(dict(given)) == given
    assert definition.complete({"id": "1", "title": "Bare"}) == {"id": "1", "title": "Bare"}
    uneven = {k: v for k, v in film("Uneven", actors_names=["A", "B"], actors_ids=["1"]).items()
              if k != "actors"}  # fmt: skip
    with pytest.raises(SearchError, match="actors"):
        definition.complete(uneven)


async def test_clear_then_new_documents(index: SearchIndex) -> None:
    await load(index, [film("Gone"), film("Gone too")])
    before = await index.version()
    await index.clear(movies(index))
    await index.refresh()
    assert await index.count(movies(index)) == 0
    assert await index.version() > before
    fresh = [film(f"Fresh {number}") for number in range(3)]
    await index.bulk(movies(index), fresh, new=True)
    await index.refresh()
    assert await index.count(movies(index)) == 3
    assert sorted(await titles(index, text="fresh")) == ["Fresh 0", "Fresh 1", "Fresh 2"]


async def test_deleting_a_missing_id_is_not_an_error(index: SearchIndex) -> None:
    await index.bulk(movies(index), deletes=[str(uuid.uuid4())])
    assert await index.count(movies(index)) == 0


async def test_version_moves_on_every_acknowledged_write(index: SearchIndex) -> None:
    before = await index.version()
    await index.bulk(movies(index), [film("Gamma")])
    middle = await index.version()
    await index.bulk(movies(index), deletes=[str(uuid.uuid4())])
    assert before < middle < await index.version()


async def test_text_matches_any_word_punctuation_case_and_accents(index: SearchIndex) -> None:
    await load(index, [film("Spider-Man"), film("Léon"), film("Batman Begins")])
    assert await titles(index, text="spider man") == ["Spider-Man"]
    assert await titles(index, text="Leon") == ["Léon"]
    assert sorted(await titles(index, text="spider batman")) == ["Batman Begins", "Spider-Man"]


async def test_english_and_russian_stemming(index: SearchIndex) -> None:
    await load(index, [film("Running Man"), film("Ёжик в тумане", description="фильмы")])
    assert await titles(index, text="runs") == ["Running Man"]
    assert await titles(index, text="ежики") == ["Ёжик в тумане"]
    assert await titles(index, text="фильм") == ["Ёжик в тумане"]


async def test_fuzzy_tolerates_typos_and_ranks_exact_words_first(index: SearchIndex) -> None:
    await load(index, [film("Star Camp"), film("Star Cramp Story"), film("Dune")])
    assert await titles(index, text="stra", fuzzy=False) == []
    assert set(await titles(index, text="stra", fuzzy=True)) == {"Star Camp", "Star Cramp Story"}
    assert (await titles(index, text="camp", fuzzy=True))[0] == "Star Camp"
    assert await titles(index, text="dnue", fuzzy=True) == ["Dune"]
    # two letters tolerate no edit; long words two edits
    assert await titles(index, text="du", fuzzy=True) == []


async def test_field_boosts_rank_title_above_people_and_description(index: SearchIndex) -> None:
    await load(
        index,
        [
            film("Quiet Evening", description="a story about Harbor"),
            film("Harbor", description="nothing"),
            film("Another", actors=credited(["Harbor"]), actors_names=["Harbor"]),
        ],
    )
    assert await titles(index, text="harbor") == ["Harbor", "Another", "Quiet Evening"]


async def test_search_restricted_to_fields(index: SearchIndex) -> None:
    actors = ["Greg Smith", "Ann Camp"]
    await load(
        index,
        [
            film("One", actors=credited(actors), actors_names=actors),
            film("Greg Camp Story"),
            film("Two", writers=credited(["Greg Camp"]), writers_names=["Greg Camp"]),
        ],
    )
    assert await titles(index, text="Greg Camp", fields=("actors_names",)) == ["One"]
    assert await titles(index, text="camp", fields=("writers.name",)) == ["Two"]


async def test_filters_by_keyword_nested_id_and_id_list(index: SearchIndex) -> None:
    genre = str(uuid.uuid4())
    director = credited(["Ridley Scott"])
    documents = [
        film("A", genre_ids=[genre], genres=["Drama"]),
        film(
            "B",
            directors=director,
            directors_names=["Ridley Scott"],
            directors_ids=[director[0]["id"]],
        ),
        film("C", genre_ids=[genre], genres=["Drama"]),
    ]
    await load(index, documents)
    assert sorted(await titles(index, filters={"genre_ids": genre})) == ["A", "C"]
    assert await titles(index, filters={"directors.id": director[0]["id"]}) == ["B"]
    wanted = [documents[0]["id"], documents[1]["id"]]
    assert sorted(await titles(index, filters={"id": wanted})) == ["A", "B"]
    assert await titles(index, filters={"genre_ids": genre}, text="c") == ["C"]


async def test_filters_by_bool_and_refuses_mixing_bools_and_keywords(index: SearchIndex) -> None:
    video: dict[str, Any] = {"duration": 90.5, "qualities": ["1080p", "720p"]}
    await load(index, [
        film("Watchable", has_video=True, **video),
        film("Not yet", has_video=False, qualities=[]),
        film("Older document"),  # indexed before the field existed: matches neither
    ])  # fmt: skip
    assert await titles(index, filters={"has_video": True}) == ["Watchable"]
    assert await titles(index, filters={"has_video": False}) == ["Not yet"]
    assert await titles(index, filters={"has_video": True, "qualities": "720p"}) == ["Watchable"]
    assert await titles(index, filters={"has_video": True}, text="watchable") == ["Watchable"]
    assert await titles(index, filters={"has_video": True}, text="not yet") == []
    for filters in ({"has_video": "true"}, {"genre_ids": True}, {"has_video": ["x"]}):
        with pytest.raises(SearchQueryError):
            await titles(index, filters=filters)


async def test_sort_by_rating_and_title_missing_ratings_last(index: SearchIndex) -> None:
    await load(index, [film("b", 3.0), film("Á", None), film("C", 9.0), film("d", 1.0)])
    assert await titles(index, sort=Sort.parse("-imdb_rating")) == ["C", "b", "d", "Á"]
    assert await titles(index, sort=Sort.parse("imdb_rating")) == ["d", "b", "C", "Á"]
    assert await titles(index, sort=Sort.parse("title")) == ["Á", "b", "C", "d"]
    assert await titles(index, sort=Sort.parse("-title")) == ["d", "C", "b", "Á"]


async def test_sort_by_viewers_counters_unrated_last(index: SearchIndex) -> None:
    """The content API's `user_rating` and `review_count` sorts: films nobody rated or
    reviewed carry neither field and come last both ways."""
    await load(index, [
        film("Loved", user_rating=9.5, user_rating_count=2, review_count=1),
        film("Debated", user_rating=5.0, user_rating_count=40, review_count=12),
        film("Unseen"),
        film("Panned", user_rating=2.25, user_rating_count=4, review_count=3),
    ])  # fmt: skip
    assert await titles(index, sort=Sort.parse("-user_rating")) == [
        "Loved", "Debated", "Panned", "Unseen"]  # fmt: skip
    assert await titles(index, sort=Sort.parse("user_rating")) == [
        "Panned", "Debated", "Loved", "Unseen"]  # fmt: skip
    assert await titles(index, sort=Sort.parse("-review_count")) == [
        "Debated", "Panned", "Loved", "Unseen"]  # fmt: skip
    assert await titles(index, sort=Sort.parse("review_count")) == [
        "Loved", "Panned", "Debated", "Unseen"]  # fmt: skip


async def test_pagination_reaches_any_depth(index: SearchIndex) -> None:
    documents = [film(f"Film {n:05d}", rating=n / 100) for n in range(250)]
    await load(index, documents)
    hits = await index.search(
        SearchQuery(movies(index), sort=Sort.parse("-imdb_rating"), offset=240, limit=20)
    )
    assert hits.total == 250
    assert [d["title"] for d in hits.documents] == [f"Film {n:05d}" for n in range(9, -1, -1)]
    for offset in (250, 10**12):  # past the end, however far: an empty page, not a crash
        past = await index.search(
            SearchQuery(movies(index), sort=Sort.parse("title"), offset=offset, limit=100)
        )
        assert past.documents == []
        assert past.total == 250


async def test_rejects_unknown_fields_and_bad_pages_as_the_callers_error(
    index: SearchIndex,
) -> None:
    """A sort or filter the index cannot do is the caller's mistake (`SearchQueryError`, a
    4xx upstream), not an unavailable index."""
    for query in (
        {"sort": Sort.parse("description")},
        {"sort": Sort.parse("-no_such_field")},
        {"filters": {"title": "x"}},
        {"filters": {"nowhere": "x"}},
        {"text": "x", "fields": ("genre_ids",)},
    ):
        with pytest.raises(SearchQueryError) as refused:
            await index.search(SearchQuery(movies(index), **query))
        assert not isinstance(refused.value, SearchUnavailable)
        assert str(refused.value)
    with pytest.raises(SearchQueryError):
        SearchQuery(movies(index), limit=MAX_LIMIT + 1)
    with pytest.raises(SearchQueryError):
        SearchQuery(movies(index), offset=-1)
    with pytest.raises(SearchQueryError):
        SearchQuery(movies(index), source=())


@pytest.mark.parametrize(
    "text",
    ['"', '"unbalanced', "AND", "OR NOT", "title:", "title:(", "*", "?", "st*r", "a~2", "\\",
     "(((", "[1 TO", "-", "+", "/regex/", "x" * 5000, "star " * 300, "звёздные войны", "🎬🎬",
     "\u0000", "ǅ Ꮳ ﬀ"],
)  # fmt: skip
async def test_any_text_is_searched_as_words_never_refused(index: SearchIndex, text: str) -> None:
    """Query syntax is not ours to parse: operators and wildcards are words (or nothing)."""
    await load(index, [film("Star Wars"), film("AND then there were none")])
    hits = await index.search(SearchQuery(movies(index), text=text, fuzzy=True))
    assert hits.total == len(hits.documents)
    if text.startswith("star "):
        assert hits.documents[0]["title"] == "Star Wars"


async def test_better_known_films_rank_first_among_equal_matches(index: SearchIndex) -> None:
    await load(
        index,
        [
            film("Harbor Lights", 2.0, popularity=2.0),
            film("Harbor Nights", 8.5, popularity=10.0),
            film("Harbor Days", None),
            film("Harbor Dreams", 6.0, popularity=6.5),
        ],
    )
    assert await titles(index, text="harbor") == [
        "Harbor Nights", "Harbor Dreams", "Harbor Lights", "Harbor Days"
    ]  # fmt: skip
    # an explicit sort is the caller's order: no weighting
    assert (await titles(index, text="harbor", sort=Sort("title")))[0] == "Harbor Days"


async def test_title_words_in_order_rank_above_scattered_words(index: SearchIndex) -> None:
    await load(
        index,
        [
            # scattered, and better known: the words in order still come first
            film("Night of the Long Watch", 9.0, popularity=11.0),
            film("The Long Night", 4.0, popularity=4.0),
            film("Long Night", 4.0, popularity=4.0, description="long long night"),
        ],
    )
    found = await titles(index, text="long night")
    assert set(found[:2]) == {"The Long Night", "Long Night"}
    assert found[2] == "Night of the Long Watch"


async def test_a_description_repeating_a_word_does_not_beat_a_title(index: SearchIndex) -> None:
    await load(
        index,
        [
            film("Quiet Evening", 9.0, popularity=11.0,
                 description="harbor " * 40 + "harbor harbor, the harbor of harbors"),
            film("Harbor", 5.0, popularity=5.0, description="a town"),
        ],
    )  # fmt: skip
    assert await titles(index, text="harbor") == ["Harbor", "Quiet Evening"]


async def test_words_as_typed_rank_above_their_stems(index: SearchIndex) -> None:
    """Stemming finds "darkness" for "dark", and the other way round; the film whose title
    holds the word as it was typed comes first all the same."""
    await load(
        index,
        [
            film("Dark Star", 8.0, popularity=9.0),
            film("Star Trek Into Darkness", 7.0, popularity=8.0),
        ],
    )
    assert await titles(index, text="into darkness") == ["Star Trek Into Darkness", "Dark Star"]
    assert await titles(index, text="dark") == ["Dark Star", "Star Trek Into Darkness"]
    # a word only the unstemmed field holds ("into" is a stop word) finds nothing on its own
    assert await titles(index, text="into") == []
    assert await titles(index, text="into", fields=("title_exact",)) == ["Star Trek Into Darkness"]


async def test_known_words_still_match_near_spellings_below_exact_hits(
    index: SearchIndex,
) -> None:
    await load(
        index,
        [
            film("Starr", 9.5, popularity=11.0),  # a near spelling, and the best known
            film("Star", 3.0, popularity=3.0),
            film("Stars", 5.0, popularity=5.0),  # stemmed: the same word, not as typed
            film("Dune", 9.0, popularity=9.0),
        ],
    )
    assert await titles(index, text="star", fuzzy=False) == ["Star", "Stars"]
    found = await titles(index, text="star", fuzzy=True)
    assert found == ["Star", "Stars", "Starr"]


async def test_rebuild_switches_versions_while_searches_answer(index: SearchIndex) -> None:
    await load(index, [film(f"Old {n}") for n in range(50)])
    errors: list[BaseException] = []
    empty = 0
    done = asyncio.Event()

    async def search_loop() -> int:
        nonlocal empty
        rounds = 0
        while not done.is_set() or rounds == 0:
            try:
                hits = await index.search(SearchQuery(movies(index), limit=5))
                if not hits.documents:
                    empty += 1
            except Exception as error:
                errors.append(error)
            rounds += 1
            await asyncio.sleep(0)
        return rounds

    async def batches() -> AsyncIterator[list[Document]]:
        for start in range(0, 300, 100):
            yield [film(f"New {n}") for n in range(start, start + 100)]
            await asyncio.sleep(0.01)

    looping = asyncio.create_task(search_loop())
    before = await index.version()
    assert await index.rebuild(movies(index), batches()) == 300
    done.set()
    assert await looping > 1
    await index.refresh()
    assert errors == []
    assert empty == 0
    assert await index.count(movies(index)) == 300
    assert await index.version() > before
    assert (await titles(index, text="old")) == []


@pytest.fixture(params=["tantivy", "elasticsearch"])
async def things(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SearchIndex]:
    """An index of a definition unlike the catalog's: nested text that has no flat twin."""
    name = f"things_{uuid.uuid4().hex[:8]}"
    tags = FieldSpec(
        "tags",
        FieldKind.OBJECTS,
        properties=(FieldSpec("code", FieldKind.KEYWORD), FieldSpec("label", FieldKind.TEXT)),
    )
    definition = IndexDefinition(name, (FieldSpec("id", FieldKind.KEYWORD), tags))
    if request.param == "tantivy":
        url = f"tantivy://{tmp_path / 'things'}"
    else:
        if not ELASTICSEARCH_URL:
            pytest.skip("no Elasticsearch; set KINOTEKA_TEST_ELASTICSEARCH_URL to run this suite")
        url = ELASTICSEARCH_URL
    adapter = search_port.from_url(url, [definition])
    await adapter.ensure_indexes()
    yield adapter
    if request.param == "elasticsearch":
        client = adapter.client  # type: ignore[attr-defined]
        await client.indices.delete(index=f"{name}*", ignore_unavailable=True)
    await adapter.close()


async def test_nested_text_and_keywords_of_any_definition(things: SearchIndex) -> None:
    (name,) = things.definitions
    await things.bulk(
        name,
        [
            {"id": "1", "tags": [{"code": "A-1", "label": "Running Dogs"}]},
            EncodedDocument(  # encoded: an adapter that derives fields must still see them
                "2", '{"id":"2","tags":[{"code":"B","label":"cats"},{"code":"C","label":"owls"}]}'
            ),
        ],
    )
    await things.refresh()

    async def ids(**query: object) -> list[str]:
        hits = await things.search(SearchQuery(name, **query))  # type: ignore[arg-type]
        return sorted(document["id"] for document in hits.documents)

    assert await ids(text="run dog", fields=("tags.label",)) == ["1"]
    assert await ids(text="kats", fuzzy=True, fields=("tags.label",)) == ["2"]
    assert await ids(filters={"tags.code": "A-1"}) == ["1"]
    assert await ids(filters={"tags.code": ["C", "A-1"]}) == ["1", "2"]
