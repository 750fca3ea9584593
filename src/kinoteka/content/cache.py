"""Response cache for the content API: Redis entries keyed by the index version and the request.

Each entry's key starts with the search index's version, which the sync bumps on every
acknowledged write: after an update is visible in the index, no answer computed before it is
served again. An unreachable cache only costs speed, never an answer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Iterable

import structlog
from fastapi import Request, Response

from kinoteka.infra.cache import Cache
from kinoteka.infra.etags import etag_of, not_modified
from kinoteka.infra.search import SearchIndex

log = structlog.get_logger(__name__)

KEY_PREFIX = "content:v1"


def cache_key(version: int, path: str, params: Iterable[tuple[str, str]]) -> str:
    """A key that is the same for every spelling of one request (aliases, order, slashes)."""
    canonical = "&".join(f"{name}={value}" for name, value in sorted(params))
    digest = hashlib.blake2b(f"{path.rstrip('/')}?{canonical}".encode(), digest_size=16)
    return f"{KEY_PREFIX}:{version}:{digest.hexdigest()}"


class ResponseCache:
    def __init__(self, cache: Cache, search: SearchIndex, ttl: float) -> None:
        self.cache = cache
        self.search = search
        self.ttl = ttl

    async def _get(self, key: str) -> bytes | None:
        try:
            return await self.cache.get(key)
        except Exception as error:  # degrade to uncached answers, but say so
            log.warning("content.cache_unavailable", error=str(error))
            return None

    async def _set(self, key: str, body: bytes) -> None:
        try:
            await self.cache.set(key, body, ttl=self.ttl)
        except Exception as error:
            log.warning("content.cache_unavailable", error=str(error))

    async def respond(
        self,
        request: Request,
        params: Iterable[tuple[str, str]],
        compute: Callable[[], Awaitable[bytes]],
    ) -> Response:
        """The cached body for this request, or `compute()`'s (then cached); 304 on a match."""
        version = await self.search.version()
        key = cache_key(version, request.url.path, params)
        body = await self._get(key)
        status = "hit"
        if body is None:
            status = "miss"
            body = await compute()
            await self._set(key, body)
        etag = etag_of(body)
        headers = {"ETag": etag, "X-Cache": status, "Cache-Control": "private, max-age=0"}
        if not_modified(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        return Response(content=body, media_type="application/json", headers=headers)
