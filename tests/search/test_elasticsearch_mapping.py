"""What the Elasticsearch adapter sends, checked without a cluster: the `movies` mapping with
the `ru_en` analyzer, and the compiled queries (the contract suite runs them on a real cluster
when KINOTEKA_TEST_ELASTICSEARCH_URL is set)."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kinoteka.infra.search import EncodedDocument, SearchError, SearchQuery, Sort
from kinoteka.infra.search.elasticsearch import (
    _index_actions,
    compile_query,
    compile_sort,
    index_body,
)
from kinoteka.search.documents import SearchIndexes
from kinoteka.search.settings import IndexNames

INDEXES = SearchIndexes.named(IndexNames())


def test_movies_mapping_is_strict_with_ru_en_and_nested_people() -> None:
    body = index_body(INDEXES.movies)
    analyzer = body["settings"]["analysis"]["analyzer"]["ru_en"]
    assert analyzer["tokenizer"] == "standard"
    for name in ("lowercase", "english_stop", "english_stemmer", "english_possessive_stemmer",
                 "russian_stop", "russian_stemmer"):  # fmt: skip
        assert name in analyzer["filter"]
    mapping = body["mappings"]
    assert mapping["dynamic"] == "strict"
    properties = mapping["properties"]
    assert properties["id"] == {"type": "keyword"}
    assert properties["imdb_rating"] == {"type": "float"}
    assert properties["title"]["analyzer"] == "ru_en"
    assert properties["title"]["fields"]["raw"]["type"] == "keyword"
    assert properties["genre_ids"] == {"type": "keyword"}
    for role in ("directors", "actors", "writers"):
        assert properties[f"{role}_names"]["analyzer"] == "ru_en"
        assert properties[role]["type"] == "nested"
        assert properties[role]["properties"]["id"] == {"type": "keyword"}
    persons = index_body(INDEXES.persons)["mappings"]["properties"]
    assert persons["films"]["properties"]["roles"] == {"type": "keyword"}


def test_nested_filters_and_fields_are_wrapped_in_nested_queries() -> None:
    query = SearchQuery("movies", text="greg", fields=("actors.name",), filters={"actors.id": "x"})
    compiled = compile_query(INDEXES.movies, query)
    assert compiled["bool"]["filter"] == [
        {"nested": {"path": "actors", "query": {"term": {"actors.id": "x"}}}}
    ]
    should = compiled["bool"]["must"][0]["bool"]["should"]
    assert should[0]["nested"]["path"] == "actors"


def test_fuzzy_adds_a_weaker_fuzzy_match_per_field() -> None:
    compiled = compile_query(INDEXES.movies, SearchQuery("movies", text="camp", fuzzy=True))
    should = compiled["bool"]["must"][0]["bool"]["should"]
    title = [clause["match"]["title"] for clause in should if "title" in clause.get("match", {})]
    exact, fuzzy = title
    assert "fuzziness" not in exact
    assert fuzzy["fuzziness"] == "AUTO"
    assert fuzzy["boost"] < exact["boost"]


@given(
    sort=st.sampled_from(["imdb_rating", "-imdb_rating", "title", "-title", None]),
    text=st.one_of(st.none(), st.text(max_size=20)),
)
def test_every_sort_is_a_total_order(sort: str | None, text: str | None) -> None:
    query = SearchQuery("movies", text=text, sort=Sort.parse(sort) if sort else None)
    order = compile_sort(INDEXES.movies, query)
    assert order[-1] == {"id": "asc"}  # search_after needs a tiebreaker


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(SearchError):
        compile_query(INDEXES.movies, SearchQuery("movies", filters={"title": "x"}))
    with pytest.raises(SearchError):
        compile_sort(INDEXES.movies, SearchQuery("movies", sort=Sort("genres")))


async def test_an_unreachable_cluster_is_reported_as_unavailable() -> None:
    """What the sync's backoff retries on: a refused connection, from the real client."""
    from kinoteka.infra import search as search_port
    from kinoteka.infra.search import SearchUnavailable

    index = search_port.from_url("http://127.0.0.1:9", INDEXES.all())
    try:
        with pytest.raises(SearchUnavailable):
            await index.ping()
        with pytest.raises(SearchUnavailable):
            await index.bulk("movies", [{"id": "1", "title": "x"}])
        with pytest.raises(SearchError):
            await index.bulk("nope", [{"id": "1"}])
    finally:
        await index.close()


def test_bulk_actions_carry_the_derived_nested_objects() -> None:
    """The mapping indexes `directors` & co. as nested objects: documents written without
    them (as the catalog's query renders them) get them before they reach the cluster."""
    bare = {"id": "f1", "title": "Alien", "directors_names": ["Ridley Scott"],
            "directors_ids": ["p1"], "actors_names": [], "actors_ids": [],
            "writers_names": [], "writers_ids": []}  # fmt: skip
    encoded = EncodedDocument("f2", orjson.dumps({**bare, "id": "f2"}).decode())
    actions = _index_actions(INDEXES.movies, "movies", [bare, encoded])
    sources = [a["_source"] if isinstance(a["_source"], dict) else orjson.loads(a["_source"])
               for a in actions]  # fmt: skip
    for source in sources:
        assert source["directors"] == [{"id": "p1", "name": "Ridley Scott"}]
        assert source["actors"] == []
        assert source["writers"] == []
    assert "directors" not in bare  # the caller's document is left as it was
    persons = _index_actions(INDEXES.persons, "persons", [EncodedDocument("p1", '{"id":"p1"}')])
    assert persons[0]["_source"] == '{"id":"p1"}'  # nothing derived: the text as it is
