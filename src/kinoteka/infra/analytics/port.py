"""The analytics store port's types (see the package docstring)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from kinoteka.infra.outage import StoreUnavailable


class AnalyticsStoreError(Exception):
    """The analytics store refused a statement or could not be reached."""


class AnalyticsStoreUnavailable(StoreUnavailable, AnalyticsStoreError):
    """The analytics store could not be reached or opened (a ClickHouse server down, a chDB
    directory held by another process): the app answers 503, the loader retries."""

    store = "analytics store"


@dataclass(frozen=True)
class RejectedRow:
    """One line of an `insert_json` block the store refused, and why."""

    index: int
    """Its position in the lines given, from 0."""
    reason: str


class AnalyticsRowsRejected(AnalyticsStoreError):
    """`insert_json` loaded every line but `rejected`: the store refused those rows."""

    def __init__(self, rejected: Sequence[RejectedRow], loaded: int) -> None:
        super().__init__(f"{len(rejected)} rows refused, {loaded} loaded: {rejected[0].reason}")
        self.rejected = list(rejected)
        self.loaded = loaded


class AnalyticsStore(Protocol):
    async def command(self, sql: str) -> None: ...

    async def insert(
        self,
        table: str,
        rows: Sequence[Sequence[Any]],
        columns: Sequence[str],
        *,
        dedup_token: str | None = None,
    ) -> None: ...

    async def insert_json(
        self, table: str, lines: Sequence[bytes], *, dedup_token: str | None = None
    ) -> int: ...

    async def query(
        self, sql: str, parameters: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...
