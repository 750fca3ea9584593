"""Fill a search index from a catalog database the way a full sync does."""

from __future__ import annotations

from kinoteka.infra import db as db_port
from kinoteka.infra.search import SearchIndex
from kinoteka.search.documents import DocumentKind, SearchIndexes, build_documents_after
from kinoteka.search.settings import IndexNames


async def load_catalog_into(database_url: str, index: SearchIndex, batch: int = 500) -> None:
    indexes = SearchIndexes.named(IndexNames())
    await index.ensure_indexes()
    database = db_port.from_url(database_url)
    try:
        async with database.engine.connect() as connection:
            for kind in DocumentKind:
                after: str | None = None
                while True:
                    documents = await build_documents_after(connection, kind, after, batch)
                    if not documents:
                        break
                    await index.bulk(indexes.for_kind(kind).name, documents)
                    after = documents[-1]["id"]
    finally:
        await database.close()
    await index.refresh()
