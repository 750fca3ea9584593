"""The notifications bell and inbox page: notify's in-app inbox for the cookie-signed page session.

The notify API's own stream takes a bearer token, which a page's `EventSource` cannot send, so
the pages have their own: `GET /web/inbox/stream` streams the unread count (Server-Sent Events
`unread`) to the session's account through `kinoteka.notify.unread_counts`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sse_starlette import EventSourceResponse

from kinoteka import notify
from kinoteka.web.i18n import N_
from kinoteka.web.kit import WebKit, page_route

INBOX_PAGE_SIZE = 50
STREAM_PING_SECONDS = 15.0


def inbox_router(kit: WebKit) -> APIRouter:
    router = APIRouter(include_in_schema=False, route_class=page_route(kit))

    @router.get("/inbox", name="web_inbox")
    async def inbox(request: Request) -> Response:
        viewer = await kit.signed_in(request)
        async with kit.services.db.session() as db:
            items = await notify.list_inbox(db, viewer.claims.subject, limit=INBOX_PAGE_SIZE)
        return await kit.render(request, "inbox.html", {"items": items})

    @router.post("/inbox/read", name="web_inbox_read")
    async def mark_read(request: Request) -> Response:
        """Mark one notification (`item`) or all of them (no `item`) read; back to the inbox."""
        viewer = await kit.signed_in(request)
        raw = (await kit.form(request)).get("item")
        item_id: uuid.UUID | None = None
        if raw:
            try:
                item_id = uuid.UUID(str(raw))
            except ValueError:
                return await _missing(kit, request)
        async with kit.services.db.session() as db:
            try:
                await notify.mark_read(db, viewer.claims.subject, item_id)
            except notify.InboxItemNotFound:
                return await _missing(kit, request)
        return kit.redirect(request, "/inbox")

    @router.get("/web/inbox/stream", name="web_inbox_stream")
    async def stream(request: Request) -> Response:
        """The bell's unread count, now and on each change (`event: unread`, `data: <n>`)."""
        session = await kit.sessions.current(request)
        if session is None or session.claims is None:
            return Response(status_code=401)
        user_id = session.claims.subject
        notify_kit = kit.services.notify

        async def counts() -> AsyncIterator[dict[str, str]]:
            async for count in notify.unread_counts(notify_kit, user_id):
                yield {"event": "unread", "data": str(count)}

        return EventSourceResponse(
            counts(), ping=int(STREAM_PING_SECONDS), headers={"Cache-Control": "no-store"}
        )

    return router


async def _missing(kit: WebKit, request: Request) -> Response:
    text = kit.strings(request).gettext(N_("No such notification."))
    return await kit.render(
        request, "problem.html", {"message": text, "status": 404}, status_code=404
    )
