"""The Elasticsearch adapter reports an index built for another layout as outdated.

The cluster's side is the two calls `outdated()` makes (`indices.exists`, `indices.get_mapping`),
answered here from the bodies the adapter itself created the indexes with; the contract tests
run the whole adapter against a real cluster when `KINOTEKA_TEST_ELASTICSEARCH_URL` is set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kinoteka.infra.search.elasticsearch import ElasticsearchIndex, index_body
from kinoteka.infra.search.port import FieldKind, FieldSpec, IndexDefinition

TITLE = FieldSpec("title", FieldKind.TEXT, sortable=True, boost=1.0)
V1 = IndexDefinition("movies", (FieldSpec("id", FieldKind.KEYWORD), TITLE))
V2 = IndexDefinition("movies", (*V1.fields, FieldSpec("created", FieldKind.KEYWORD)))


@dataclass
class Answer:
    body: dict[str, Any]


@dataclass
class Indices:
    """Live indexes by alias: the mapping each physical index was created with."""

    live: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def exists(self, index: str) -> bool:
        return index in self.live

    async def get_mapping(self, index: str) -> Answer:
        return Answer({f"{index}_v1": {"mappings": self.live[index]}})


@dataclass
class Cluster:
    indices: Indices = field(default_factory=Indices)


def adapter(cluster: Cluster, definition: IndexDefinition) -> ElasticsearchIndex:
    return ElasticsearchIndex(cluster, [definition])  # type: ignore[arg-type]


def test_the_layout_digest_follows_the_mapping() -> None:
    assert (
        index_body(V1)["mappings"]["_meta"]["layout"]
        == index_body(V1)["mappings"]["_meta"]["layout"]
    )
    assert (
        index_body(V1)["mappings"]["_meta"]["layout"]
        != index_body(V2)["mappings"]["_meta"]["layout"]
    )


async def test_an_index_built_for_an_older_layout_is_outdated() -> None:
    cluster = Cluster()
    assert await adapter(cluster, V2).outdated() == []  # missing is not outdated

    cluster.indices.live["movies"] = index_body(V1)["mappings"]
    assert await adapter(cluster, V1).outdated() == []
    assert await adapter(cluster, V2).outdated() == ["movies"]

    unrecorded = dict(index_body(V2)["mappings"])
    del unrecorded["_meta"]  # built before layouts were recorded
    cluster.indices.live["movies"] = unrecorded
    assert await adapter(cluster, V2).outdated() == ["movies"]
