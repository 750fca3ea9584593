"""What the Elasticsearch adapter sends, checked without a cluster: the `movies` mapping with
the `ru_en` analyzer, and the compiled queries (the contract suite runs them on a real cluster
when KINOTEKA_TEST_ELASTICSEARCH_URL is set)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kinoteka.infra.search import (
    PHRASE_SLOP,
    EncodedDocument,
    SearchError,
    SearchQuery,
    SearchQueryError,
    Sort,
)
from kinoteka.infra.search.elasticsearch import (
    _index_actions,
    compile_query,
    compile_sort,
    index_body,
)
from kinoteka.search.documents import SearchIndexes
from kinoteka.search.settings import IndexNames

INDEXES = SearchIndexes.named(IndexNames())


def _bool(compiled: dict[str, Any]) -> dict[str, Any]:
    """The bool query inside a ranked search's popularity weighting."""
    inner: dict[str, Any] = compiled.get("function_score", {}).get("query", compiled)["bool"]
    return inner


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
    assert properties["imdb_rating"] == {"type": "double"}  # f64, as Tantivy's column
    assert properties["added"] == {"type": "double"}
    assert properties["title"]["analyzer"] == "ru_en"
    assert properties["title"]["fields"]["raw"]["type"] == "keyword"
    assert properties["title_exact"] == {"type": "text", "analyzer": "exact"}
    assert body["settings"]["analysis"]["analyzer"]["exact"]["filter"] == [
        "lowercase", "asciifolding"
    ]  # fmt: skip
    assert properties["genre_ids"] == {"type": "keyword"}
    for role in ("directors", "actors", "writers"):
        assert properties[f"{role}_names"]["analyzer"] == "ru_en"
        assert properties[role]["type"] == "nested"
        assert properties[role]["properties"]["id"] == {"type": "keyword"}
    persons = index_body(INDEXES.persons)["mappings"]["properties"]
    assert persons["films"]["properties"]["roles"] == {"type": "keyword"}


def test_nested_filters_and_fields_are_wrapped_in_nested_queries() -> None:
    query = SearchQuery("movies", text="greg", fields=("actors.name",), filters={"actors.id": "x"})
    compiled = _bool(compile_query(INDEXES.movies, query))
    assert compiled["filter"] == [
        {"nested": {"path": "actors", "query": {"term": {"actors.id": "x"}}}}
    ]
    should = compiled["must"][0]["bool"]["should"]
    assert should[0]["nested"]["path"] == "actors"


def test_fuzzy_adds_a_weaker_fuzzy_match_per_field() -> None:
    compiled = compile_query(INDEXES.movies, SearchQuery("movies", text="camp", fuzzy=True))
    should = _bool(compiled)["must"][0]["bool"]["should"]
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


def test_ranked_search_is_weighted_by_popularity_and_boosts_title_phrases() -> None:
    """The Elasticsearch twin of Tantivy's ranking (the port's docstring): score multiplied by
    log(2 + popularity), the words in order in the title boosted, near spellings weaker."""
    compiled = compile_query(INDEXES.movies, SearchQuery("movies", text="long night", fuzzy=True))
    scored = compiled["function_score"]
    assert scored["field_value_factor"] == {
        "field": "popularity", "modifier": "log2p", "missing": 0
    }  # fmt: skip
    assert scored["boost_mode"] == "multiply"
    should = scored["query"]["bool"]["must"][0]["bool"]["should"]
    scoring = scored["query"]["bool"]["should"]  # beside the must: adds to the score only
    (phrase,) = [clause["match_phrase"] for clause in scoring if "match_phrase" in clause]
    assert not [clause for clause in should if "match_phrase" in clause]
    typed = [c["match"]["title_exact"] for c in scoring if "title_exact" in c.get("match", {})]
    assert typed == [{"query": "long night", "boost": 2.0}]
    assert not [c for c in should if "title_exact" in c.get("match", {})]
    assert phrase == {"title": {"query": "long night", "slop": PHRASE_SLOP, "boost": 10.0}}
    title = [c["match"]["title"] for c in should if "title" in c.get("match", {})]
    description = [c["match"]["description"] for c in should if "description" in c.get("match", {})]
    assert title[0]["boost"] > description[0]["boost"]
    assert phrase["title"]["boost"] > title[0]["boost"]


@pytest.mark.parametrize(
    "query",
    [
        SearchQuery("movies", text="night", sort=Sort.parse("-imdb_rating")),
        SearchQuery("movies", filters={"genre_ids": "g"}),
        SearchQuery("movies", text="   "),
    ],
)
def test_sorted_or_unranked_searches_are_not_weighted(query: SearchQuery) -> None:
    assert "function_score" not in compile_query(INDEXES.movies, query)


def test_a_phrase_boost_only_applies_to_the_fields_searched() -> None:
    compiled = compile_query(
        INDEXES.movies, SearchQuery("movies", text="greg camp", fields=("actors_names",))
    )
    assert "should" not in _bool(compiled)  # no phrase, no words as typed: people only


async def test_a_request_the_cluster_refuses_is_the_callers_error() -> None:
    """A 400 (unparsable query, a sort the mapping cannot do, a window too deep) is a
    `SearchQueryError` carrying the cluster's reason, not an outage."""
    from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
    from elasticsearch import BadRequestError

    from kinoteka.infra.search.elasticsearch import ElasticsearchIndex

    meta = ApiResponseMeta(
        status=400, http_version="1.1", headers=HttpHeaders(), duration=0.0,
        node=NodeConfig("http", "localhost", 9200),
    )  # fmt: skip
    body = {"error": {"root_cause": [{"type": "query_shard_exception",
                                      "reason": "No mapping found for [x] in order to sort on"}]},
            "status": 400}  # fmt: skip

    async def refused() -> None:
        raise BadRequestError("search_phase_execution_exception", meta, body)

    index = ElasticsearchIndex.from_url("http://127.0.0.1:9", INDEXES.all())
    try:
        with pytest.raises(SearchQueryError, match="No mapping found for"):
            await index._guard(refused)
    finally:
        await index.close()
