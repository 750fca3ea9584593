"""The media HTTP API: playback for viewers, video states and re-transcodes for editors."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse

from kinoteka.auth import AccessClaims, require_permission
from kinoteka.media import jobs, service
from kinoteka.media.errors import (
    InvalidTransition,
    MediaServiceError,
    NotPlayable,
    UploadRefused,
    VideoNotFound,
)
from kinoteka.media.models import Video
from kinoteka.media.playback import signed_base
from kinoteka.media.schemas import Stream, VideoState
from kinoteka.media.upload import Caller, upload_caller
from kinoteka.services import ServicesDep, SessionDep

router = APIRouter(prefix="/api/v1", tags=["media"])

Viewer = Annotated[AccessClaims, Depends(require_permission("content.watch"))]
Editor = Annotated[AccessClaims, Depends(require_permission("media.upload"))]


def stream_of(video: Video, base_url: str, secret: str, ttl: int) -> Stream:
    """The playback answer for a switched-in video, its URLs signed for `ttl` seconds."""
    if video.current_version is None:
        raise NotPlayable(f"film {video.film_id} has no playable video")
    base = base_url.rstrip("/") + signed_base(secret, video.id, video.current_version, ttl)
    outputs: dict[str, Any] = video.outputs
    art: dict[str, Any] = outputs.get("artwork") or {}

    def url(relative: str | None) -> str | None:
        return None if not relative else base + relative

    return Stream(
        film_id=video.film_id,
        video_id=video.id,
        duration=video.duration,
        qualities=list(video.qualities),
        hls=base + outputs["hls"],
        dash=base + outputs["dash"],
        poster={name: base + path for name, path in (art.get("poster") or {}).items()},
        sprite_vtt=url(art.get("sprite_vtt")),
        preview_webp=url(art.get("preview_webp")),
        preview_gif=url(art.get("preview_gif")),
        expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=ttl),
    )


@router.get(
    "/films/{film_id}/stream",
    summary="Where to play a film: HLS and DASH manifests, poster, seek thumbnails, preview",
    responses={404: {"description": "The film has no playable video"}},
)
async def stream(
    film_id: uuid.UUID, request: Request, services: ServicesDep, session: SessionDep,
    viewer: Viewer,
) -> Stream:  # fmt: skip
    video = await service.playable_video(session, film_id)
    settings = services.settings
    return stream_of(
        video, str(request.base_url), settings.secret_key.get_secret_value(),
        settings.media.playback_url_ttl,
    )  # fmt: skip


def video_state(video: Video) -> VideoState:
    return VideoState(
        id=video.id, film_id=video.film_id, status=str(video.status), progress=video.progress,
        attempt=video.attempt, failure_reason=video.failure_reason,
        transitions=list(video.transitions), current_version=video.current_version,
        version=video.version, artwork_pending=video.pending.get("step") == "artwork",
        artwork_error=video.outputs.get("artwork_error"), duration=video.duration,
        qualities=list(video.qualities),
        source_name=video.source_name, source_size=video.source_size, checksum=video.checksum,
        created=video.created,
    )  # fmt: skip


@router.get("/films/{film_id}/videos", summary="A film's videos and their processing state")
async def film_videos(
    film_id: uuid.UUID, session: SessionDep, caller: Annotated[Caller, Depends(upload_caller)]
) -> list[VideoState]:
    from kinoteka.media import repository

    if caller.film_id is not None and caller.film_id != film_id:
        raise HTTPException(403, "this upload ticket is for another film")
    return [video_state(video) for video in await repository.videos_of_film(session, film_id)]


@router.get("/videos/{video_id}", summary="A video's processing state")
async def video(video_id: uuid.UUID, session: SessionDep, editor: Editor) -> VideoState:
    return video_state(await service.get_video(session, video_id))


@router.post(
    "/videos/{video_id}/transcode",
    status_code=202,
    summary="Transcode a video again (a new version; the current one plays meanwhile)",
)
async def transcode(video_id: uuid.UUID, services: ServicesDep, editor: Editor) -> VideoState:
    async with services.db.session() as session:
        video = await service.request_transcode(session, video_id)
        state = video_state(video)
    await jobs.send_transcode(services.tasks, video_id, state.version)
    return state


_STATUS = {VideoNotFound: 404, NotPlayable: 404, InvalidTransition: 409}


async def media_error_handler(request: Request, error: Exception) -> JSONResponse:
    status = 400
    if isinstance(error, UploadRefused):
        status = error.status_code
    else:
        status = next((code for kind, code in _STATUS.items() if isinstance(error, kind)), 400)
    return JSONResponse({"detail": str(error)}, status_code=status)


__all__ = ["MediaServiceError", "media_error_handler", "router"]
