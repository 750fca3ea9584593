"""Elasticsearch 8 / OpenSearch adapter over the official async client and its bulk helpers.

Each index is a versioned physical index (`movies_v<ns>`) behind an alias (`movies`); `rebuild`
loads a new version and swaps the alias in one `update_aliases` call, then drops the old one.
Text is analyzed by `ru_en` (standard tokenizer, lowercase, English and Russian stop words and
stemmers, English possessive stemmer); mappings are `dynamic: strict`. The write version lives
in the one document of the `<first index>_meta` index. Each physical index carries the layout
it was built for (a digest of its settings and mapping, in the mapping's `_meta`): `outdated()`
names the indexes whose layout differs from their definition's, for a zero-downtime rebuild.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import structlog
from elasticsearch import (
    ApiError,
    AsyncElasticsearch,
    ConnectionError,
    ConnectionTimeout,
    NotFoundError,
)
from elasticsearch.helpers import BulkIndexError, async_bulk

from kinoteka.infra.search.port import (
    PHRASE_SLOP,
    Document,
    EncodedDocument,
    FieldKind,
    FieldSpec,
    IndexDefinition,
    SearchError,
    SearchHits,
    SearchQuery,
    SearchQueryError,
    SearchUnavailable,
    Upsert,
)

log = structlog.get_logger(__name__)

MAX_WINDOW = 10_000  # index.max_result_window: deeper pages walk with search_after
FUZZY_WEIGHT = 0.25  # a near spelling's hit, relative to the word's own (Tantivy's NEAR_WEIGHT)
T = TypeVar("T")

ANALYSIS: dict[str, Any] = {
    "filter": {
        "english_stop": {"type": "stop", "stopwords": "_english_"},
        "english_stemmer": {"type": "stemmer", "language": "english"},
        "english_possessive_stemmer": {"type": "stemmer", "language": "possessive_english"},
        "russian_stop": {"type": "stop", "stopwords": "_russian_"},
        "russian_stemmer": {"type": "stemmer", "language": "russian"},
    },
    "analyzer": {
        "ru_en": {
            "tokenizer": "standard",
            "filter": [
                "lowercase",
                "asciifolding",  # "Leon" finds "Léon", as the Tantivy twin does
                "english_stop",
                "english_stemmer",
                "english_possessive_stemmer",
                "russian_stop",
                "russian_stemmer",
            ],
        },
        # `FieldSpec.exact`: the words as written, as the Tantivy twin's `exact` analyzer
        "exact": {"tokenizer": "standard", "filter": ["lowercase", "asciifolding"]},
    },
    "normalizer": {"sort_key": {"type": "custom", "filter": ["lowercase", "asciifolding"]}},
}
META_MAPPING: dict[str, Any] = {"dynamic": "strict", "properties": {"version": {"type": "long"}}}


def field_mapping(spec: FieldSpec) -> dict[str, Any]:
    if spec.kind is FieldKind.KEYWORD:
        return {"type": "keyword"}
    if spec.kind is FieldKind.FLOAT:
        # 64 bits, as Tantivy's f64 column: a 32-bit float cannot tell apart two moments
        # (`added`, seconds since 1970) a minute or two apart.
        return {"type": "double"}
    if spec.kind is FieldKind.BOOL:
        return {"type": "boolean"}
    if spec.kind is FieldKind.TEXT:
        mapping: dict[str, Any] = {"type": "text", "analyzer": "exact" if spec.exact else "ru_en"}
        if spec.sortable:
            mapping["fields"] = {"raw": {"type": "keyword", "normalizer": "sort_key"}}
        return mapping
    return {
        "type": "nested",
        "dynamic": "strict",
        "properties": {prop.name: field_mapping(prop) for prop in spec.properties},
    }


def index_body(definition: IndexDefinition) -> dict[str, Any]:
    """Settings and the strict mapping of one index (the `movies` one is the issue's), with
    the digest of both (`_meta.layout`) that `outdated()` compares."""
    body: dict[str, Any] = {
        "settings": {"refresh_interval": "1s", "analysis": ANALYSIS},
        "mappings": {
            "dynamic": "strict",
            "properties": {spec.name: field_mapping(spec) for spec in definition.fields},
        },
    }
    body["mappings"]["_meta"] = {"layout": layout_digest(body)}
    return body


def layout_digest(body: Mapping[str, Any]) -> str:
    """A digest of an index's settings and mapping: equal exactly when the layouts are."""
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:32]


def built_layout(mapping: Mapping[str, Any]) -> str | None:
    """The layout a live index was built for, from its `get_mapping` answer (None: built
    before layouts were recorded)."""
    layout = mapping.get("mappings", {}).get("_meta", {}).get("layout")
    return layout if isinstance(layout, str) else None


def _wrap(nested: FieldSpec | None, clause: dict[str, Any]) -> dict[str, Any]:
    return clause if nested is None else {"nested": {"path": nested.name, "query": clause}}


def compile_query(definition: IndexDefinition, query: SearchQuery) -> dict[str, Any]:
    """The Elasticsearch query for a `SearchQuery`: filters, the weighted full text (each
    word in each boosted field, its near spellings worth less, the words in order in a
    phrase-boosted field worth more) and, for a ranked search, the score multiplied by
    `log(2 + weight_field)` (see the port's docstring: the Tantivy twin ranks alike)."""
    filters: list[dict[str, Any]] = []
    for path, value in query.filters.items():
        nested, spec = definition.resolve(path)
        if spec.kind is FieldKind.BOOL and nested is None:
            if not isinstance(value, bool):
                raise SearchQueryError(f"filter {definition.name!r} by {path!r} with true or false")
        elif spec.kind is not FieldKind.KEYWORD or isinstance(value, bool):
            raise SearchQueryError(f"cannot filter {definition.name!r} by {path!r}")
        if isinstance(value, bool | str):
            term: dict[str, Any] = {"term": {path: value}}
        else:
            term = {"terms": {path: list(value)}}
        filters.append(_wrap(nested, term))
    must: list[dict[str, Any]] = []
    scoring: list[dict[str, Any]] = []
    ranked = bool(query.text and query.text.strip())
    if ranked:
        paths = query.fields or tuple(definition.default_text_fields)
        resolved = {path: definition.resolve(path) for path in paths}
        exact_paths = [path for path, (_, spec) in resolved.items() if spec.exact]
        finding = [path for path in paths if path not in exact_paths] or list(paths)
        should: list[dict[str, Any]] = []
        for path in paths:
            nested, spec = resolved[path]
            if spec.kind is not FieldKind.TEXT:
                raise SearchQueryError(f"cannot search {definition.name!r} in {path!r}")
            boost = definition.default_text_fields.get(path, 1.0)
            exact = {"match": {path: {"query": query.text, "boost": boost}}}
            if path not in finding:
                # the words as typed only add to the score of what the other fields find
                scoring.append(_wrap(nested, exact))
                continue
            should.append(_wrap(nested, exact))
            if query.fuzzy:
                fuzzy = {
                    "match": {
                        path: {
                            "query": query.text,
                            "fuzziness": "AUTO",
                            "boost": boost * FUZZY_WEIGHT,
                        }
                    }
                }
                should.append(_wrap(nested, fuzzy))
        for path, boost in definition.phrase_fields(finding).items():
            phrase = {"query": query.text, "slop": PHRASE_SLOP, "boost": boost}
            scoring.append({"match_phrase": {path: phrase}})
        must.append({"bool": {"should": should, "minimum_should_match": 1}})
    if not must and not filters:
        return {"match_all": {}}
    compiled: dict[str, Any] = {"bool": {"must": must, "filter": filters}}
    if scoring:  # beside a `must`, `should` clauses only add to the score
        compiled["bool"]["should"] = scoring
    if ranked and query.sort is None and definition.weight_field is not None:
        weight = {"field": definition.weight_field, "modifier": "log2p", "missing": 0}
        compiled = {
            "function_score": {
                "query": compiled,
                "field_value_factor": weight,
                "boost_mode": "multiply",
            }
        }
    return compiled


def compile_sort(definition: IndexDefinition, query: SearchQuery) -> list[Any]:
    """A total order (ties broken by id), as `search_after` needs."""
    if query.sort is None:
        head: list[Any] = ["_score"] if query.text else []
        return [*head, {"id": "asc"}]
    spec = definition.field(query.sort.field)
    order = "desc" if query.sort.descending else "asc"
    if spec.kind is FieldKind.FLOAT:
        return [{spec.name: {"order": order, "missing": "_last"}}, {"id": "asc"}]
    if spec.kind is FieldKind.TEXT and spec.sortable:
        return [{f"{spec.name}.raw": {"order": order}}, {"id": "asc"}]
    raise SearchQueryError(f"cannot sort {definition.name!r} by {query.sort.field!r}")


class ElasticsearchIndex:
    """The `SearchIndex` port over an Elasticsearch 8 / OpenSearch cluster."""

    def __init__(self, client: AsyncElasticsearch, definitions: Sequence[IndexDefinition]) -> None:
        self.client = client
        self.definitions: Mapping[str, IndexDefinition] = {d.name: d for d in definitions}
        first = definitions[0].name if definitions else "kinoteka"
        self.meta_index = f"{first}_meta"

    @classmethod
    def from_url(cls, url: str, definitions: Sequence[IndexDefinition]) -> ElasticsearchIndex:
        client = AsyncElasticsearch(url, request_timeout=30, retry_on_timeout=False)
        return cls(client, definitions)

    def _definition(self, index: str) -> IndexDefinition:
        try:
            return self.definitions[index]
        except KeyError:
            raise SearchError(f"unknown index {index!r}") from None

    async def _guard(self, call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await call()
        except (ConnectionError, ConnectionTimeout) as error:
            raise SearchUnavailable(str(error)) from error
        except ApiError as error:
            if error.meta.status in (429, 502, 503, 504):
                raise SearchUnavailable(str(error)) from error
            if error.meta.status == 400:  # the cluster refused the request: parse, sort, window
                raise SearchQueryError(_reason(error)) from error
            raise SearchError(str(error)) from error

    async def _create_version(self, definition: IndexDefinition) -> str:
        physical = f"{definition.name}_v{time.time_ns()}"
        await self.client.indices.create(index=physical, **index_body(definition))
        return physical

    async def ensure_indexes(self) -> list[str]:
        async def run() -> list[str]:
            created = []
            for definition in self.definitions.values():
                if not await self.client.indices.exists(index=definition.name):
                    physical = await self._create_version(definition)
                    await self.client.indices.put_alias(index=physical, name=definition.name)
                    created.append(definition.name)
            if not await self.client.indices.exists(index=self.meta_index):
                await self.client.indices.create(index=self.meta_index, mappings=META_MAPPING)
            if created:
                await self._bump_version()
            return created

        return await self._guard(run)

    async def outdated(self) -> list[str]:
        """The indexes whose live version was built for another layout than its definition's
        (or before layouts were recorded); a missing index is not outdated, only missing."""

        async def run() -> list[str]:
            stale = []
            for definition in self.definitions.values():
                if not await self.client.indices.exists(index=definition.name):
                    continue
                wanted = index_body(definition)["mappings"]["_meta"]["layout"]
                live = await self.client.indices.get_mapping(index=definition.name)
                if any(built_layout(mapping) != wanted for mapping in live.body.values()):
                    stale.append(definition.name)
            return stale

        return await self._guard(run)

    async def _bump_version(self) -> None:
        current = await self._read_version()
        version = max(current + 1, time.time_ns())
        await self.client.index(
            index=self.meta_index, id="version", document={"version": version}, refresh=True
        )

    async def _read_version(self) -> int:
        try:
            found = await self.client.get(index=self.meta_index, id="version")
        except NotFoundError:
            return 0
        return int(found["_source"]["version"])

    async def bulk(
        self,
        index: str,
        upserts: Sequence[Upsert] = (),
        deletes: Sequence[str] = (),
        *,
        commit: bool = True,  # every bulk request is acknowledged (durable) by Elasticsearch
        new: bool = False,  # an index action replaces by `_id` at no extra cost either way
    ) -> None:
        definition = self._definition(index)
        if not upserts and not deletes:
            return
        actions = _index_actions(definition, index, upserts)
        actions += [{"_op_type": "delete", "_index": index, "_id": str(i)} for i in deletes]

        async def run() -> None:
            _, errors = await async_bulk(
                self.client, actions, raise_on_error=False, raise_on_exception=True
            )
            failures = [
                item
                for item in (errors if isinstance(errors, list) else [])
                if isinstance(item, dict)
                and not ("delete" in item and item["delete"].get("status") == 404)
            ]
            if failures:
                raise SearchError(f"{len(failures)} bulk action(s) failed: {failures[0]}")
            await self._bump_version()

        try:
            await self._guard(run)
        except BulkIndexError as error:
            raise SearchError(str(error)) from error

    async def get(self, index: str, document_id: str) -> Document | None:
        self._definition(index)

        async def run() -> Document | None:
            try:
                found = await self.client.get(index=index, id=document_id)
            except NotFoundError:
                return None
            document: Document = found["_source"]
            return document

        return await self._guard(run)

    async def count(self, index: str) -> int:
        self._definition(index)

        async def run() -> int:
            return int((await self.client.count(index=index))["count"])

        return await self._guard(run)

    async def search(self, query: SearchQuery) -> SearchHits:
        definition = self._definition(query.index)
        body = compile_query(definition, query)
        sort = compile_sort(definition, query)
        # Only the fields asked for, as the index stored them (derived ones included).
        source: bool | dict[str, list[str]] = (
            True if query.source is None else {"includes": list(query.source)}
        )

        async def run() -> SearchHits:
            if query.offset + query.limit <= MAX_WINDOW:
                found = await self.client.search(
                    index=query.index, query=body, sort=sort, from_=query.offset,
                    size=query.limit, track_total_hits=True, source=source,
                )  # fmt: skip
                return _hits(found)
            # Past the result window: walk to the offset with search_after, ids only.
            after: list[Any] | None = None
            skipped = 0
            while skipped < query.offset:
                step = min(MAX_WINDOW, query.offset - skipped)
                found = await self.client.search(
                    index=query.index, query=body, sort=sort, size=step, source=False,
                    search_after=after, track_total_hits=False,
                )  # fmt: skip
                hits = found["hits"]["hits"]
                if not hits:
                    total = await self.client.count(index=query.index, query=body)
                    return SearchHits(total=int(total["count"]), documents=[])
                skipped += len(hits)
                after = hits[-1]["sort"]
            found = await self.client.search(
                index=query.index, query=body, sort=sort, size=query.limit,
                search_after=after, track_total_hits=True, source=source,
            )  # fmt: skip
            return _hits(found)

        return await self._guard(run)

    async def refresh(self) -> None:
        async def run() -> None:
            names = ",".join(self.definitions)
            await self.client.indices.refresh(index=names)

        await self._guard(run)

    async def clear(self, index: str) -> None:
        self._definition(index)

        async def run() -> None:
            await self.client.delete_by_query(
                index=index, query={"match_all": {}}, refresh=True, conflicts="proceed"
            )
            await self._bump_version()

        await self._guard(run)

    async def rebuild(self, index: str, batches: AsyncIterator[Sequence[Upsert]]) -> int:
        definition = self._definition(index)
        physical = await self._guard(lambda: self._create_version(definition))
        loaded = 0
        try:
            async for batch in batches:
                await self.bulk_into(definition, physical, batch)
                loaded += len(batch)

            async def switch() -> None:
                await self.client.indices.refresh(index=physical)
                current = await self.client.indices.get_alias(name=index)
                old = list(current.body)
                await self.client.indices.update_aliases(
                    actions=[
                        *({"remove": {"index": name, "alias": index}} for name in old),
                        {"add": {"index": physical, "alias": index}},
                    ]
                )
                await self._bump_version()
                for name in old:
                    await self.client.indices.delete(index=name)
                log.info("search.rebuild.switched", index=index, old=old, new=physical)

            await self._guard(switch)
        except BaseException:
            await self.client.indices.delete(index=physical, ignore_unavailable=True)
            raise
        return loaded

    async def bulk_into(
        self, definition: IndexDefinition, physical: str, documents: Sequence[Upsert]
    ) -> None:
        actions = _index_actions(definition, physical, documents)

        async def run() -> None:
            await async_bulk(self.client, actions)

        try:
            await self._guard(run)
        except BulkIndexError as error:
            raise SearchError(str(error)) from error

    async def version(self) -> int:
        return await self._guard(self._read_version)

    async def ping(self) -> None:
        async def run() -> None:
            await self.client.info()

        await self._guard(run)

    async def close(self) -> None:
        await self.client.close()


def _index_actions(
    definition: IndexDefinition, index: str, upserts: Sequence[Upsert]
) -> list[dict[str, Any]]:
    """Bulk `index` actions, documents completed with their derived fields (the nested objects
    the mapping indexes); an `EncodedDocument`'s JSON goes into the request as text (the
    client's serializer passes a `str` body line through)."""
    return [
        {"_op_type": "index", "_index": index, "_id": upsert.id,
         "_source": definition.completed_json(upsert)}
        if isinstance(upsert, EncodedDocument)
        else {"_op_type": "index", "_index": index, "_id": str(upsert["id"]),
              "_source": definition.complete(dict(upsert))}
        for upsert in upserts
    ]  # fmt: skip


def _reason(error: ApiError) -> str:
    """The root cause Elasticsearch gives for a refused request, else the error itself."""
    detail = error.body.get("error") if isinstance(error.body, dict) else None
    causes = detail.get("root_cause") if isinstance(detail, dict) else None
    if isinstance(causes, list) and causes and isinstance(causes[0], dict):
        return str(causes[0].get("reason") or error.message)
    return str(error.message)


def _hits(found: Any) -> SearchHits:
    total = found["hits"]["total"]
    count = total["value"] if isinstance(total, dict) else int(total)
    return SearchHits(total=count, documents=[hit["_source"] for hit in found["hits"]["hits"]])
