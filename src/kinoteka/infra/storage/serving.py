"""The HTTP route behind the local adapter's signed URLs (`/storage/<key>?expires=…&signature=…`).

S3 presigned URLs point at the S3 endpoint itself; only the local directory needs us to serve
its bytes, after checking the signature, with `Range` support for players and resumable reads.
"""

from __future__ import annotations

import mimetypes
import re
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Header, HTTPException, Query
from fastapi.responses import StreamingResponse

from kinoteka.infra.storage.port import InvalidKey, ObjectNotFound

if TYPE_CHECKING:  # the adapter imports this module when asked for its router
    from kinoteka.infra.storage.local import LocalStorage
    from kinoteka.infra.storage.port import ObjectStorage

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """`(start, end)` inclusive for a single-range `Range` header, None when unsatisfiable."""
    match = _RANGE.match(header.strip())
    if not match or not any(match.groups()):
        return None
    first, last = match.groups()
    if first == "":  # the last N bytes
        length = int(last)
        if length == 0:
            return None
        return max(size - length, 0), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        return None
    return start, end


def ranged_response(
    storage: ObjectStorage,
    key: str,
    size: int,
    range_header: str | None,
    media_type: str,
    headers: dict[str, str],
) -> StreamingResponse:
    """The object `key` of `size` bytes streamed whole, or the one range `range_header` asks
    for as a 206 (a 416 when it cannot be satisfied); `headers` gain the lengths."""
    if range_header is None:
        headers["Content-Length"] = str(size)
        return StreamingResponse(storage.get(key), media_type=media_type, headers=headers)
    span = parse_range(range_header, size)
    if span is None:
        raise HTTPException(
            416, "range not satisfiable", headers={"Content-Range": f"bytes */{size}"}
        )
    start, end = span
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1)
    return StreamingResponse(
        storage.get(key, start=start, end=end),
        status_code=206,
        media_type=media_type,
        headers=headers,
    )


def storage_router(storage: LocalStorage) -> APIRouter:
    router = APIRouter(tags=["storage"])

    @router.get(
        "/storage/{key:path}",
        summary="Download an object through a signed URL",
        responses={403: {"description": "Missing, expired or tampered signature"}},
    )
    async def download(
        key: str,
        expires: Annotated[int, Query()],
        signature: Annotated[str, Query(max_length=128)],
        range_header: Annotated[str | None, Header(alias="Range")] = None,
    ) -> StreamingResponse:
        try:
            valid = storage.verify(key, expires, signature)
            size = await storage.size(key) if valid else 0
        except InvalidKey:
            valid = False
        except ObjectNotFound:
            raise HTTPException(404, "no such object") from None
        if not valid:
            raise HTTPException(403, "invalid or expired signature")
        media_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
        headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, max-age=300"}
        return ranged_response(storage, key, size, range_header, media_type, headers)

    return router
