"""What the player needs of a film, asked of the media context's stream endpoint.

`GET {media}/api/v1/films/{id}/stream` with the viewer's access token answers the manifest
URLs, poster, seek-thumbnail VTT, animated preview and duration. When `web.media_api_url` is
unset the request goes in-process to this very app (no network hop), so the web pages work
with the media context mounted beside them or served on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx
import structlog
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from starlette.requests import Request
from starlette.types import ASGIApp

log = structlog.get_logger(__name__)

STREAM_PATH = "/api/v1/films/{film_id}/stream"
TIMEOUT = 10.0
POSTER_PREFERENCE = ("large", "medium", "original", "webp", "jpeg", "jpg")


class PlaybackInfo(BaseModel):
    """The media context's answer, under the names it gives them (a few spellings accepted)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    hls_url: str | None = Field(default=None, validation_alias=AliasChoices("hls_url", "hls"))
    dash_url: str | None = Field(default=None, validation_alias=AliasChoices("dash_url", "dash"))
    poster_url: str | None = Field(
        default=None, validation_alias=AliasChoices("poster_url", "poster")
    )
    thumbnails_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("thumbnails_url", "thumbnails", "sprite_vtt", "sprite_url"),
    )
    preview_url: str | None = Field(
        default=None, validation_alias=AliasChoices("preview_url", "preview")
    )
    duration: float | None = Field(
        default=None, validation_alias=AliasChoices("duration", "duration_seconds")
    )

    @model_validator(mode="before")
    @classmethod
    def _media_shape(cls, data: Any) -> Any:
        """The media API gives posters by size and the preview as WebP and GIF: pick one."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        poster = data.get("poster")
        if isinstance(poster, dict):
            sizes = [poster[k] for k in POSTER_PREFERENCE if poster.get(k)] or list(poster.values())
            data["poster"] = sizes[0] if sizes else None
        if not data.get("preview") and not data.get("preview_url"):
            data["preview"] = data.get("preview_webp") or data.get("preview_gif")
        return data

    @property
    def playable(self) -> bool:
        return bool(self.hls_url or self.dash_url)


class Unavailable(StrEnum):
    NOT_READY = "not_ready"  # no video for this film (yet)
    FORBIDDEN = "forbidden"  # the account may not watch it
    FAILED = "failed"  # the media service did not answer


@dataclass(frozen=True)
class PlaybackSource:
    """Asks the stream endpoint, at `base_url` or in-process on `app`."""

    app: ASGIApp
    base_url: str | None

    def _client(self, request: Request) -> httpx.AsyncClient:
        if self.base_url:
            return httpx.AsyncClient(base_url=self.base_url, timeout=TIMEOUT)
        transport = httpx.ASGITransport(app=self.app)
        return httpx.AsyncClient(
            transport=transport, base_url=str(request.base_url), timeout=TIMEOUT
        )

    async def fetch(
        self, request: Request, film_id: str, access_token: str
    ) -> PlaybackInfo | Unavailable:
        path = STREAM_PATH.format(film_id=film_id)
        headers = {"Authorization": f"Bearer {access_token}"}
        try:
            async with self._client(request) as client:
                response = await client.get(path, headers=headers)
        except httpx.HTTPError as error:
            log.warning("web.playback_failed", film_id=film_id, error=str(error))
            return Unavailable.FAILED
        if response.status_code in (401, 403):
            return Unavailable.FORBIDDEN
        if response.status_code == 404:
            return Unavailable.NOT_READY
        if response.status_code != 200:
            log.warning("web.playback_failed", film_id=film_id, status=response.status_code)
            return Unavailable.FAILED
        try:
            info = PlaybackInfo.model_validate_json(response.content)
        except ValidationError as error:
            log.warning("web.playback_invalid", film_id=film_id, error=str(error)[:300])
            return Unavailable.FAILED
        return info if info.playable else Unavailable.NOT_READY
