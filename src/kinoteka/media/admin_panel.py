"""The film page's "upload video" control in the admin: a signed upload ticket, the HTML of
the control, and the routes serving its scripts (tus-js-client from `node_modules`, ours).

The admin session keeps the editor's tokens server-side, so the page gets an upload ticket
instead: an HMAC over (editor, film, expiry) with the app's secret, good for that film's
uploads and video states only, sent by the browser as the `Upload-Ticket` header.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse
from markupsafe import Markup, escape

STATIC = Path(__file__).resolve().parent / "static"
NODE_MODULES = Path(__file__).resolve().parents[3] / "node_modules"
TUS_SCRIPT = NODE_MODULES / "tus-js-client" / "dist" / "tus.min.js"
TICKET_TTL = 6 * 3600


@dataclass(frozen=True)
class Ticket:
    subject: str
    film_id: uuid.UUID


def _sign(secret: str, subject: str, film_id: uuid.UUID, expires: int) -> str:
    message = f"media-upload\n{subject}\n{film_id}\n{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def upload_ticket(secret: str, subject: str, film_id: uuid.UUID, ttl: int = TICKET_TTL) -> str:
    expires = int(time.time()) + ttl
    return f"{subject}.{film_id}.{expires}.{_sign(secret, subject, film_id, expires)}"


def read_ticket(secret: str, ticket: str) -> Ticket | None:
    """The ticket's editor and film when it is ours and current, else None."""
    parts = ticket.split(".")
    if len(parts) != 4 or not parts[2].isdigit():
        return None
    subject, film, expires, signature = parts
    try:
        film_id = uuid.UUID(film)
    except ValueError:
        return None
    if int(expires) < time.time():
        return None
    if not hmac.compare_digest(_sign(secret, subject, film_id, int(expires)), signature):
        return None
    return Ticket(subject, film_id)


def film_video_panel(secret: str, subject: str | None, film_id: uuid.UUID | None) -> Markup:
    """The control's HTML for the film page (empty for a film not saved yet)."""
    if subject is None or film_id is None:
        return Markup("")
    ticket = upload_ticket(secret, subject, film_id)
    return Markup(
        '<div class="card mt-3" id="kinoteka-media" data-film="{film}" data-ticket="{ticket}"'
        ' data-endpoint="/api/v1/media/uploads" data-status="/api/v1/films/{film}/videos">'
        '<div class="card-header"><h3 class="card-title">Video</h3></div>'
        '<div class="card-body">'
        '<label class="form-label" for="kinoteka-media-file">Upload video</label>'
        '<input class="form-control" type="file" id="kinoteka-media-file" accept="video/*">'
        '<progress class="w-100 mt-2" max="100" value="0" hidden></progress>'
        '<div class="kinoteka-media-upload-state text-secondary mt-1" role="status"></div>'
        '<table class="table table-sm mt-3"><thead><tr><th>File</th><th>Status</th>'
        "<th>Progress</th><th>Reason</th><th>Uploaded</th></tr></thead>"
        '<tbody class="kinoteka-media-videos"></tbody></table>'
        "</div></div>"
        '<script src="/static/media/tus.min.js"></script>'
        '<script src="/static/media/film-video.js"></script>'
    ).format(film=escape(str(film_id)), ticket=escape(ticket))


def static_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/static/media/tus.min.js")
    async def tus_script() -> FileResponse:
        if not TUS_SCRIPT.is_file():
            raise HTTPException(404, "tus-js-client is not installed: run `make sync` (npm ci)")
        return FileResponse(TUS_SCRIPT, media_type="text/javascript")

    @router.get("/static/media/film-video.js")
    async def panel_script() -> FileResponse:
        return FileResponse(STATIC / "film-video.js", media_type="text/javascript")

    return router
