"""A film's video as the media context will serve it, made here with ffmpeg: an HLS + DASH
ladder (fMP4, two rungs), a sprite sheet with its WebVTT, an animated preview, and the
stream endpoint (`GET /api/v1/films/{id}/stream`) answering their URLs to token holders."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Header, HTTPException, Request
from fastapi.staticfiles import StaticFiles

from kinoteka import auth
from kinoteka.media.processing.ffmpeg import audio_end

SECONDS = 20
TILE_SECONDS = 2
TILE = (160, 90)
COLUMNS = 5
MEDIA_PATH = "/test-media"


def ladder_command(out: Path) -> list[str]:
    return [
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
        "-t", str(SECONDS),
        "-map", "0:v", "-map", "0:v", "-map", "1:a",
        "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
        "-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
        "-b:v:0", "800k", "-s:v:0", "640x360", "-b:v:1", "150k", "-s:v:1", "320x180",
        # the audio ends with the picture, as the media context's ladder ends it
        "-af", f"aresample=48000,atrim=end={audio_end(SECONDS):.6f}",
        "-c:a", "aac", "-b:a", "64k",
        "-f", "dash", "-seg_duration", "1", "-use_template", "1", "-use_timeline", "0",
        "-hls_playlist", "1", "-adaptation_sets", "id=0,streams=v id=1,streams=a",
        str(out / "manifest.mpd"),
    ]  # fmt: skip


def artwork_commands(out: Path) -> list[list[str]]:
    source = ["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-t", str(SECONDS)]
    quiet = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y"]
    rows = -(-SECONDS // TILE_SECONDS // COLUMNS)
    return [
        [*quiet, *source, "-vf",
         f"fps=1/{TILE_SECONDS},scale={TILE[0]}:{TILE[1]},tile={COLUMNS}x{rows}",
         "-frames:v", "1", str(out / "sprite.jpg")],
        [*quiet, *source, "-frames:v", "1", str(out / "poster.jpg")],
        [*quiet, *source[:4], "-t", "3", "-vf", "fps=5,scale=200:-1", "-loop", "0",
         str(out / "preview.gif")],
    ]  # fmt: skip


def vtt_clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}.000"


def sprite_vtt() -> str:
    lines = ["WEBVTT", ""]
    for index, start in enumerate(range(0, SECONDS, TILE_SECONDS)):
        x, y = (index % COLUMNS) * TILE[0], (index // COLUMNS) * TILE[1]
        lines += [
            f"{vtt_clock(start)} --> {vtt_clock(start + TILE_SECONDS)}",
            f"sprite.jpg#xywh={x},{y},{TILE[0]},{TILE[1]}",
            "",
        ]
    return "\n".join(lines)


def make_stream(out: Path) -> Path:
    """Render the clip's ladder and artwork into `out` (a few seconds on two cores)."""
    if shutil.which("ffmpeg") is None:
        raise RuntimeError("ffmpeg is missing: run `make system-packages`")
    out.mkdir(parents=True, exist_ok=True)
    for command in [ladder_command(out), *artwork_commands(out)]:
        subprocess.run(command, check=True, timeout=120)
    (out / "sprite.vtt").write_text(sprite_vtt())
    return out


def install_media(app: FastAPI, root: Path, film_ids: set[str]) -> None:
    """The media context's stream endpoint and files, for the films in `film_ids`."""
    router = APIRouter()

    @router.get("/api/v1/films/{film_id}/stream")
    async def stream(
        film_id: str, request: Request, authorization: Annotated[str, Header()] = ""
    ) -> dict[str, Any]:
        services = request.app.state.services
        await auth.check_access_token(
            auth.get_auth_kit(services), authorization.removeprefix("Bearer ")
        )
        if film_id not in film_ids:
            raise HTTPException(404, "no video for this film")
        # The media context's answer (kinoteka.media.schemas.Stream), field for field.
        return {
            "film_id": film_id,
            "video_id": str(uuid.uuid5(uuid.NAMESPACE_URL, film_id)),
            "duration": float(SECONDS),
            "qualities": ["360p", "180p"],
            "hls": f"{MEDIA_PATH}/master.m3u8",
            "dash": f"{MEDIA_PATH}/manifest.mpd",
            "poster": {"jpeg": f"{MEDIA_PATH}/poster.jpg"},
            "sprite_vtt": f"{MEDIA_PATH}/sprite.vtt",
            "preview_webp": None,
            "preview_gif": f"{MEDIA_PATH}/preview.gif",
            "expires_at": (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat(),
        }

    app.include_router(router)
    app.mount(MEDIA_PATH, StaticFiles(directory=root), name="test_media")
