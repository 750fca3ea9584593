"""The bare upload endpoints `bench.media_service` sets beside the tus upload: a raw ASGI app
(no framework, no database) on uvicorn with the product's server options, each route taking a
PATCH body and answering the number of bytes taken.

- `/discard`: reads the ASGI `receive` messages and drops them: the HTTP stack alone, the
  ceiling of any upload through it.
- `/starlette`: the same through Starlette's `request.stream()` (what the tus endpoint reads),
  to show what the framework's stream adds to the raw `receive`.
- `/file`: writes each message to the target file as it arrives (`os.write` on the loop).
- `/batched`: the least an upload that declared no sha256 does: the body's chunks gathered
  as they are into 8 MiB batches, each written with one `os.writev` (the tus endpoint's own
  `write_all`) by a worker thread while the next gathers (the tus endpoint's scheme then,
  without tus, PostgreSQL or storage).
- `/verified`: the least an upload whose sha256 is checked does: the body gathered in two
  8 MiB buffers, each hashed and written by a worker thread while the other fills (the tus
  endpoint's scheme, without tus, PostgreSQL or storage).

The target file is `KINOTEKA_BENCH_UPLOAD_TARGET`, created or truncated by each request.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

from starlette.requests import Request

from kinoteka.media.upload import write_all

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

TARGET = os.environ.get("KINOTEKA_BENCH_UPLOAD_TARGET", os.devnull)
BUFFER = 8 * 1024 * 1024


async def _body(receive: Receive) -> AsyncIterator[bytes]:
    """The body's chunks, as the server hands them over."""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ConnectionError("the client went away")
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return


async def _discard(scope: Scope, receive: Receive) -> int:
    return sum([len(chunk) async for chunk in _body(receive)])


async def _starlette(scope: Scope, receive: Receive) -> int:
    return sum([len(chunk) async for chunk in Request(scope, receive).stream()])


async def _file(scope: Scope, receive: Receive) -> int:
    fd = os.open(TARGET, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        size = 0
        async for chunk in _body(receive):
            size += write_all(fd, [chunk])
        return size
    finally:
        os.close(fd)


async def _batched(scope: Scope, receive: Receive) -> int:
    fd = os.open(TARGET, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    batch: list[bytes] = []
    filled = size = 0
    inflight: asyncio.Future[int] | None = None

    async def flush() -> None:
        nonlocal batch, filled, inflight
        if inflight is not None:
            await inflight
            inflight = None
        if batch:
            inflight = asyncio.ensure_future(asyncio.to_thread(write_all, fd, batch))
            batch, filled = [], 0

    try:
        async for chunk in _body(receive):
            batch.append(chunk)
            size += len(chunk)
            filled += len(chunk)
            if filled >= BUFFER:
                await flush()
        await flush()
        if inflight is not None:
            await inflight
        return size
    finally:
        os.close(fd)


async def _verified(scope: Scope, receive: Receive) -> int:
    fd = os.open(TARGET, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    digest = hashlib.sha256()
    buffers = (bytearray(BUFFER), bytearray(BUFFER))
    current = filled = size = 0
    inflight: asyncio.Future[int] | None = None

    def hash_and_write(batch: memoryview) -> int:
        digest.update(batch)
        return write_all(fd, [batch])

    async def flush() -> None:
        nonlocal current, filled, inflight
        if inflight is not None:
            await inflight
        batch = memoryview(buffers[current])[:filled]
        current, filled = current ^ 1, 0
        inflight = asyncio.ensure_future(asyncio.to_thread(hash_and_write, batch))

    try:
        async for chunk in _body(receive):
            view = memoryview(chunk)
            size += len(view)
            while view:
                take = min(len(view), BUFFER - filled)
                buffers[current][filled : filled + take] = view[:take]
                filled, view = filled + take, view[take:]
                if filled == BUFFER:
                    await flush()
        await flush()
        if inflight is not None:
            await inflight
        digest.hexdigest()
        return size
    finally:
        os.close(fd)


ROUTES: dict[str, Callable[[Scope, Receive], Awaitable[int]]] = {
    "/discard": _discard,
    "/starlette": _starlette,
    "/file": _file,
    "/batched": _batched,
    "/verified": _verified,
}


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    route = ROUTES.get(scope["path"])
    if scope["type"] != "http" or route is None:
        status, body = 404, b"no such route"
    else:
        status, body = 200, str(await route(scope, receive)).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain")]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})
