"""The analytics store port's types (see the package docstring)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol


class AnalyticsStoreError(Exception):
    """The analytics store refused a statement or could not be reached."""


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

    async def query(
        self, sql: str, parameters: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...
