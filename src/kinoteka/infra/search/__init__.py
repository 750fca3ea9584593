"""Search index port: index definitions, the query object and the `SearchIndex` protocol.

Every adapter implements all members of `SearchIndex`:
- `ensure_indexes()` creates each defined index that is missing (idempotent) and reports them;
- `outdated()` names the indexes whose stored layout is older than their definition: they keep
  answering as they are until `rebuild` replaces them (an adapter whose store has no such
  notion answers `[]`);
- `bulk(index, upserts, deletes)` writes documents (upsert by `id`) and deletes ids; when it
  returns the batch is acknowledged (durable) and the index version has been bumped; upserts are
  `Document` dicts or `EncodedDocument`s (JSON rendered elsewhere, passed through unparsed);
- `clear(index)` deletes every document of an index (a full load starts from it);
- `get`, `count`, `search` read (a search's hits carry only the fields its `source` names,
  when it names some); `refresh()` makes acknowledged writes visible to readers;
- `rebuild(index, batches)` builds a new versioned index from `batches`, switches the alias
  (Elasticsearch) or pointer file (Tantivy) atomically, then drops the old one; searches keep
  answering from the old index until the switch;
- `version()` is a counter bumped on every acknowledged write batch and rebuild, cheap to read
  (a small file for Tantivy, one document for Elasticsearch): a cache over search results is
  valid while `version()` returns the value it was filled under;
- `ping()` and `close()`.

`from_url()` picks the adapter by URL scheme: `tantivy:///path` or `http(s)://host:9200`.
Adapters raise `SearchUnavailable` when the index cannot be reached (worth a retry),
`SearchQueryError` when the query asks for what the index cannot do (a sort or filter on a field
that does not allow it, text the engine cannot parse, a page out of range: the caller's
mistake, not an outage), and `SearchError` for anything else.

Ranking of a full-text query (no `sort`), the same in every adapter: each word scores in the
definition's boosted fields (BM25); `exact` fields add their score for the words as typed,
without finding anything the others do not; a word the index holds also matches its near
spellings
(with `fuzzy`), worth less than the word itself, and an unknown word is taken for a typo; the
words found in order in a field with a `phrase_boost` (title) add that much more; the whole
score is then multiplied by `log(2 + value)` of the definition's `weight_field` (a FLOAT,
0 when missing; Elasticsearch's `field_value_factor` with `modifier: log2p`), so that among
comparable matches the better-known, better-rated film comes first.
"""

from __future__ import annotations

from collections.abc import Sequence

from kinoteka.infra.search import port
from kinoteka.infra.search.port import *  # noqa: F403 (the port's names are this package's)
from kinoteka.infra.search.port import IndexDefinition, SearchError, SearchIndex

__all__ = ["from_url"]
__all__ += port.__all__


def from_url(
    url: str, definitions: Sequence[IndexDefinition], *, writer_heap_mib: int = 64
) -> SearchIndex:
    """The adapter for `url`: `tantivy:///path` or `http(s)://…` (Elasticsearch/OpenSearch).

    `writer_heap_mib`: the memory of a local index writer (Tantivy; a server indexes with its
    own)."""
    if url.startswith("tantivy://"):
        from kinoteka.infra.search.tantivy import TantivyIndex

        return TantivyIndex.from_url(url, definitions, writer_heap_mib=writer_heap_mib)
    if url.startswith(("http://", "https://")):
        from kinoteka.infra.search.elasticsearch import ElasticsearchIndex

        return ElasticsearchIndex.from_url(url, definitions)
    raise SearchError(f"unsupported search URL {url!r}: use tantivy:///path or http(s)://…")
