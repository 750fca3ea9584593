"""Tantivy schema: the analyzers, how a definition is laid out on disk (and its fingerprint),
and how documents are encoded for `IndexWriter.add_json` and read back from `_source`."""

from __future__ import annotations

import binascii
import hashlib
from collections.abc import Sequence

import orjson
import tantivy

from kinoteka.infra.search.port import (
    Document,
    EncodedDocument,
    FieldKind,
    FieldSpec,
    IndexDefinition,
    SearchError,
    Upsert,
)

ANALYZER = "ru_en"
EXACT_ANALYZER = "exact"
SOURCE = "_source"
LAYOUT = 2  # bump whenever `build_schema` lays a definition out differently on disk


def text_analyzer() -> tantivy.TextAnalyzer:
    """Lowercase, accent-folded, English + Russian stop words and stems; splits on punctuation."""
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(60))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        # the English possessive "'s" is split off by the tokenizer; drop it as a stop word
        .filter(tantivy.Filter.custom_stopword(["s"]))
        .filter(tantivy.Filter.stopword("english"))
        .filter(tantivy.Filter.stopword("russian"))
        .filter(tantivy.Filter.stemmer("english"))
        .filter(tantivy.Filter.stemmer("russian"))
        .build()
    )


def exact_analyzer() -> tantivy.TextAnalyzer:
    """The words as written: lowercase and accent-folded, no stems, no stop words (the
    analyzer of `FieldSpec.exact` fields; Elasticsearch's `exact` does the same)."""
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(60))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .build()
    )


def sort_normalizer() -> tantivy.TextAnalyzer:
    """What a sortable text field's fast column keeps: the whole value, lowercased and
    accent-folded (Elasticsearch's `sort_key` normalizer does the same)."""
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.raw())
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .build()
    )


TEXT_SUFFIX = "__text"


def build_schema(definition: IndexDefinition) -> tantivy.Schema:
    """Flat fields as they are (a sortable text field also keeps a fast column of its
    normalized value, through the fast-field tokenizer registered under the analyzer's name);
    an OBJECTS field only for properties that do not repeat a flat field (`same_as`): a JSON
    field of raw terms for KEYWORD ones (filtered as `things.code`), an analyzed twin for TEXT
    ones. Objects whose every property repeats a flat field are stored in `_source` only."""
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=False, tokenizer_name="raw", index_option="basic")
    for spec in definition.fields:
        if spec.name == "id":
            continue
        if spec.kind is FieldKind.KEYWORD:
            builder.add_text_field(spec.name, tokenizer_name="raw", index_option="basic")
        elif spec.kind is FieldKind.TEXT:
            tokenizer = EXACT_ANALYZER if spec.exact else ANALYZER
            builder.add_text_field(spec.name, fast=spec.sortable, tokenizer_name=tokenizer)
        elif spec.kind is FieldKind.FLOAT:
            builder.add_float_field(spec.name, indexed=True, fast=True)
        elif spec.kind is FieldKind.BOOL:
            builder.add_boolean_field(spec.name, indexed=True)
        else:
            if unrepeated(spec, FieldKind.KEYWORD):
                builder.add_json_field(spec.name, tokenizer_name="raw", index_option="basic")
            if unrepeated(spec, FieldKind.TEXT):
                builder.add_json_field(spec.name + TEXT_SUFFIX, tokenizer_name=ANALYZER)
    builder.add_bytes_field(SOURCE, stored=True)
    return builder.build()


def unrepeated(spec: FieldSpec, kind: FieldKind) -> bool:
    """Whether an OBJECTS field has properties of `kind` that no flat field repeats."""
    return any(p.kind is kind and p.same_as is None for p in spec.properties)


def layout_fingerprint(definition: IndexDefinition) -> str:
    """What `build_schema` makes of `definition` on disk, as a short digest (boosts and names
    of the index aside: they change queries, not the files)."""
    shape = [
        (spec.name, spec.kind.value + ("/exact" if spec.exact else ""), spec.sortable,
         [(p.name, p.kind.value, p.same_as is None) for p in spec.properties])
        for spec in definition.fields
    ]  # fmt: skip
    return hashlib.sha256(orjson.dumps([LAYOUT, shape])).hexdigest()[:16]


class DocumentEncoder:
    """Turns upserts into the JSON `IndexWriter.add_json` takes: the document's fields (no
    nulls: Tantivy refuses them), the analyzed twins of OBJECTS fields, and `_source`, the
    stored original (base64, as Tantivy reads bytes from JSON)."""

    def __init__(self, definition: IndexDefinition) -> None:
        self.twins = tuple(
            (spec.name, spec.name + TEXT_SUFFIX)
            for spec in definition.fields
            if spec.kind is FieldKind.OBJECTS and unrepeated(spec, FieldKind.TEXT)
        )

    def __call__(self, upsert: Upsert) -> tuple[str, str]:
        """The upsert's id and its JSON for Tantivy."""
        if isinstance(upsert, EncodedDocument):
            if not self.twins:  # the hot path of a full load: no parse, no dict
                return upsert.id, _with_source(upsert.json, upsert.json.encode())
            return upsert.id, self._encode(upsert.decode(), upsert.json.encode())
        try:
            source = orjson.dumps(upsert)
        except TypeError as error:  # a value JSON cannot hold (a set, an object, …)
            raise SearchError(f"document refused: {error}") from error
        return str(upsert["id"]), self._encode(upsert, source)

    def _encode(self, document: Document, source: bytes) -> str:
        fields = {name: value for name, value in document.items() if value is not None}
        for name, twin in self.twins:
            if name in fields:
                fields[twin] = fields[name]
        return _with_source(orjson.dumps(fields).decode(), source)


def _with_source(fields: str, source: bytes) -> str:
    """`fields` (one JSON object with at least one member: an id) with `_source` added last.

    Runs once per document of a full load: string slicing and C calls only."""
    if not fields.endswith("}"):
        raise SearchError("a document must be one JSON object")
    encoded = binascii.b2a_base64(source, newline=False).decode("ascii")
    return f'{fields[:-1]},"{SOURCE}":"{encoded}"}}'


def register_tokenizers(
    opened: tantivy.Index,
    analyzer: tantivy.TextAnalyzer,
    normalizer: tantivy.TextAnalyzer,
    exact: tantivy.TextAnalyzer,
) -> tantivy.Index:
    """`opened`, knowing the analyzers its TEXT fields name and its sort normalizer."""
    opened.register_tokenizer(ANALYZER, analyzer)
    opened.register_tokenizer(EXACT_ANALYZER, exact)
    opened.register_fast_field_tokenizer(ANALYZER, normalizer)
    return opened


def add_json(writer: tantivy.IndexWriter, fields: str) -> None:
    try:
        writer.add_json(fields)
    except ValueError as error:  # a value the schema cannot take (a word for a number, …)
        raise SearchError(f"document refused: {error}") from error


def stored_document(
    definition: IndexDefinition,
    searcher: tantivy.Searcher,
    address: tantivy.DocAddress,
    fields: Sequence[str] | None = None,
) -> Document:
    """The stored original, completed with the derived fields it was written without (only
    its `fields` when named: `IndexDefinition.select`)."""
    raw = searcher.doc(address).get_first(SOURCE)
    if raw is None:
        raise SearchError("a stored document lacks its source")
    document: Document = orjson.loads(raw)
    return definition.select(document, fields)
