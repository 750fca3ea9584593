"""Pictures of a video: poster (away from black and fades), seek sprites + WebVTT, previews.

Three ffmpeg runs: one decode samples a frame every few seconds into sprite sheets and
measures each sample's luma; the poster is taken at the best-exposed, most detailed sample
(a fade or a black frame scores low); the animated previews start there.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kinoteka.media.processing.errors import MediaError
from kinoteka.media.processing.ffmpeg import (
    FRAME_STATS,
    PREVIEW_GIF,
    PREVIEW_WEBP,
    SPRITE_PATTERN,
    ImageSize,
    SpriteLayout,
    poster_command,
    poster_files,
    preview_command,
    sprite_command,
)
from kinoteka.media.processing.ladder import even_floor
from kinoteka.media.processing.probe import ProbeResult
from kinoteka.media.processing.runner import ProgressCallback, run_ffmpeg
from kinoteka.media.processing.staging import new_scratch, publish

SPRITE_VTT = "sprite.vtt"
POSTER_WIDTHS = {"list": 320, "detail": 1280}
SPRITE_THUMB_WIDTH = 160
PREVIEW_WIDTH = 320
PREVIEW_SECONDS = 3.0
# a thumbnail every duration/100 s, between 1 s (short clips) and 10 s (a feature film)
_SPRITE_TARGET_COUNT = 100
_SPRITE_MIN_INTERVAL = 1.0
_SPRITE_MAX_INTERVAL = 10.0
# luma (0-255) outside which a frame is too dark or too washed out to be a poster
_DARK_LUMA = 40.0
_BRIGHT_LUMA = 215.0
# share of the duration at each end (titles, credits, fades) a poster avoids when it can
_EDGE_SHARE = 0.05
# relative weight of the three runs in the progress reported
_WEIGHTS = (0.8, 0.05, 0.15)


@dataclass(frozen=True)
class Artwork:
    """Files written by `make_artwork`, relative to its `out_dir`.

    `poster` maps "<size>.<format>" ("list.webp", "list.jpg", "detail.webp",
    "detail.jpg") to a file; list is 320 px wide, detail 1280 (never upscaled).
    `sprite` is the first sprite sheet and `sprite_sheets` all of them, in order;
    `sprite_vtt` maps time ranges to `sprite-NNN.jpg#xywh=x,y,w,h` over the whole video.
    """

    poster: dict[str, str]
    sprite: str
    sprite_vtt: str
    preview_webp: str
    preview_gif: str
    sprite_sheets: list[str] = field(default_factory=list)
    poster_time: float = 0.0


@dataclass(frozen=True)
class FrameStats:
    """Luma statistics of one sampled frame, from ffmpeg's `signalstats`."""

    time: float
    average: float
    low: float
    high: float


def parse_frame_stats(text: str) -> list[FrameStats]:
    """Read the `metadata=mode=print` output: a `frame:… pts_time:T` line, then `key=value`."""
    frames: list[FrameStats] = []
    current: dict[str, float] | None = None
    time = 0.0

    def flush() -> None:
        if current is not None:
            frames.append(
                FrameStats(
                    time=time,
                    average=current.get("YAVG", 0.0),
                    low=current.get("YLOW", 0.0),
                    high=current.get("YHIGH", 0.0),
                )
            )

    for line in text.splitlines():
        if line.startswith("frame:"):
            flush()
            current = {}
            for part in line.split():
                if part.startswith("pts_time:"):
                    time = float(part.removeprefix("pts_time:"))
        elif current is not None and line.startswith("lavfi.signalstats."):
            key, _, value = line.removeprefix("lavfi.signalstats.").partition("=")
            try:
                current[key] = float(value)
            except ValueError:
                continue
    flush()
    return frames


def choose_poster_time(frames: Sequence[FrameStats], duration: float) -> float:
    """The time of the best poster candidate: well exposed, most contrast, not at an edge."""
    if not frames:
        return min(duration / 3, max(duration - 0.1, 0.0))

    def exposed(frame: FrameStats) -> bool:
        return _DARK_LUMA <= frame.average <= _BRIGHT_LUMA

    edge = duration * _EDGE_SHARE
    inner = [f for f in frames if edge <= f.time <= duration - edge]
    for pool in ([f for f in inner if exposed(f)], [f for f in frames if exposed(f)]):
        if pool:
            return max(pool, key=lambda f: (f.high - f.low, -abs(f.time - duration / 3))).time
    # every sample is dark or washed out: the brightest-detailed one is still the best
    return max(frames, key=lambda f: (f.high - f.low, f.average)).time


def sprite_layout(probe: ProbeResult) -> SpriteLayout:
    """One thumbnail every duration/100 s (1 to 10 s), 160 px wide keeping the aspect."""
    interval = probe.duration / _SPRITE_TARGET_COUNT
    interval = min(_SPRITE_MAX_INTERVAL, max(_SPRITE_MIN_INTERVAL, interval))
    width = min(SPRITE_THUMB_WIDTH, even_floor(probe.width))
    return SpriteLayout(
        interval=interval, width=width, height=even_floor(width * probe.height / probe.width)
    )


def _fit_width(probe: ProbeResult, name: str, target: int) -> ImageSize:
    width = min(target, even_floor(probe.width))
    return ImageSize(name, width, even_floor(width * probe.height / probe.width))


def _timestamp(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def sprite_vtt(times: Sequence[float], layout: SpriteLayout, duration: float) -> str:
    """WebVTT cues covering [0, duration): thumbnail i shows from its time to the next's."""
    lines = ["WEBVTT", ""]
    for index, start in enumerate(times):
        begin = 0.0 if index == 0 else start
        end = times[index + 1] if index + 1 < len(times) else duration
        end = min(end, duration)
        if end <= begin:
            continue
        sheet, cell = divmod(index, layout.per_sheet)
        row, column = divmod(cell, layout.columns)
        name = SPRITE_PATTERN % (sheet + 1)
        x, y = column * layout.width, row * layout.height
        lines += [
            f"{_timestamp(begin)} --> {_timestamp(end)}",
            f"{name}#xywh={x},{y},{layout.width},{layout.height}",
            "",
        ]
    return "\n".join(lines)


class _Steps:
    """Maps each run's own 0..1 progress onto its share of the whole."""

    def __init__(self, on_progress: ProgressCallback | None) -> None:
        self.on_progress = on_progress
        self.done = 0.0

    def step(self, weight: float) -> ProgressCallback | None:
        if self.on_progress is None:
            return None
        start, report = self.done, self.on_progress
        self.done = min(1.0, self.done + weight)
        total = self.done

        def forward(fraction: float) -> None:
            report(1.0 if total >= 1.0 and fraction >= 1.0 else start + weight * fraction)

        return forward


def make_artwork(
    source: Path,
    out_dir: Path,
    probe: ProbeResult,
    *,
    on_progress: ProgressCallback | None = None,
) -> Artwork:
    """Write the poster, sprite sheets with their WebVTT and the previews into `out_dir`.

    `on_progress` receives increasing fractions ending with 1.0; raising from it cancels.
    On failure nothing this call wrote remains in `out_dir`.
    """
    source = source.resolve()
    scratch = new_scratch(out_dir, "artwork")
    steps = _Steps(on_progress)
    layout = sprite_layout(probe)
    sprite_weight, poster_weight, preview_weight = _WEIGHTS
    run_ffmpeg(
        sprite_command(source, layout, probe.interlaced),
        cwd=scratch,
        duration=probe.duration,
        on_progress=steps.step(sprite_weight),
        scratch=scratch,
    )
    stats_file = scratch / FRAME_STATS
    try:
        frames = parse_frame_stats(stats_file.read_text(errors="replace"))
        stats_file.unlink()
    except BaseException:
        _discard(scratch)
        raise
    sheets = sorted(p.name for p in scratch.glob("sprite-*.jpg"))
    if not frames or not sheets:
        _discard(scratch)
        raise MediaError("no frame could be decoded for the seek thumbnails")
    expected = math.ceil(len(frames) / layout.per_sheet)
    if len(sheets) != expected:
        _discard(scratch)
        raise MediaError(f"ffmpeg wrote {len(sheets)} sprite sheets, {expected} expected")
    (scratch / SPRITE_VTT).write_text(
        sprite_vtt([f.time for f in frames], layout, probe.duration), encoding="utf-8"
    )

    poster_time = choose_poster_time(frames, probe.duration)
    sizes = [_fit_width(probe, name, width) for name, width in POSTER_WIDTHS.items()]
    run_ffmpeg(
        poster_command(source, poster_time, sizes, probe.interlaced),
        cwd=scratch,
        duration=1.0,
        on_progress=steps.step(poster_weight),
        scratch=scratch,
    )
    seconds = min(PREVIEW_SECONDS, probe.duration)
    start = max(0.0, min(poster_time, probe.duration - seconds))
    run_ffmpeg(
        preview_command(
            source,
            start,
            seconds,
            _fit_width(probe, "preview", PREVIEW_WIDTH),
            deinterlace=probe.interlaced,
        ),
        cwd=scratch,
        duration=seconds,
        on_progress=steps.step(preview_weight),
        scratch=scratch,
    )
    poster: dict[str, str] = {}
    for size in sizes:
        webp, jpeg = poster_files(size)
        poster[f"{size.name}.webp"], poster[f"{size.name}.jpg"] = webp, jpeg
    publish(scratch, out_dir)
    return Artwork(
        poster=poster,
        sprite=sheets[0],
        sprite_vtt=SPRITE_VTT,
        preview_webp=PREVIEW_WEBP,
        preview_gif=PREVIEW_GIF,
        sprite_sheets=sheets,
        poster_time=poster_time,
    )


def _discard(scratch: Path) -> None:
    shutil.rmtree(scratch, ignore_errors=True)
