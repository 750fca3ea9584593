"""The announcements page in the back office (`/admin/notify`, SQLAdmin), for `notify.send`.

Compose (subject, body, audience), preview it rendered as recipients will see it, send it now
or schedule it, and watch the broadcasts fan out (queued, sent, failed per channel), with the
deliveries that failed for good and the messages parked in the broker's dead-letter queue,
each with its error. The page is server-rendered inside the admin's layout; its forms carry
the admin's CSRF token (the admin's CSRF middleware guards these routes as every other).
The JSON API (`/api/v1/notify/admin/…`) stays for API clients.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog
from jinja2 import ChoiceLoader, FileSystemLoader, PrefixLoader
from pydantic import ValidationError
from sqladmin import BaseView, expose
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from kinoteka import auth, catalog
from kinoteka.auth import AccessClaims, Permission
from kinoteka.mounting import ADMIN_CLAIMS_STATE, AdminSection
from kinoteka.notify import broadcasts, repository
from kinoteka.notify.broadcasts import Audience
from kinoteka.notify.errors import BroadcastNotEditable, BroadcastNotFound, NotifyError
from kinoteka.notify.kit import BROADCAST_TOPIC, EMAIL_TOPIC, GROUP
from kinoteka.notify.models import AudienceKind, BroadcastStatus
from kinoteka.notify.schemas import BroadcastIn
from kinoteka.services import Services

log = structlog.get_logger(__name__)

IDENTITY = "notify"
TEMPLATES = Path(__file__).resolve().parent / "admin_templates"
LISTED = 20
FAILURES = 50
PROGRESS_FIELDS = ("email.queued", "email.sending", "email.sent", "email.failed", "inbox.sent")


def _use_templates(loader: Any) -> None:
    """Let the admin's Jinja environment find this context's pages under `notify/`."""
    ours = PrefixLoader({"notify": FileSystemLoader(str(TEMPLATES / "notify"))})
    if isinstance(loader, ChoiceLoader) and not any(
        isinstance(x, PrefixLoader) and "notify" in x.mapping for x in loader.loaders
    ):
        loader.loaders = [*loader.loaders, ours]


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _send_at(text: str) -> dt.datetime | None:
    """The form's `datetime-local` value, read as UTC (the page says so)."""
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise NotifyError(f"send at: {text!r} is not a date and time") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _draft(form: FormData) -> dict[str, str]:
    return {
        name: _field(form, name)
        for name in ("subject", "body", "audience", "role", "genre", "send_at", "locale")
    }


def _audience_value(draft: dict[str, str]) -> str | None:
    if draft["audience"] == AudienceKind.ROLE:
        return draft["role"] or None
    if draft["audience"] == AudienceKind.GENRE:
        return draft["genre"] or None
    return None


def _errors(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}" for item in error.errors()
    )


def announcement_sections(services: Services) -> Sequence[AdminSection]:
    """The announcements page over this app's `services` (one view class per app)."""

    class Announcements(BaseView):
        name = "Announcements"
        icon = "fa-solid fa-bullhorn"

        def __init__(self) -> None:
            super().__init__()
            _use_templates(self.templates.env.loader)

        async def _render(
            self, request: Request, *, draft: dict[str, str] | None = None,
            error: str | None = None, preview: Any = None, status_code: int = 200,
        ) -> Response:  # fmt: skip
            async with services.db.session() as session:
                listed = await broadcasts.list_broadcasts(session, LISTED)
                progress = await repository.progress_of(session, [b.id for b in listed])
                failures = await repository.failed_deliveries(session, FAILURES)
                roles = sorted(await auth.role_names(session))
                genres = await catalog.genre_names(session)
            letters: list[Any] = []
            letters_error = None
            try:
                for topic in (EMAIL_TOPIC, BROADCAST_TOPIC):
                    letters += await services.notify.broker.dead_letters(topic, GROUP, limit=50)
            except Exception as failure:  # shown on the page; the rest of it still works
                log.warning("notify.admin_dead_letters_failed", error=str(failure))
                letters_error = f"{type(failure).__name__}: {failure}"
            base = str(request.url_for("admin:index")).rstrip("/")
            context = {
                "title": "Announcements",
                "subtitle": "Compose, preview, send or schedule; watch them fan out",
                "page_url": f"{base}/notify",
                "draft": draft or {"audience": "everyone", "locale": "en"},
                "error": error,
                "preview": preview,
                "broadcasts": listed,
                "progress": progress,
                "progress_fields": PROGRESS_FIELDS,
                "active": any(b.status is BroadcastStatus.SENDING for b in listed),
                "failures": failures,
                "letters": letters,
                "letters_error": letters_error,
                "roles": roles,
                "genres": genres,
                "genre_audience": services.notify.genre_audience,
                "created": request.query_params.get("created"),
            }
            response: Response = await self.templates.TemplateResponse(
                request, "notify/announcements.html", context, status_code=status_code
            )
            return response

        @expose("/notify", methods=["GET"], identity=IDENTITY)
        async def page(self, request: Request) -> Response:
            return await self._render(request)

        @expose("/notify/progress", methods=["GET"], identity=IDENTITY)
        async def progress(self, request: Request) -> Response:
            """The broadcasts table alone, for the page to refresh while one is sending."""
            async with services.db.session() as session:
                listed = await broadcasts.list_broadcasts(session, LISTED)
                progress = await repository.progress_of(session, [b.id for b in listed])
            response: Response = await self.templates.TemplateResponse(
                request, "notify/_broadcasts.html", {
                    "broadcasts": listed, "progress": progress,
                    "progress_fields": PROGRESS_FIELDS,
                    "active": any(b.status is BroadcastStatus.SENDING for b in listed),
                    "page_url": str(request.url_for("admin:index")).rstrip("/") + "/notify",
                },
            )  # fmt: skip
            return response

        @expose("/notify", methods=["POST"], identity=IDENTITY)
        async def compose(self, request: Request) -> Response:
            form = await request.form()
            draft = _draft(form)
            action = _field(form, "action")
            try:
                announcement = BroadcastIn.model_validate({
                    "subject": draft["subject"], "body": draft["body"],
                    "audience": {"kind": draft["audience"] or "everyone",
                                 "value": _audience_value(draft)},
                    "send_at": _send_at(draft["send_at"]),
                })  # fmt: skip
            except ValidationError as invalid:
                return await self._render(request, draft=draft, error=_errors(invalid),
                                          status_code=400)  # fmt: skip
            except NotifyError as invalid:
                return await self._render(request, draft=draft, error=str(invalid),
                                          status_code=400)  # fmt: skip
            if action == "preview":
                locale = draft["locale"] if draft["locale"] in ("en", "ru") else "en"
                shown = broadcasts.preview(announcement.subject, announcement.body, locale)
                return await self._render(request, draft=draft, preview=shown)
            if action != "send":
                return await self._render(request, draft=draft, status_code=400,
                                          error=f"action: unknown {action!r}")  # fmt: skip
            claims: AccessClaims = getattr(request.state, ADMIN_CLAIMS_STATE)
            try:
                async with services.db.session() as session:
                    created = await broadcasts.create_broadcast(
                        session, subject=announcement.subject, body=announcement.body,
                        audience=Audience(announcement.audience.kind, announcement.audience.value),
                        send_at=announcement.send_at, created_by=claims.subject,
                        genre_audience=services.notify.genre_audience,
                    )  # fmt: skip
                    created_id = created.id
            except NotifyError as refused:
                return await self._render(request, draft=draft, error=str(refused),
                                          status_code=422)  # fmt: skip
            url = str(request.url_for("admin:index")).rstrip("/")
            return RedirectResponse(f"{url}/notify?created={created_id}", status_code=303)

        @expose("/notify/{broadcast_id}/cancel", methods=["POST"], identity=IDENTITY)
        async def cancel(self, request: Request) -> Response:
            try:
                broadcast_id = uuid.UUID(request.path_params["broadcast_id"])
            except ValueError:
                return await self._render(request, error="no such broadcast", status_code=404)
            try:
                async with services.db.session() as session:
                    await broadcasts.cancel_broadcast(session, broadcast_id)
            except BroadcastNotFound as missing:
                return await self._render(request, error=str(missing), status_code=404)
            except BroadcastNotEditable as finished:
                return await self._render(request, error=str(finished), status_code=409)
            url = str(request.url_for("admin:index")).rstrip("/")
            return RedirectResponse(f"{url}/notify", status_code=303)

    return [AdminSection(Announcements, Permission.NOTIFY_SEND)]
