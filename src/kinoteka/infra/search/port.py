"""The search index port's types: index definitions, the query, results, errors and the
`SearchIndex` protocol, kept apart from `from_url()` so the adapters import them without a cycle;
`kinoteka.infra.search` re-exports every name."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any, NamedTuple, Protocol

import orjson

__all__ = [
    "MAX_LIMIT",
    "MAX_PAGE_SIZE",
    "PHRASE_SLOP",
    "Document",
    "EncodedDocument",
    "FieldKind",
    "FieldSpec",
    "IndexDefinition",
    "SearchError",
    "SearchHits",
    "SearchIndex",
    "SearchQuery",
    "SearchQueryError",
    "SearchUnavailable",
    "Sort",
    "Upsert",
    "fuzzy_distance",
]

Document = dict[str, Any]
"""A document as the index holds it: field -> value; a field without a value is left out."""
MAX_PAGE_SIZE = 100
"""A sensible page for batch readers (ids looked up a page at a time)."""
MAX_LIMIT = 1000
"""The most documents one search returns; APIs cap their pages lower, by their settings."""
PHRASE_SLOP = 3
"""Words of a phrase may stand this many positions apart (stop words leave gaps) and still
count as in order."""


class EncodedDocument(NamedTuple):
    """A document already rendered as one JSON object (what PostgreSQL hands a full load), with
    its id: adapters pass the text through instead of building and serializing a dict. The
    object holds no `null`s (a field without a value is left out), as a `Document` does. A
    tuple: a full load makes hundreds of thousands of them."""

    id: str
    json: str

    def decode(self) -> Document:
        document: Document = orjson.loads(self.json)
        return document


Upsert = Document | EncodedDocument


class SearchError(Exception):
    """The index refused an operation (bad query, unknown index, corrupt data)."""


class SearchUnavailable(SearchError):
    """The index cannot be reached right now; the caller may retry."""


class SearchQueryError(SearchError):
    """The query asks for what the index cannot do: a sort or filter its field does not allow,
    text the engine cannot parse, a page out of range. The message says why, for the caller."""


class FieldKind(StrEnum):
    KEYWORD = "keyword"
    """Exact values (ids): filterable, not analyzed."""
    TEXT = "text"
    """Analyzed text (`ru_en`): searchable."""
    FLOAT = "float"
    BOOL = "bool"
    """true/false: filterable (a filter's value is then a `bool`)."""
    OBJECTS = "objects"
    """A list of `{…}` objects (nested in Elasticsearch); their TEXT properties are searchable
    as `<field>.<property>` and their KEYWORD properties filterable the same way."""


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: FieldKind
    sortable: bool = False
    """TEXT: also kept as a lowercase raw keyword (`title.raw` in Elasticsearch) for sorting."""
    boost: float = 0.0
    """> 0: searched by default in a full-text query, with this weight."""
    phrase_boost: float = 0.0
    """> 0 (TEXT): a full-text query whose words this field holds in order (`PHRASE_SLOP`
    apart at most) scores this much more than one whose words are scattered."""
    exact: bool = False
    """TEXT: analyzed without stemming or stop words (lowercase, accent-folded words as they
    are written). Such a field only adds to the score of documents the other fields match: it
    rewards the query's words in the form they were typed ("darkness", not "dark")."""
    properties: tuple[FieldSpec, ...] = ()
    same_as: str | None = None
    """A property repeating a flat field (`actors.name` ~ `actors_names`, `actors.id` ~
    `actors_ids`): an adapter that flattens documents may search or filter that field instead
    of indexing the same values twice."""

    @property
    def derived(self) -> bool:
        """An OBJECTS field whose every property repeats a flat field: its objects are those
        fields zipped (`actors[i]` = `{id: actors_ids[i], name: actors_names[i]}`), so a
        document may leave it out; an index hands documents back with it (`complete`)."""
        return (
            self.kind is FieldKind.OBJECTS
            and bool(self.properties)
            and all(prop.same_as is not None for prop in self.properties)
        )


@dataclass(frozen=True)
class IndexDefinition:
    """What an index holds; each adapter derives its mapping or schema from this."""

    name: str
    fields: tuple[FieldSpec, ...]
    weight_field: str | None = None
    """A FLOAT field weighting full-text relevance: the score is multiplied by
    `log2(2 + value)` (0 when the document has none), so better-known documents rank first
    among comparable matches."""

    def field(self, name: str) -> FieldSpec:
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise SearchQueryError(f"index {self.name!r} has no field {name!r}")

    def resolve(self, path: str) -> tuple[FieldSpec | None, FieldSpec]:
        """The OBJECTS field holding a query path (None for a top-level field) and the spec the
        path addresses: `title` -> (None, title), `actors.name` -> (actors, name)."""
        parent, _, child = path.partition(".")
        spec = self.field(parent)
        if not child:
            return None, spec
        for prop in spec.properties:
            if prop.name == child:
                return spec, prop
        raise SearchQueryError(f"index {self.name!r} has no field {path!r}")

    @property
    def default_text_fields(self) -> dict[str, float]:
        return {spec.name: spec.boost for spec in self.fields if spec.boost > 0}

    def phrase_fields(self, paths: Sequence[str]) -> dict[str, float]:
        """The top-level fields among `paths` whose in-order matches are boosted, by boost."""
        return {
            spec.name: spec.phrase_boost
            for spec in self.fields
            if spec.phrase_boost > 0 and spec.name in paths
        }

    @cached_property
    def derived_fields(self) -> tuple[FieldSpec, ...]:
        """Worked out once: `complete` runs on every document read or written."""
        return tuple(spec for spec in self.fields if spec.derived)

    def complete(self, document: Document) -> Document:
        """`document` (changed in place) with each derived OBJECTS field it lacks built from
        the flat fields it repeats; one it has, or whose flat fields it has none of, is left
        as it is."""
        for spec in self.derived_fields:
            if spec.name not in document:
                _derive(spec, document)
        return document

    def select(self, document: Document, fields: Sequence[str] | None) -> Document:
        """`document` completed (`complete`), or only the named `fields` it has (a derived
        one built from its flat fields): what a search returns for `SearchQuery.source`."""
        if fields is None:
            return self.complete(document)
        selected = {name: document[name] for name in fields if name in document}
        for spec in self.derived_fields:
            if spec.name in fields and spec.name not in selected:
                _derive(spec, document)
                if spec.name in document:
                    selected[spec.name] = document[spec.name]
        return selected

    def completed_json(self, upsert: EncodedDocument) -> str:
        """An encoded document's JSON with its derived fields (as it is when it has none)."""
        if not self.derived_fields:
            return upsert.json
        return orjson.dumps(self.complete(upsert.decode())).decode()


def _derive(spec: FieldSpec, document: Document) -> None:
    """Build the derived OBJECTS field `spec` into `document` from the flat fields it repeats
    (nothing when the document has none of them)."""
    if all(p.same_as not in document for p in spec.properties):
        return
    names = [prop.name for prop in spec.properties]
    columns = [document.get(prop.same_as or "") or [] for prop in spec.properties]
    try:
        rows = list(zip(*columns, strict=True))
    except ValueError:
        raise SearchError(f"{spec.name}: its flat fields differ in length") from None
    document[spec.name] = [dict(zip(names, row, strict=True)) for row in rows]


@dataclass(frozen=True)
class Sort:
    field: str
    descending: bool = False

    @classmethod
    def parse(cls, value: str) -> Sort:
        """`-imdb_rating` -> descending by imdb_rating, `title` -> ascending by title."""
        return cls(value.removeprefix("-"), descending=value.startswith("-"))


@dataclass(frozen=True)
class SearchQuery:
    """A search in one index.

    `text` matches any of its words (as Elasticsearch's `match`) in `fields` (default: the
    definition's boosted fields, weighted by their boost); with `fuzzy`, words of 3-5 letters
    tolerate one edit and longer words two, exact words still ranking first. `filters` keep
    documents whose KEYWORD field holds the value, or any of the values when given a sequence
    (e.g. `{"genre_ids": id}`, `{"id": [id1, id2]}`, `{"directors.id": id}`), or whose BOOL
    field is the `bool` given (`{"has_video": True}`); `sort` orders by a
    FLOAT or sortable TEXT field (relevance when None and `text` is given, else index order).
    Pagination is by `offset`/`limit` at any depth. `source` names the top-level fields each
    document is returned with (those it has, so a name the index does not hold is no error;
    every field when None): a list that shows a few fields of each hit need not read,
    complete and carry the rest.
    """

    index: str
    text: str | None = None
    fields: tuple[str, ...] = ()
    fuzzy: bool = False
    filters: Mapping[str, str | bool | Sequence[str]] = field(default_factory=dict)
    sort: Sort | None = None
    offset: int = 0
    limit: int = 50
    source: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.offset < 0:
            raise SearchQueryError("offset must be 0 or more")
        if not 0 < self.limit <= MAX_LIMIT:
            raise SearchQueryError(f"limit must be between 1 and {MAX_LIMIT}")
        if self.source is not None and not self.source:
            raise SearchQueryError("source must name a field at least (None: every field)")


@dataclass(frozen=True)
class SearchHits:
    total: int
    documents: list[Document]


def fuzzy_distance(word: str) -> int:
    """Edits tolerated in a word, as Elasticsearch's `fuzziness: AUTO` (0-2, 3-5, 6+)."""
    if len(word) < 3:
        return 0
    return 1 if len(word) <= 5 else 2


class SearchIndex(Protocol):
    definitions: Mapping[str, IndexDefinition]

    async def ensure_indexes(self) -> list[str]:
        """Create the missing indexes; return the names created."""
        ...

    async def bulk(
        self,
        index: str,
        upserts: Sequence[Upsert] = (),
        deletes: Sequence[str] = (),
        *,
        commit: bool = True,
        new: bool = False,
    ) -> None:
        """Upsert (by `id`) and delete; acknowledged (durable, soon searchable) on return.

        With `commit=False` the adapter may hold the batch until a later call commits (Tantivy
        then writes fewer, larger segments). Nothing held counts as written: a failed call
        drops it, and a caller that fails on its own side starts again from what it last had
        committed (its upserts replace whatever was still held). Elasticsearch acknowledges
        every batch either way.

        `new=True` is the caller's word that no upsert's id is in the index (a load after
        `clear`): an adapter may then add without looking for a document to replace.
        """
        ...

    async def clear(self, index: str) -> None:
        """Delete every document of `index`; acknowledged on return (the version moves)."""
        ...

    async def get(self, index: str, document_id: str) -> Document | None: ...

    async def count(self, index: str) -> int: ...

    async def search(self, query: SearchQuery) -> SearchHits: ...

    async def refresh(self) -> None: ...

    async def outdated(self) -> list[str]: ...

    async def rebuild(self, index: str, batches: AsyncIterator[Sequence[Upsert]]) -> int:
        """Load a new version of `index` from `batches`, switch to it, drop the old one."""
        ...

    async def version(self) -> int: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...
