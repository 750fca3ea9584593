"""Notify's HTTP API: the account's inbox (with a live unread count), preferences and
one-click unsubscribe; the announcements admin API for holders of `notify.send` (the page for
editors is in the back office, `kinoteka.notify.admin`)."""

from __future__ import annotations

import datetime as dt
import html
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from sse_starlette import EventSourceResponse

from kinoteka.auth import AccessClaims, CurrentUser, Permission, require_permission
from kinoteka.notify import broadcasts, repository, service
from kinoteka.notify.broadcasts import Audience
from kinoteka.notify.errors import (
    AudienceUnavailable,
    BroadcastNotEditable,
    BroadcastNotFound,
    InboxItemNotFound,
    InvalidUnsubscribeLink,
    NotifyError,
    SecurityMessages,
)
from kinoteka.notify.inbox import WAKE_SECONDS, unread_counts
from kinoteka.notify.kit import GROUP, NotifyKit
from kinoteka.notify.models import Broadcast, Kind
from kinoteka.notify.recipients import set_mail_locale
from kinoteka.notify.schemas import (
    BroadcastIn,
    BroadcastOut,
    DeadLetterOut,
    FailureOut,
    InboxItemOut,
    PreferenceOut,
    PreferencesIn,
    PreferencesOut,
    PreviewIn,
    PreviewOut,
    UnreadOut,
)
from kinoteka.services import ServicesDep, SessionDep

router = APIRouter(prefix="/api/v1/notify", tags=["notify"])
admin = APIRouter(prefix="/api/v1/notify/admin", tags=["notify admin"])

STATUS_OF: dict[type[Exception], int] = {
    InboxItemNotFound: status.HTTP_404_NOT_FOUND,
    BroadcastNotFound: status.HTTP_404_NOT_FOUND,
    SecurityMessages: status.HTTP_422_UNPROCESSABLE_CONTENT,
    AudienceUnavailable: status.HTTP_422_UNPROCESSABLE_CONTENT,
    InvalidUnsubscribeLink: status.HTTP_400_BAD_REQUEST,
    BroadcastNotEditable: status.HTTP_409_CONFLICT,
}
SSE_WAKE_SECONDS = WAKE_SECONDS


def get_notify_kit(services: ServicesDep) -> NotifyKit:
    return services.notify


KitDep = Annotated[NotifyKit, Depends(get_notify_kit)]
Sender = Annotated[AccessClaims, Depends(require_permission(Permission.NOTIFY_SEND))]


async def notify_error_handler(request: Request, error: Exception) -> JSONResponse:
    code = STATUS_OF.get(type(error), status.HTTP_400_BAD_REQUEST)
    return JSONResponse({"detail": str(error)}, status_code=code)


# The inbox


@router.get("/inbox", summary="My notifications, newest first")
async def inbox(
    claims: CurrentUser, session: SessionDep, unread: bool = False,
    before: dt.datetime | None = None, limit: int = Query(default=20, ge=1, le=100),
) -> list[InboxItemOut]:  # fmt: skip
    items = await repository.inbox(session, claims.subject, unread_only=unread, before=before,
                                   limit=limit)  # fmt: skip
    return [InboxItemOut.model_validate(item) for item in items]


@router.get("/inbox/unread-count", summary="How many of my notifications are unread")
async def unread_count(claims: CurrentUser, session: SessionDep) -> UnreadOut:
    return UnreadOut(unread=await repository.unread_count(session, claims.subject))


@router.post(
    "/inbox/{item_id}/read", status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"description": "No such inbox item"}},
)  # fmt: skip
async def mark_read(item_id: uuid.UUID, claims: CurrentUser, session: SessionDep) -> Response:
    await service.mark_read(session, claims.subject, item_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/inbox/read-all", status_code=status.HTTP_204_NO_CONTENT)
async def mark_all_read(claims: CurrentUser, session: SessionDep) -> Response:
    await service.mark_read(session, claims.subject, None)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/inbox/stream", summary="The unread count, live (Server-Sent Events `unread`)",
    response_class=EventSourceResponse,
)  # fmt: skip
async def inbox_stream(claims: CurrentUser, kit: KitDep) -> EventSourceResponse:
    async def counts() -> AsyncIterator[dict[str, str]]:
        async for count in unread_counts(kit, claims.subject):
            yield {"event": "unread", "data": str(count)}

    return EventSourceResponse(counts(), ping=SSE_WAKE_SECONDS)


# Preferences and unsubscribe


async def _preferences_out(
    session: SessionDep, kit: NotifyKit, user_id: uuid.UUID
) -> PreferencesOut:
    chosen = await service.preferences(session, user_id)
    return PreferencesOut(
        locale=await service.locale(session, kit, user_id),
        items=[PreferenceOut(kind=kind, channel=channel, enabled=enabled, locked=kind.security)
               for (kind, channel), enabled in chosen.items()],
    )  # fmt: skip


@router.get("/preferences", summary="My locale and which messages reach me where")
async def get_preferences(claims: CurrentUser, session: SessionDep, kit: KitDep) -> PreferencesOut:
    return await _preferences_out(session, kit, claims.subject)


@router.put(
    "/preferences", summary="Change my locale or switch kinds of message on or off",
    responses={422: {"description": "A security message cannot be turned off"}},
)  # fmt: skip
async def put_preferences(
    body: PreferencesIn, claims: CurrentUser, session: SessionDep, kit: KitDep
) -> PreferencesOut:
    if body.locale is not None:
        await set_mail_locale(session, claims.subject, body.locale)
    for item in body.items:
        await service.set_preference(session, claims.subject, item.kind, item.channel,
                                     item.enabled)  # fmt: skip
    return await _preferences_out(session, kit, claims.subject)


def _page(message: str) -> str:
    return f"<!doctype html><meta charset=utf-8><title>Kinoteka</title><p>{message}</p>"


@router.get("/unsubscribe", response_class=HTMLResponse, summary="Confirm unsubscribing")
async def unsubscribe_page(
    kit: KitDep, token: str = Query(min_length=1, max_length=512)
) -> HTMLResponse:
    # A GET changes nothing (mail scanners follow links); the form posts the one-click request.
    if kit.read_unsubscribe_token(token) is None:
        return HTMLResponse(_page("This unsubscribe link is invalid."), status_code=400)
    form = (
        f'<form method=post action="?token={html.escape(token)}">'
        "<p>Stop receiving Kinoteka announcements by email?</p>"
        "<button type=submit>Unsubscribe</button></form>"
    )
    return HTMLResponse(_page("") + form)


@router.post(
    "/unsubscribe", response_class=HTMLResponse,
    summary="One-click unsubscribe (RFC 8058; the URL in List-Unsubscribe)",
    responses={400: {"description": "The link is invalid"}},
)  # fmt: skip
async def unsubscribe(
    session: SessionDep, kit: KitDep, token: str = Query(min_length=1, max_length=512)
) -> HTMLResponse:
    await service.unsubscribe(session, kit, token)
    return HTMLResponse(_page("You will no longer receive Kinoteka announcements by email."))


# The announcements admin


def _broadcast_out(broadcast: Broadcast, progress: dict[str, int] | None = None) -> BroadcastOut:
    return BroadcastOut(
        id=broadcast.id, subject=broadcast.subject, body=broadcast.body,
        audience=broadcast.audience, audience_value=broadcast.audience_value,
        status=broadcast.status, send_at=broadcast.send_at, created=broadcast.created,
        finished_at=broadcast.finished_at, recipients=broadcast.recipients,
        progress=progress or {},
    )  # fmt: skip


@admin.get(
    "", summary="The announcements page moved into the back office",
    status_code=status.HTTP_308_PERMANENT_REDIRECT, response_class=RedirectResponse,
)  # fmt: skip
async def admin_page() -> RedirectResponse:
    return RedirectResponse("/admin/notify", status_code=status.HTTP_308_PERMANENT_REDIRECT)


@admin.post("/preview", summary="An announcement rendered as recipients will see it")
async def preview(body: PreviewIn, _: Sender) -> PreviewOut:
    rendered = broadcasts.preview(body.subject, body.body, body.locale)
    return PreviewOut(subject=rendered.subject, text=rendered.text, html=rendered.html)


@admin.post(
    "/broadcasts", status_code=status.HTTP_201_CREATED,
    summary="Send an announcement now, or schedule it",
    responses={422: {"description": "The audience cannot be selected"}},
)  # fmt: skip
async def create_broadcast(
    body: BroadcastIn, claims: Sender, session: SessionDep, kit: KitDep
) -> BroadcastOut:
    if body.send_at is not None and body.send_at.tzinfo is None:
        raise AudienceUnavailable("send_at: give a time zone (2026-12-24T18:00:00+03:00)")
    broadcast = await broadcasts.create_broadcast(
        session, subject=body.subject, body=body.body,
        audience=Audience(body.audience.kind, body.audience.value), send_at=body.send_at,
        created_by=claims.subject, genre_audience=kit.genre_audience,
    )  # fmt: skip
    return _broadcast_out(broadcast)


@admin.get("/broadcasts", summary="Announcements, newest first")
async def list_broadcasts(_: Sender, session: SessionDep) -> list[BroadcastOut]:
    return [_broadcast_out(b) for b in await broadcasts.list_broadcasts(session)]


@admin.get(
    "/broadcasts/{broadcast_id}", summary="An announcement and its progress",
    responses={404: {"description": "No such broadcast"}},
)  # fmt: skip
async def get_broadcast(broadcast_id: uuid.UUID, _: Sender, session: SessionDep) -> BroadcastOut:
    broadcast, progress = await broadcasts.get_broadcast(session, broadcast_id)
    return _broadcast_out(broadcast, progress)


@admin.post(
    "/broadcasts/{broadcast_id}/cancel", summary="Stop an announcement that has not finished",
    responses={404: {"description": "No such broadcast"}, 409: {"description": "Finished"}},
)  # fmt: skip
async def cancel_broadcast(broadcast_id: uuid.UUID, _: Sender, session: SessionDep) -> BroadcastOut:
    return _broadcast_out(await broadcasts.cancel_broadcast(session, broadcast_id))


@admin.get("/failures", summary="Deliveries that failed for good, with their error")
async def failures(
    _: Sender, session: SessionDep, limit: int = Query(default=100, ge=1, le=1000)
) -> list[FailureOut]:
    rows = await repository.failed_deliveries(session, limit)
    return [
        FailureOut(
            delivery_id=row.id,
            channel=row.channel,
            kind=row.kind,
            email=row.email,
            attempts=row.attempts,
            error=row.error,
            updated=row.updated,
            broadcast_id=row.broadcast_id,
        )
        for row in rows
    ]


@admin.get("/dead-letters", summary="Messages parked in the broker's dead-letter queue")
async def dead_letters(
    _: Sender, kit: KitDep, topic: str = Query(default="notify.email", max_length=100),
    limit: int = Query(default=100, ge=1, le=1000),
) -> list[DeadLetterOut]:  # fmt: skip
    letters = await kit.broker.dead_letters(topic, GROUP, limit=limit)
    return [
        DeadLetterOut(
            message_id=x.message_id,
            topic=x.topic,
            attempts=x.attempts,
            error=x.error,
            failed_at=x.failed_at,
        )
        for x in letters
    ]


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.include_router(admin)
    app.add_exception_handler(NotifyError, notify_error_handler)


__all__ = ["Kind", "install"]
