"""Short test clips generated with ffmpeg's lavfi sources, never committed.

`make_clip` writes one clip; `ClipCache` memoises clips by their parameters inside one
directory so a session-scoped fixture generates each clip once. Clips are encoded with
`-preset ultrafast` so generating them stays cheap on a shared 2-core machine.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

FFMPEG = shutil.which("ffmpeg")
FFPROBE = shutil.which("ffprobe")

requires_ffmpeg = pytest.mark.skipif(
    FFMPEG is None or FFPROBE is None,
    reason="ffmpeg/ffprobe not on PATH: run `make system-packages` (scripts/system-packages.sh)",
)


@dataclass(frozen=True)
class ClipSpec:
    """What a generated clip looks like: its stored size, length and streams."""

    width: int = 640
    height: int = 360
    seconds: float = 2.0
    fps: int = 25
    audio: bool = True
    video: bool = True
    rotate: int = 0  # display rotation written as container metadata (0, 90, 180, 270)
    container: str = "mp4"
    # a dark opening (fade from black) so poster selection has black frames to avoid
    fade_in_seconds: float = 0.0
    # fields from two instants woven into each frame (top first), as broadcast sources are
    interlaced: bool = False
    # the tone's sample rate: 44.1 kHz (CD rate, common in uploads) is resampled by the ladder
    audio_rate: int = 48000

    @property
    def name(self) -> str:
        streams = ("v" if self.video else "") + ("a" if self.audio else "")
        return (
            f"{self.width}x{self.height}-{self.seconds:g}s-{self.fps}fps-{streams}"
            f"-r{self.rotate}-f{self.fade_in_seconds:g}{'-i' if self.interlaced else ''}"
            f"{'' if self.audio_rate == 48000 else f'-{self.audio_rate}hz'}.{self.container}"
        )


def clip_command(spec: ClipSpec, out: Path) -> list[str]:
    """The ffmpeg command line that generates `spec` into `out`."""
    cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y"]
    # 4:2:0 needs even dimensions: an odd-sized clip is stored as 4:4:4 from `testsrc`
    # (`testsrc2` rounds its size down to even)
    odd = spec.width % 2 or spec.height % 2
    if spec.video:
        source = "testsrc" if odd else "testsrc2"
        size = f"{spec.width}x{spec.height}"
        fields = 2 if spec.interlaced else 1
        lavfi = f"{source}=size={size}:rate={spec.fps * fields}:duration={spec.seconds}"
        if spec.interlaced:
            lavfi += ",tinterlace=mode=interleave_top"
        cmd += ["-f", "lavfi", "-i", lavfi]
    if spec.audio:
        tone = f"sine=frequency=440:sample_rate={spec.audio_rate}:duration={spec.seconds}"
        cmd += ["-f", "lavfi", "-i", tone]
    if spec.video:
        if spec.fade_in_seconds:
            cmd += ["-vf", f"fade=t=in:st=0:d={spec.fade_in_seconds}"]
        pix_fmt = "yuv444p" if odd else "yuv420p"
        cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", pix_fmt]
        if spec.interlaced:
            cmd += ["-flags", "+ilme+ildct", "-top", "1"]
    if spec.audio:
        cmd += ["-c:a", "aac", "-b:a", "96k"]
    cmd += ["-t", f"{spec.seconds}", str(out)]
    return cmd


def make_clip(out: Path, spec: ClipSpec | None = None) -> Path:
    """Generate the clip described by `spec` (a 2 s 640x360 clip with audio by default)."""
    spec = spec or ClipSpec()
    if not spec.rotate:
        subprocess.run(clip_command(spec, out), check=True, capture_output=True, timeout=120)
        return out
    # ffmpeg 5.1 keeps a rotate tag only on a stream copy, so rotation is a second, cheap pass
    upright = out.with_name(f".upright-{out.name}")
    subprocess.run(clip_command(spec, upright), check=True, capture_output=True, timeout=120)
    rotate = ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y", "-i", str(upright)]
    rotate += ["-map", "0", "-c", "copy", "-metadata:s:v:0", f"rotate={spec.rotate}", str(out)]
    subprocess.run(rotate, check=True, capture_output=True, timeout=120)
    upright.unlink()
    return out


class ClipCache:
    """Clips generated on first request and reused afterwards, all inside `directory`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)

    def get(self, spec: ClipSpec | None = None, **fields: object) -> Path:
        """The clip for `spec` (or `ClipSpec(**fields)`), generated if missing."""
        spec = spec or ClipSpec(**fields)  # type: ignore[arg-type]
        path = self.directory / spec.name
        if not path.exists():
            partial = path.with_name(f".partial-{spec.name}")
            make_clip(partial, spec)
            partial.rename(path)
        return path


def truncated_copy(source: Path, out: Path, keep: float = 0.5) -> Path:
    """A copy of `source` cut after `keep` of its bytes, like an interrupted upload."""
    data = source.read_bytes()
    out.write_bytes(data[: int(len(data) * keep)])
    return out
