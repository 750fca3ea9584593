"""Numbered pages of a list, linked with plain URLs (no JavaScript needed)."""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil
from urllib.parse import urlencode

from starlette.requests import Request

MAX_PAGE = 10_000  # beyond this, offsets get silly; the index caps them anyway


@dataclass(frozen=True)
class Pager:
    number: int
    size: int
    total: int
    base: str
    params: tuple[tuple[str, str], ...]
    key: str = "page"

    @classmethod
    def of(cls, request: Request, number: int, size: int, total: int, key: str = "page") -> Pager:
        params = tuple((k, v) for k, v in request.query_params.multi_items() if k != key)
        return cls(number, size, total, request.url.path, params, key)

    @property
    def pages(self) -> int:
        return max(1, min(ceil(self.total / self.size), MAX_PAGE))

    def url(self, number: int) -> str:
        params = [*self.params, *([(self.key, str(number))] if number > 1 else [])]
        return self.base + (f"?{urlencode(params)}" if params else "")

    @property
    def previous(self) -> str | None:
        return self.url(self.number - 1) if self.number > 1 else None

    @property
    def next(self) -> str | None:
        return self.url(self.number + 1) if self.number < self.pages else None

    def window(self, radius: int = 2) -> list[int]:
        start = max(1, self.number - radius)
        end = min(self.pages, self.number + radius)
        return list(range(start, end + 1))
