"""The ladder render: one ffmpeg pass from a source to CMAF segments with HLS and DASH."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kinoteka.media.processing.errors import MediaError
from kinoteka.media.processing.ffmpeg import (
    DASH_MANIFEST,
    HLS_MASTER,
    LadderEncoding,
    ladder_command,
)
from kinoteka.media.processing.ladder import LadderRung
from kinoteka.media.processing.probe import ProbeResult
from kinoteka.media.processing.runner import ProgressCallback, run_ffmpeg
from kinoteka.media.processing.staging import new_scratch, publish


@dataclass(frozen=True)
class Rendition:
    """What `render` wrote: manifests and every file, as paths relative to `out_dir`."""

    rungs: list[LadderRung]
    duration: float
    hls_master: str
    dash_manifest: str
    files: list[Path]


def render(
    source: Path,
    out_dir: Path,
    probe: ProbeResult,
    rungs: Sequence[LadderRung],
    *,
    segment_seconds: float = 4.0,
    preset: str = "veryfast",
    on_progress: ProgressCallback | None = None,
    threads: int = 0,
) -> Rendition:
    """Encode every rung of `rungs` from `source` in one ffmpeg process into `out_dir`.

    `on_progress` receives increasing fractions ending with 1.0; raising from it cancels
    the render. On failure or cancellation nothing this call wrote remains in `out_dir`.
    """
    if not rungs:
        raise MediaError("no rungs to render")
    if segment_seconds <= 0:
        raise MediaError("segment length must be positive")
    scratch = new_scratch(out_dir, "render")
    encoding = LadderEncoding(segment_seconds=segment_seconds, preset=preset, threads=threads)
    cmd = ladder_command(
        source.resolve(),
        rungs,
        fps=probe.fps,
        has_audio=probe.has_audio,
        encoding=encoding,
        deinterlace=probe.interlaced,
        video_seconds=probe.picture_seconds,
    )
    run_ffmpeg(cmd, cwd=scratch, duration=probe.duration, on_progress=on_progress, scratch=scratch)
    files = publish(scratch, out_dir)
    return Rendition(
        rungs=list(rungs),
        duration=probe.duration,
        hls_master=HLS_MASTER,
        dash_manifest=DASH_MANIFEST,
        files=files,
    )
