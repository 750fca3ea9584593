"""What a source file is, from ffprobe's JSON, and whether it is a video we can stream."""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from kinoteka.media.processing.errors import ProbeError
from kinoteka.media.processing.ffmpeg import probe_command, tail_packets_command
from kinoteka.media.processing.runner import capture

# demuxers that read single pictures or text, never a film
_STILL_FORMATS = {"image2", "tty", "gif", "apng", "webp", "svg"}
_STILL_CODECS = {"png", "mjpeg", "bmp", "gif", "webp", "tiff", "ansi", "svg", "jpegls"}
_INTERLACED_FIELD_ORDERS = {"tt", "bb", "tb", "bt"}
# how far before the stated end the truncation check seeks
_TAIL_SECONDS = 3.0

# ffprobe's own words for a few failures, said for an editor
_KNOWN_ERRORS = {
    "moov atom not found": "the file is truncated or not a video: its MP4 index is missing",
    "invalid data found when processing input": "not a video file (ffprobe cannot read it)",
    "end of file": "the file is truncated (it ends before its header says)",
}


@dataclass(frozen=True)
class ProbeResult:
    """A source video as it displays: `width`x`height` after rotation and pixel aspect.

    `rotation` is the display rotation in degrees (0, 90, 180, 270) ffmpeg applies when
    decoding; `duration` is in seconds (the container's: the longest stream);
    `video_duration` is the picture's own length when the file states it (an audio track
    may run on past it); `container` is ffprobe's format name; `interlaced` says the
    pictures are fields to deinterlace (broadcast and DV sources).
    """

    duration: float
    width: int
    height: int
    rotation: int
    fps: float
    has_audio: bool
    video_codec: str
    audio_codec: str | None
    container: str
    size_bytes: int
    interlaced: bool = False
    video_duration: float | None = None

    @property
    def picture_seconds(self) -> float:
        """How long the picture runs: its own length when stated, else the container's."""
        return self.video_duration or self.duration


def _ratio(text: object) -> float:
    try:
        value = Fraction(str(text))
    except (ValueError, ZeroDivisionError):
        return 0.0
    return float(value)


def _float(value: object) -> float:
    try:
        return float(str(value))
    except ValueError:
        return 0.0


def _stream_seconds(stream: dict[str, Any]) -> float | None:
    """A stream's own length: its `duration`, or Matroska's `DURATION` tag (`00:00:20.000…`)."""
    seconds = _float(stream.get("duration"))
    if seconds > 0:
        return seconds
    tag = str(stream.get("tags", {}).get("DURATION", ""))
    hours, _, rest = tag.partition(":")
    minutes, _, secs = rest.partition(":")
    total = _float(hours) * 3600 + _float(minutes) * 60 + _float(secs) if secs else 0.0
    return total if total > 0 else None


def _rotation(stream: dict[str, Any]) -> int:
    degrees = 0.0
    for side in stream.get("side_data_list", []):
        if "rotation" in side:
            degrees = _float(side["rotation"])
    if not degrees:
        degrees = _float(stream.get("tags", {}).get("rotate", 0))
    return int(round(degrees / 90) * 90) % 360


def parse_probe(data: dict[str, Any], size_bytes: int) -> ProbeResult:
    """A `ProbeResult` from ffprobe's `-show_format -show_streams` JSON, or `ProbeError`."""
    fmt = data.get("format", {})
    container = str(fmt.get("format_name", "unknown"))
    streams: list[dict[str, Any]] = data.get("streams", [])
    videos = [
        s
        for s in streams
        if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")
    ]
    audios = [s for s in streams if s.get("codec_type") == "audio"]
    if not videos:
        if audios:
            raise ProbeError("audio only: the file has no video stream")
        raise ProbeError("not a video: the file has no video stream")
    video = videos[0]
    codec = str(video.get("codec_name", "unknown"))
    if container in _STILL_FORMATS or container.endswith("_pipe") or codec in _STILL_CODECS:
        raise ProbeError(f"a still image or text ({container}/{codec}), not a video")
    duration = _float(fmt.get("duration")) or _float(video.get("duration"))
    if duration <= 0:
        raise ProbeError("zero duration: the video has no length")
    width, height = int(video.get("width") or 0), int(video.get("height") or 0)
    if width <= 0 or height <= 0:
        raise ProbeError("the video stream has no picture size")
    sar = _ratio(video.get("sample_aspect_ratio", "1:1").replace(":", "/"))
    if sar > 0 and abs(sar - 1) > 1e-3:
        width = max(2, round(width * sar))
    rotation = _rotation(video)
    if rotation in (90, 270):
        width, height = height, width
    fps = _ratio(video.get("avg_frame_rate")) or _ratio(video.get("r_frame_rate"))
    return ProbeResult(
        duration=duration,
        width=width,
        height=height,
        rotation=rotation,
        fps=fps,
        has_audio=bool(audios),
        video_codec=codec,
        audio_codec=str(audios[0].get("codec_name", "unknown")) if audios else None,
        container=container,
        size_bytes=size_bytes,
        interlaced=str(video.get("field_order", "")) in _INTERLACED_FIELD_ORDERS,
        video_duration=_stream_seconds(video),
    )


def _ffprobe_reason(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    last = lines[-1] if lines else "ffprobe failed"
    for needle, reason in _KNOWN_ERRORS.items():
        if needle in stderr.lower():
            return reason
    return f"not a readable video ({last})"


def probe(path: Path) -> ProbeResult:
    """Describe `path` or raise `ProbeError` with a reason an editor can act on."""
    try:
        size = path.stat().st_size
    except OSError as error:
        raise ProbeError(f"the file cannot be read ({error.strerror})") from error
    if not path.is_file():
        raise ProbeError("not a file")
    if size == 0:
        raise ProbeError("the file is empty (0 bytes)")
    # an absolute path is never read by ffmpeg as a protocol ("concat:…", "http:…")
    path = path.resolve()
    code, out, err = capture(probe_command(path))
    if code != 0:
        raise ProbeError(_ffprobe_reason(err))
    try:
        data = json.loads(out)
    except json.JSONDecodeError as error:
        raise ProbeError("ffprobe answered something that is not JSON") from error
    result = parse_probe(data, size)
    _check_tail(path, result)
    return result


def _check_tail(path: Path, result: ProbeResult) -> None:
    """Raise if the video's last seconds cannot be read although the header promises them."""
    start = max(0.0, result.duration - _TAIL_SECONDS)
    code, out, _ = capture(tail_packets_command(path, start))
    last = 0.0
    if code == 0:
        try:
            packets = json.loads(out).get("packets", [])
        except json.JSONDecodeError:
            packets = []
        last = max((_float(p.get("pts_time")) for p in packets), default=0.0)
    if result.duration - last > max(_TAIL_SECONDS, 0.05 * result.duration):
        raise ProbeError(
            f"the file is truncated: its video stops at {last:.1f} s of the "
            f"{result.duration:.1f} s its header promises"
        )
