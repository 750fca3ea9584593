"""Analytics store port: a column store taking event rows in batches and answering SQL.

Every adapter implements the `AnalyticsStore` protocol:
- `command(sql)` runs DDL or any statement without rows back;
- `insert(table, rows, columns, dedup_token=)` appends rows (`table` may be
  `database.table`); a `dedup_token` makes a repeated insert of the same block a no-op where
  the table keeps a deduplication window;
- `query(sql, parameters)` rows as tuples, parameters bound server-side (`{name:Type}`);
- `ping()`, `close()`; failures raise `AnalyticsStoreError`, and a store that cannot be
  reached or opened `AnalyticsStoreUnavailable` (a `StoreUnavailable`: the app's 503).

One adapter, `ClickHouseStore`, over clickhouse-connect, which speaks the same SQL to a
ClickHouse server (`http://user:password@host:8123`, `https://…`, `clickhouse://…`) and to chDB
in-process (`chdb:///path/to/dir`, the embedded footprint). chDB is synchronous and one
session per process, so the adapter runs its calls one at a time in a worker thread.
"""

from __future__ import annotations

from kinoteka.infra.analytics.port import (
    AnalyticsRowsRejected,
    AnalyticsStore,
    AnalyticsStoreError,
    AnalyticsStoreUnavailable,
    RejectedRow,
)

__all__ = [
    "AnalyticsRowsRejected",
    "AnalyticsStore",
    "AnalyticsStoreError",
    "AnalyticsStoreUnavailable",
    "RejectedRow",
    "from_url",
]


def from_url(url: str) -> AnalyticsStore:
    from kinoteka.infra.analytics.clickhouse import ClickHouseStore

    return ClickHouseStore.from_url(url)
