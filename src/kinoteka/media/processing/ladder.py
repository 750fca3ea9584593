"""The bitrate ladder: which renditions a source gets, with their sizes and bitrates.

A rung named "720p" is a 1280x720 box turned the way the source is (720x1280 for a
portrait source); the source is scaled to fit that box, keeping its aspect ratio. A rung
applies when the source reaches its box in at least one dimension, so a 1920x804 scope
film is "1080p" and a 1080x1920 phone video is "1080p" too, and nothing is ever
upscaled. A source smaller than every rung gets one rung at its own size. Sizes are even
(4:2:0 needs it), rounded down so a rung never exceeds the source.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kinoteka.media.processing.probe import ProbeResult

DEFAULT_HEIGHTS: tuple[int, ...] = (1080, 720, 480, 360)

# 1080p at 30 fps gets 5 Mb/s; other sizes scale with pixels**0.75 (bits per pixel grow
# as frames shrink, as in Apple's and Netflix's published ladders): 720p ~2.7 Mb/s,
# 480p ~1.5 Mb/s, 360p ~1 Mb/s.
_REFERENCE_KBPS = 5000
_REFERENCE_PIXELS = 1920 * 1080
_HIGH_FPS_FACTOR = 1.5  # more than 30 frames a second need more bits
_MIN_VIDEO_KBPS = 150
_AUDIO_KBPS = 128
_MAXRATE_FACTOR = 1.1  # peaks capped at 110 % of the average (constrained VBR)
_BUFSIZE_FACTOR = 2.0  # a two-second VBV buffer at the average rate


@dataclass(frozen=True)
class LadderRung:
    """One rendition: `name` ("720p") from its box, `width`x`height` the encoded frame size.

    All rungs share one AAC track, encoded at the highest `audio_kbps` of the ladder.
    """

    name: str
    height: int
    width: int
    video_kbps: int
    audio_kbps: int
    maxrate_kbps: int
    bufsize_kbps: int

    @property
    def bandwidth_kbps(self) -> int:
        return self.video_kbps + self.audio_kbps


def even_floor(value: float) -> int:
    """`value` rounded down to an even number, at least 2."""
    return max(2, int(value) // 2 * 2)


def _video_kbps(width: int, height: int, fps: float) -> int:
    kbps = _REFERENCE_KBPS * ((width * height) / _REFERENCE_PIXELS) ** 0.75
    if fps > 31:
        kbps *= _HIGH_FPS_FACTOR
    return max(_MIN_VIDEO_KBPS, int(round(kbps / 50) * 50))


def _rung(name: str, width: int, height: int, fps: float) -> LadderRung:
    video = _video_kbps(width, height, fps)
    return LadderRung(
        name=name,
        height=height,
        width=width,
        video_kbps=video,
        audio_kbps=_AUDIO_KBPS,
        maxrate_kbps=math.ceil(video * _MAXRATE_FACTOR),
        bufsize_kbps=math.ceil(video * _BUFSIZE_FACTOR),
    )


def plan_ladder(source: ProbeResult, heights: Sequence[int] = DEFAULT_HEIGHTS) -> list[LadderRung]:
    """The rungs for `source`, largest first; never upscaled, even sizes, at least one."""
    width, height = source.width, source.height
    if width < 2 or height < 2:
        width, height = max(width, 2), max(height, 2)
    portrait = height > width
    short, long = min(width, height), max(width, height)
    rungs: list[LadderRung] = []
    seen: set[tuple[int, int]] = set()
    for box_short in sorted(set(heights), reverse=True):
        if box_short <= 0:
            continue
        box_long = box_short * 16 / 9
        if short < box_short and long < box_long:
            continue  # the source does not reach this box: it would be upscaled
        scale = min(1.0, box_short / short, box_long / long)
        out_short, out_long = even_floor(short * scale), even_floor(long * scale)
        size = (out_long, out_short)
        if size in seen:
            continue
        seen.add(size)
        out_w, out_h = (out_short, out_long) if portrait else (out_long, out_short)
        rungs.append(_rung(f"{box_short}p", out_w, out_h, source.fps))
    if not rungs:
        out_w, out_h = even_floor(width), even_floor(height)
        rungs.append(_rung(f"{min(out_w, out_h)}p", out_w, out_h, source.fps))
    return rungs
