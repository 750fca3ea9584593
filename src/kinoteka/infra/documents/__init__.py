"""Document-store port: JSON documents by key in named collections, with atomic single-document
writes, so that counters and "one per user" rules hold under concurrent requests.

Every adapter implements `DocumentStore`:

- `get(collection, key)`: the document, or None.
- `insert(collection, key, document)`: store it only when the key is free; False when taken.
- `put(collection, key, document)`: insert or replace; returns the document it replaced (None
  when there was none), read and replaced atomically.
- `put_if_newer(collection, key, document, field)`: insert, or replace only when
  `document[field]` is greater than the stored one's (last write wins); True when written.
- `update(collection, key, changes)`: set top-level fields of an existing document; returns
  the document before the change, None when there is none (nothing is created).
- `increment(collection, key, deltas, *, create=False)`: add integer `deltas` to top-level
  fields (a missing field counts as 0); `create` makes the document when absent. Returns the
  document after the change, None when absent and not created.
- `delete(collection, key)`: remove it; returns what was removed, or None.
- `delete_where(collection, where)`: remove every document matching; returns how many.
- `find(collection, where, *, order_by, limit, offset)`: the matching documents, ordered by
  `(field, descending)` pairs. `where` matches top-level fields by equality.
- `keys(collection, *, after, limit)`: the collection's keys in ascending order, those after
  `after` when given (keyset paging: a maintenance walk over every document).
- `count(collection, where)`, `ping()`, `close()`.
- `prepare(indexes)`: make what the collections' queries need, where the adapter owns it
  (MongoDB's indexes; PostgreSQL's come from the `ugc` migrations, so it does nothing).

Collections and the indexes their queries need are created by the adapter's schema owner (the
`ugc` migrations for PostgreSQL, `prepare()` for MongoDB). Documents hold JSON values; times
are ISO-8601 strings in UTC so that they order the same way in every store.

`from_url()` picks the adapter by scheme: `postgresql://` (tables in the schema `ugc`, JSONB)
or `mongodb://` / `mongodb+srv://` (the `mongodb` extra).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kinoteka.infra.documents.port import (
    COLLECTION_NAME,
    Document,
    DocumentStore,
    Order,
    check_collection,
)

if TYPE_CHECKING:
    from kinoteka.infra.db import Database

__all__ = [
    "COLLECTION_NAME",
    "Document",
    "DocumentStore",
    "Order",
    "check_collection",
    "from_url",
]


def from_url(url: str, *, database: Database | None = None) -> DocumentStore:
    """The adapter for `url`; a PostgreSQL URL reuses `database`'s engine when given."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme.startswith("postgres"):
        from kinoteka.infra.documents.postgres import PostgresDocumentStore

        return PostgresDocumentStore.from_url(url, database=database)
    if scheme in ("mongodb", "mongodb+srv"):
        from kinoteka.infra.documents.mongo import MongoDocumentStore

        return MongoDocumentStore.from_url(url)
    raise ValueError(f"unsupported document store URL scheme {scheme!r}")
