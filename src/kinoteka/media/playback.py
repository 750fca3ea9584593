"""Signed playback URLs over a version's prefix, and the route serving them.

A player gets `/media/v/{expires}/{signature}/{video_id}/v{n}/master.m3u8`; the signature
covers the prefix `{video_id}/v{n}/` and the expiry, so the manifests' relative URIs
(`720p/seg-00001.m4s`, `sprite.jpg#xywh=…`) resolve to URLs the same signature still covers.
The route streams from local storage with HTTP Range support; on S3 it passes the small
text files (playlists, MPD, VTT) through and redirects everything else to a presigned URL
of the object, so segment bytes come straight from S3 while relative URIs keep working.

A version's poster and animated preview are public, as the catalog's posters are (anyone may
browse; watching needs an account): `/media/art/{video_id}/v{n}/poster-list.webp` needs no
signature and serves those pictures only, never a manifest or a segment. The search documents
carry these stable paths (`artwork_url_sql`), so film cards and the anonymous film page show
them.
"""

from __future__ import annotations

import hashlib
import hmac
import mimetypes
import re
import time
import uuid
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException
from fastapi.responses import RedirectResponse, Response

from kinoteka.infra.storage import (
    InvalidKey,
    ObjectNotFound,
    ObjectStorage,
    check_key,
    read_all,
)
from kinoteka.infra.storage.local import LocalStorage
from kinoteka.infra.storage.serving import ranged_response
from kinoteka.media.artwork_links import ART_ROUTE
from kinoteka.media.jobs import CONTENT_TYPES
from kinoteka.services import ServicesDep

ROUTE = "/media/v"
_VERSION = re.compile(r"^v[1-9][0-9]{0,8}$")
_ARTWORK_FILE = re.compile(r"^(poster-[a-z0-9]{1,16}\.(webp|jpg)|preview\.(webp|gif))$")
"""The files of a version the public artwork route serves (`ffmpeg.poster_files`, previews)."""
ART_CACHE = "public, max-age=86400"
TEXT_SUFFIXES = (".m3u8", ".mpd", ".vtt")


def _signature(secret: str, prefix: str, expires: int) -> str:
    message = f"media-prefix\n{prefix}\n{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_base(secret: str, video_id: uuid.UUID, version: int, ttl: int) -> str:
    """The signed URL path of a version's directory (ends with `/`)."""
    prefix = f"{video_id}/v{version}/"
    expires = int(time.time()) + ttl
    return f"{ROUTE}/{expires}/{_signature(secret, prefix, expires)}/{prefix}"


def verify(secret: str, prefix: str, expires: int, signature: str) -> bool:
    if expires < time.time():
        return False
    return hmac.compare_digest(_signature(secret, prefix, expires), signature)


def media_type(key: str) -> str:
    suffix = key[key.rfind(".") :].lower() if "." in key else ""
    return CONTENT_TYPES.get(suffix) or mimetypes.guess_type(key)[0] or "application/octet-stream"


def playback_router() -> APIRouter:
    router = APIRouter(tags=["media"])

    @router.get(
        ROUTE + "/{expires}/{signature}/{video_id}/{version}/{path:path}",
        summary="A file of a video version (manifest, segment, artwork) through a signed URL",
        responses={403: {"description": "Missing, expired or tampered signature"}},
    )
    async def serve(
        expires: int,
        signature: str,
        video_id: uuid.UUID,
        version: str,
        path: str,
        services: ServicesDep,
        range_header: Annotated[str | None, Header(alias="Range")] = None,
    ) -> Response:
        secret = services.settings.secret_key.get_secret_value()
        prefix = f"{video_id}/{version}/"
        if not _VERSION.match(version) or not verify(secret, prefix, expires, signature[:128]):
            raise HTTPException(403, "invalid or expired signature")
        try:
            key = check_key(f"media/{prefix}{path}")
        except InvalidKey:
            raise HTTPException(404, "no such file") from None
        headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, max-age=300"}
        return await _serve(services.storage, key, headers, range_header, expires)

    @router.get(
        ART_ROUTE + "/{video_id}/{version}/{name}",
        summary="A version's poster or animated preview (public, as catalog posters are)",
        responses={404: {"description": "Not a poster or preview, or not made"}},
    )
    async def artwork(
        video_id: uuid.UUID, version: str, name: str, services: ServicesDep,
        range_header: Annotated[str | None, Header(alias="Range")] = None,
    ) -> Response:  # fmt: skip
        if not _VERSION.match(version) or not _ARTWORK_FILE.match(name):
            raise HTTPException(404, "only a version's posters and previews are public")
        key = f"media/{video_id}/{version}/{name}"
        headers = {"Accept-Ranges": "bytes", "Cache-Control": ART_CACHE}
        expires = int(time.time()) + 3600
        return await _serve(services.storage, key, headers, range_header, expires)

    return router


async def _serve(
    storage: ObjectStorage,
    key: str,
    headers: dict[str, str],
    range_header: str | None,
    expires: int,
) -> Response:
    """The stored file `key`: streamed (with Range) from local storage; on S3 a text file
    passed through, any other redirected to a presigned URL valid until `expires` (an hour
    at most)."""
    kind = media_type(key)
    if not isinstance(storage, LocalStorage):
        if key.endswith(TEXT_SUFFIXES):
            try:
                body = await read_all(storage, key)
            except ObjectNotFound:
                raise HTTPException(404, "no such file") from None
            return Response(body, media_type=kind, headers=headers)
        remaining = max(int(expires - time.time()), 1)
        url = await storage.presigned_url(key, expires_in=min(remaining, 3600))
        return RedirectResponse(url, status_code=302)
    try:
        size = await storage.size(key)
    except ObjectNotFound:
        raise HTTPException(404, "no such file") from None
    return ranged_response(storage, key, size, range_header, kind, headers)
