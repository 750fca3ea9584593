"""Tantivy query compiler: a `SearchQuery` as a Tantivy query, and the fields behind paths."""

from __future__ import annotations

import math

import tantivy

from kinoteka.infra.search.port import (
    PHRASE_SLOP,
    FieldKind,
    IndexDefinition,
    SearchQuery,
    SearchQueryError,
    fuzzy_distance,
)
from kinoteka.infra.search.tantivy.schema import TEXT_SUFFIX

FUZZY_WEIGHT = 1.0  # a typo's hit, relative to an exact hit of the rarest word
NEAR_WEIGHT = 0.25
"""A near spelling of a word the index holds, relative to an exact hit of that word: enough to
find "Starr" when asked for "star", too little to rank it above the films with "star" itself."""


def compile_query(
    definition: IndexDefinition,
    schema: tantivy.Schema,
    query: SearchQuery,
    searcher: tantivy.Searcher,
    analyzer: tantivy.TextAnalyzer,
    exact_analyzer: tantivy.TextAnalyzer,
) -> tantivy.Query:
    """`query` as a Tantivy query over `definition`'s fields in `schema`: filters must hold,
    the words of the text are searched in the default (or the named) text fields, boosted
    (`analyzer` makes the words of the stemmed fields, `exact_analyzer` of `exact` ones)."""
    must: list[tuple[tantivy.Occur, tantivy.Query]] = []
    for path, value in query.filters.items():
        name = filter_field(definition, path, value)
        if isinstance(value, bool | str):
            condition = tantivy.Query.term_query(schema, name, value)
        else:
            condition = tantivy.Query.term_set_query(schema, name, list(value))
        must.append((tantivy.Occur.Must, condition))
    if query.text is not None and query.text.strip():
        text = _text_query(definition, schema, query, searcher, analyzer, exact_analyzer)
        must.append((tantivy.Occur.Must, text))
    if not must:
        return tantivy.Query.all_query()
    if len(must) == 1:
        return must[0][1]  # the same matches and scores, one level of scorers fewer
    return tantivy.Query.boolean_query(must)


def _idf(searcher: tantivy.Searcher, document_frequency: int) -> float:
    """BM25's idf (Tantivy's and Lucene's) of a word found in that many documents (1 at least:
    an unknown word is scored as the rarest known one)."""
    found = max(document_frequency, 1)
    return math.log1p((max(searcher.num_docs, found) - found + 0.5) / (found + 0.5))


def _text_query(
    definition: IndexDefinition,
    schema: tantivy.Schema,
    query: SearchQuery,
    searcher: tantivy.Searcher,
    analyzer: tantivy.TextAnalyzer,
    exact_analyzer: tantivy.TextAnalyzer,
) -> tantivy.Query:
    if query.fields:
        boosts = {path: definition.default_text_fields.get(path, 1.0) for path in query.fields}
    else:
        boosts = definition.default_text_fields
    targets = {path: text_field(definition, path) for path in boosts}
    exact_paths = {path for path in boosts if definition.resolve(path)[1].exact}
    stemmed = {path: boost for path, boost in boosts.items() if path not in exact_paths}
    if not stemmed:  # only `exact` fields named: they find documents, with their own words
        stemmed, exact_paths, analyzer = dict(boosts), set(), exact_analyzer
    words = analyzer.analyze(query.text or "")
    terms = list(dict.fromkeys(words))
    should: list[tuple[tantivy.Occur, tantivy.Query]] = []
    for term in terms:
        distance = fuzzy_distance(term) if query.fuzzy else 0
        frequencies = {path: searcher.doc_freq(targets[path], term) for path in stemmed}
        known = any(frequencies.values())
        per_field: list[tantivy.Query] = []
        for path, boost in stemmed.items():
            name = targets[path]
            if frequencies[path]:  # a word the field does not hold cannot match it as written
                exact = tantivy.Query.term_query(schema, name, term)
                per_field.append(tantivy.Query.boost_query(exact, boost))
            if not distance:
                continue
            # Tantivy scores a fuzzy hit as a constant, not by the BM25 of the word it hit: a
            # word the index does not hold is taken for a typo, its near spellings scored like
            # an exact hit of the rarest word; a word it holds keeps its near spellings too
            # (recall), worth a quarter of its own exact hit in that field.
            if known:
                worth = NEAR_WEIGHT * _idf(searcher, frequencies[path])
            else:
                worth = FUZZY_WEIGHT * _idf(searcher, 1)
            # One query per allowed distance, each worth an equal share: a word one edit
            # away collects every share, one two edits away only the last.
            for edits in range(1, distance + 1):
                fuzzy = tantivy.Query.fuzzy_term_query(schema, name, term, edits)
                share = boost * worth / distance
                per_field.append(tantivy.Query.boost_query(fuzzy, share))
        # One flat union of every word's clauses: the same sum as a union per word, and
        # Tantivy merges one union of many scorers faster than a union of unions.
        should.extend((tantivy.Occur.Should, field_query) for field_query in per_field)
    if not should:
        return tantivy.Query.empty_query()
    # What finds documents: any word in a stemmed field. What only adds to their score: the
    # words as typed in an `exact` field, and the words in order in a phrase-boosted one.
    scoring: list[tuple[tantivy.Occur, tantivy.Query]] = [
        (tantivy.Occur.Must, tantivy.Query.boolean_query(should))
    ]
    for path in sorted(exact_paths):
        typed = dict.fromkeys(exact_analyzer.analyze(query.text or ""))
        for word in typed:
            hit = tantivy.Query.term_query(schema, targets[path], word)
            scoring.append((tantivy.Occur.Should, tantivy.Query.boost_query(hit, boosts[path])))
    if len(words) > 1:
        for path, boost in definition.phrase_fields(list(stemmed)).items():
            # the words in order, a few positions apart at most (stop words leave gaps)
            phrase_words: list[str | tuple[int, str]] = list(words)
            phrase = tantivy.Query.phrase_query(schema, targets[path], phrase_words, PHRASE_SLOP)
            scoring.append((tantivy.Occur.Should, tantivy.Query.boost_query(phrase, boost)))
    return tantivy.Query.boolean_query(scoring)


def sort_field(definition: IndexDefinition, path: str) -> str:
    spec = definition.field(path)
    if spec.kind is FieldKind.FLOAT:
        return spec.name
    if spec.kind is FieldKind.TEXT and spec.sortable:
        return spec.name  # its fast column holds the normalized value
    raise SearchQueryError(f"cannot sort {definition.name!r} by {path!r}")


def filter_field(definition: IndexDefinition, path: str, value: object) -> str:
    """The Tantivy field a filter on `path` by `value` reads: a KEYWORD one (`keyword_field`),
    or a top-level BOOL one given a `bool`."""
    _, spec = definition.resolve(path)
    if spec.kind is FieldKind.BOOL and "." not in path:
        if not isinstance(value, bool):
            raise SearchQueryError(f"filter {definition.name!r} by {path!r} with true or false")
        return path
    if isinstance(value, bool):
        raise SearchQueryError(f"cannot filter {definition.name!r} by {path!r}: not a bool field")
    return keyword_field(definition, path)


def keyword_field(definition: IndexDefinition, path: str) -> str:
    """The Tantivy field (or JSON subpath) holding a KEYWORD path's raw terms."""
    _, spec = definition.resolve(path)
    if spec.kind is not FieldKind.KEYWORD:
        raise SearchQueryError(
            f"cannot filter {definition.name!r} by {path!r}: not a keyword field"
        )
    return spec.same_as or path


def text_field(definition: IndexDefinition, path: str) -> str:
    """The Tantivy field (or JSON subpath) holding a TEXT path's analyzed terms."""
    parent, spec = definition.resolve(path)
    if spec.kind is not FieldKind.TEXT:
        raise SearchQueryError(f"cannot search {definition.name!r} in {path!r}: not a text field")
    if parent is None:
        return path
    if spec.same_as is not None:
        return spec.same_as
    return f"{parent.name}{TEXT_SUFFIX}.{spec.name}"
