"""Tantivy query compiler: a `SearchQuery` as a Tantivy query, and the fields behind paths."""

from __future__ import annotations

import math

import tantivy

from kinoteka.infra.search import (
    FieldKind,
    IndexDefinition,
    SearchError,
    SearchQuery,
    fuzzy_distance,
)
from kinoteka.infra.search.tantivy.schema import TEXT_SUFFIX

FUZZY_WEIGHT = 1.0  # a typo's hit, relative to an exact hit of the rarest word


def compile_query(
    definition: IndexDefinition,
    schema: tantivy.Schema,
    query: SearchQuery,
    searcher: tantivy.Searcher,
    analyzer: tantivy.TextAnalyzer,
) -> tantivy.Query:
    """`query` as a Tantivy query over `definition`'s fields in `schema`: filters must hold,
    the words of the text are searched in the default (or the named) text fields, boosted."""
    must: list[tuple[tantivy.Occur, tantivy.Query]] = []
    for path, value in query.filters.items():
        name = keyword_field(definition, path)
        if isinstance(value, str):
            condition = tantivy.Query.term_query(schema, name, value)
        else:
            condition = tantivy.Query.term_set_query(schema, name, list(value))
        must.append((tantivy.Occur.Must, condition))
    if query.text is not None and query.text.strip():
        must.append(
            (tantivy.Occur.Must, _text_query(definition, schema, query, searcher, analyzer))
        )
    if not must:
        return tantivy.Query.all_query()
    return tantivy.Query.boolean_query(must)


def _text_query(
    definition: IndexDefinition,
    schema: tantivy.Schema,
    query: SearchQuery,
    searcher: tantivy.Searcher,
    analyzer: tantivy.TextAnalyzer,
) -> tantivy.Query:
    if query.fields:
        boosts = {path: definition.default_text_fields.get(path, 1.0) for path in query.fields}
    else:
        boosts = definition.default_text_fields
    targets = {path: text_field(definition, path) for path in boosts}
    should: list[tuple[tantivy.Occur, tantivy.Query]] = []
    for term in dict.fromkeys(analyzer.analyze(query.text or "")):
        distance = fuzzy_distance(term) if query.fuzzy else 0
        # Tantivy scores a fuzzy hit as a constant, not by the BM25 of the word it hit, so
        # a known word is matched exactly only (BM25 ranks it); a word the index does not
        # hold is taken for a typo and matched within its edit distance.
        if distance and any(searcher.doc_freq(name, term) for name in targets.values()):
            distance = 0
        per_field: list[tantivy.Query] = []
        # ... scored like an exact hit of a word found in one document (its BM25 idf).
        typo_score = FUZZY_WEIGHT * math.log1p((max(searcher.num_docs, 1) - 0.5) / 1.5)
        for path, boost in boosts.items():
            name = targets[path]
            exact = tantivy.Query.term_query(schema, name, term)
            per_field.append(tantivy.Query.boost_query(exact, boost))
            # One query per allowed distance, each worth an equal share: a word one edit
            # away collects every share, one two edits away only the last.
            for edits in range(1, distance + 1):
                fuzzy = tantivy.Query.fuzzy_term_query(schema, name, term, edits)
                share = boost * typo_score / distance
                per_field.append(tantivy.Query.boost_query(fuzzy, share))
        should.append((tantivy.Occur.Should, tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, field_query) for field_query in per_field]
        )))  # fmt: skip
    if not should:
        return tantivy.Query.empty_query()
    return tantivy.Query.boolean_query(should)


def sort_field(definition: IndexDefinition, path: str) -> str:
    spec = definition.field(path)
    if spec.kind is FieldKind.FLOAT:
        return spec.name
    if spec.kind is FieldKind.TEXT and spec.sortable:
        return spec.name  # its fast column holds the normalized value
    raise SearchError(f"cannot sort {definition.name!r} by {path!r}")


def keyword_field(definition: IndexDefinition, path: str) -> str:
    """The Tantivy field (or JSON subpath) holding a KEYWORD path's raw terms."""
    _, spec = definition.resolve(path)
    if spec.kind is not FieldKind.KEYWORD:
        raise SearchError(f"cannot filter {definition.name!r} by {path!r}: not a keyword field")
    return spec.same_as or path


def text_field(definition: IndexDefinition, path: str) -> str:
    """The Tantivy field (or JSON subpath) holding a TEXT path's analyzed terms."""
    parent, spec = definition.resolve(path)
    if spec.kind is not FieldKind.TEXT:
        raise SearchError(f"cannot search {definition.name!r} in {path!r}: not a text field")
    if parent is None:
        return path
    if spec.same_as is not None:
        return spec.same_as
    return f"{parent.name}{TEXT_SUFFIX}.{spec.name}"
