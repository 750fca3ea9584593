"""Page views of the content API, published without making any request wait on the bus.

`PageViewMiddleware` (installed by the analytics mount, so content knows nothing of it) sees
each answered request, and for a 200 on one of the content API's seven read routes, recognised
by the route's path, offers a record to `PageViewBuffer`: a bounded in-memory queue that a
background task drains to the bus in batches. When the bus is down or slow the queue fills,
further views are dropped, counted and logged (once per second at most); requests never wait.

A view names its viewer when the request carried a bearer token that verifies (signature and
expiry, through auth's `verified_claims`: a token verified before, by content's own check or
an earlier view, is remembered and costs nothing), whether or not the catalog is public. It is
checked after the answer has gone, and a bad or expired token only leaves the view anonymous.
Revocation is not read for this (a Redis round trip per view): it decides who gets in, and
content's private catalog checks it before answering.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kinoteka.analytics.collector import publish
from kinoteka.analytics.schemas import BusRecord, page_view_record
from kinoteka.analytics.topics import PAGE_TOPICS, PageKind
from kinoteka.infra.bus import BusError, EventBus

log = structlog.get_logger(__name__)

# The content API's routes, by their path template (with or without the trailing slash).
ROUTES: dict[str, tuple[PageKind, str | None]] = {
    "/api/v1/films": (PageKind.FILMS, None),
    "/api/v1/films/search": (PageKind.FILM_SEARCH, None),
    "/api/v1/films/{film_id}": (PageKind.FILM_BY_ID, "film_id"),
    "/api/v1/genres": (PageKind.GENRES, None),
    "/api/v1/genres/{genre_id}": (PageKind.GENRE_BY_ID, "genre_id"),
    "/api/v1/persons/search": (PageKind.PERSON_SEARCH, None),
    "/api/v1/persons/{person_id}": (PageKind.PERSON_BY_ID, "person_id"),
}
TOPIC_OF = {kind.value: topic for kind, topic in PAGE_TOPICS.items()}
PUBLISH_TIMEOUT = 5.0
RETRY_DELAY = 1.0


class PageViewBuffer:
    """A bounded queue of page views and the task draining it to the bus."""

    def __init__(self, bus: Callable[[], EventBus], *, capacity: int, batch_size: int = 500):
        self._bus = bus
        self._queue: asyncio.Queue[BusRecord] = asyncio.Queue(maxsize=capacity)
        self._batch_size = batch_size
        self.published = 0
        self.dropped = 0
        self.in_flight = 0  # views taken off the queue whose publish has not yet succeeded
        self._last_drop_log = 0.0

    def offer(self, record: BusRecord) -> bool:
        """Queue `record` at once, or drop it (counted) when the buffer is full."""
        try:
            self._queue.put_nowait(record)
        except asyncio.QueueFull:
            self.dropped += 1
            now = time.monotonic()
            if now - self._last_drop_log >= 1.0:
                self._last_drop_log = now
                log.warning("analytics.page_views_dropped", dropped=self.dropped)
            return False
        return True

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    async def drain(self) -> None:
        """Publish queued views until cancelled; a failed batch is retried until it goes."""
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._batch_size and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            self.in_flight = len(batch)
            while True:
                try:
                    await asyncio.wait_for(publish(self._bus(), batch, TOPIC_OF), PUBLISH_TIMEOUT)
                except (BusError, TimeoutError, OSError) as error:
                    log.warning("analytics.page_views_unpublished", error=str(error)[:200])
                    await asyncio.sleep(RETRY_DELAY)  # backoff while the bus is down
                    continue
                self.published += len(batch)
                self.in_flight = 0
                break

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[PageViewBuffer]:
        task = asyncio.create_task(self.drain(), name="analytics-page-views")
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            if self.pending:
                log.warning("analytics.page_views_unsent_at_exit", pending=self.pending)


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() and len(value) < 9 else None


def bearer_token(scope: Scope) -> str | None:
    """The request's bearer token as sent (unchecked), or None."""
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            token = token.strip()
            return token if scheme.lower() == "bearer" and token else None
    return None


ViewerOf = Callable[[str], Awaitable[uuid.UUID | None]]
"""Who a bearer token names when it verifies, else None."""


def page_view_of(
    scope: Scope, status: int, *, user_id: uuid.UUID | None = None
) -> BusRecord | None:
    """The page view a request was (by `user_id`), or None when it was not a successful
    content read."""
    if status != 200 or scope.get("method") != "GET":
        return None
    route = scope.get("route")
    template = getattr(route, "path", None)
    if not isinstance(template, str):
        return None
    known = ROUTES.get(template.rstrip("/") or "/")
    if known is None:
        return None
    kind, parameter = known
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))

    def first(*names: str) -> str | None:
        for name in names:
            values = query.get(name)
            if values:
                return str(values[0])
        return None

    object_id = _uuid(scope.get("path_params", {}).get(parameter)) if parameter else None
    return page_view_record(
        kind,
        user_id=user_id,
        object_id=object_id,
        query=first("query") or "",
        page_number=_int(first("page_number", "page[number]")),
        page_size=_int(first("page_size", "page[size]")),
        server_at=dt.datetime.now(dt.UTC),
    )


class PageViewMiddleware:
    """Pure ASGI: notes the status, and after the answer offers the view to the buffer."""

    def __init__(
        self,
        app: ASGIApp,
        buffer: Callable[[], PageViewBuffer | None],
        viewer_of: ViewerOf | None = None,
    ) -> None:
        self.app = app
        self.buffer = buffer
        self.viewer_of = viewer_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/v1/"):
            await self.app(scope, receive, send)
            return
        status = 0

        async def noting(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, noting)
        buffer = self.buffer()
        if buffer is None:
            return
        try:
            record = page_view_of(scope, status)
        except Exception as error:  # counting a view must never break the answer
            log.warning("analytics.page_view_unreadable", error=str(error)[:200])
            return
        if record is None:
            return
        if self.viewer_of is not None and (token := bearer_token(scope)) is not None:
            try:
                viewer = await self.viewer_of(token)
            except Exception as error:  # keys that cannot be read now: an anonymous view
                log.warning("analytics.page_viewer_unknown", error=str(error)[:200])
                viewer = None
            if viewer is not None:
                record = record.model_copy(update={"user_id": viewer})
        buffer.offer(record)
