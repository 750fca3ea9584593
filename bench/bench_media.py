"""Media pipeline: the product's one-pass ladder render beside the bare ffmpeg doing the same.

On a generated 1080p clip (30 s, `KINOTEKA_BENCH_MEDIA_SECONDS` to change), each round runs,
interleaved so a busy minute hits all alike:
- bare: the very command line `render` builds, run by `subprocess.run` with no progress
  parsing, scratch directory or publishing (goal: render <= 1.05x its wall time);
- render: `kinoteka.media.processing.render`, the product;
- separate: one ffmpeg per rung, each decoding the source again, with the same encoder
  settings (the design one pass replaces; its ratio is reported).
Figures are medians over `KINOTEKA_BENCH_MEDIA_ROUNDS` rounds (3) of wall time, and of CPU
time (this process plus its ffmpeg children), which other load on a shared machine moves
far less. The clip is generated before any timing. Then the service's figures
(`bench.media_service`): tus upload throughput and upload -> first rung playable.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench import media_service
from kinoteka.media.processing import (
    LadderRung,
    ProbeResult,
    make_artwork,
    plan_ladder,
    probe,
    render,
)
from kinoteka.media.processing.ffmpeg import LadderEncoding, ladder_command

SECONDS = float(os.environ.get("KINOTEKA_BENCH_MEDIA_SECONDS", "30"))
ROUNDS = int(os.environ.get("KINOTEKA_BENCH_MEDIA_ROUNDS", "3"))
PRESET = "veryfast"
SEGMENT_SECONDS = 4.0

Report = Callable[[str], None]
# Hook for the media service's figures (upload throughput against a plain copy, upload
# complete -> first rung playable): each is called as figure(report, clip) after ours,
# with the same generated clip.


class Timed:
    """Wall and CPU seconds (this process and its waited-for children) of a block."""

    def __enter__(self) -> Timed:
        self._wall = time.perf_counter()
        self._cpu = self._cpu_now()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = self._cpu_now() - self._cpu

    @staticmethod
    def _cpu_now() -> float:
        total = 0.0
        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
            usage = resource.getrusage(who)
            total += usage.ru_utime + usage.ru_stime
        return total


def _generate_clip(path: Path, seconds: float) -> None:
    """A 1080p25 clip with motion and stereo audio, encoded at a high quality."""
    cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y"]
    cmd += ["-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=25:duration={seconds}"]
    cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]
    cmd += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p"]
    cmd += ["-c:a", "aac", "-b:a", "192k", "-ac", "2", str(path)]
    subprocess.run(cmd, check=True, timeout=600)


def _fresh(directory: Path) -> Path:
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


def _bare(clip: Path, info: ProbeResult, rungs: list[LadderRung], out: Path) -> Timed:
    encoding = LadderEncoding(segment_seconds=SEGMENT_SECONDS, preset=PRESET)
    cmd = ladder_command(clip, rungs, fps=info.fps, has_audio=info.has_audio, encoding=encoding,
                         video_seconds=info.picture_seconds)  # fmt: skip
    cmd = [arg for arg in cmd if arg not in ("-progress", "pipe:1")]
    with Timed() as timed:
        subprocess.run(cmd, cwd=out, check=True, stdout=subprocess.DEVNULL, timeout=3600)
    return timed


def _product(clip: Path, info: ProbeResult, out: Path) -> Timed:
    with Timed() as timed:
        rungs = plan_ladder(info)
        render(clip, out, info, rungs, segment_seconds=SEGMENT_SECONDS, preset=PRESET)
    return timed


def _separate(clip: Path, info: ProbeResult, rungs: list[LadderRung], out: Path) -> Timed:
    """One ffmpeg per rung; the audio is encoded once, with the first."""
    encoding = LadderEncoding(segment_seconds=SEGMENT_SECONDS, preset=PRESET)
    with Timed() as timed:
        for index, rung in enumerate(rungs):
            target = _fresh(out / rung.name)
            has_audio = info.has_audio and index == 0
            cmd = ladder_command(clip, [rung], fps=info.fps, has_audio=has_audio, encoding=encoding,
                                 video_seconds=info.picture_seconds)  # fmt: skip
            cmd = [arg for arg in cmd if arg not in ("-progress", "pipe:1")]
            subprocess.run(cmd, cwd=target, check=True, stdout=subprocess.DEVNULL, timeout=3600)
    return timed


def run(report: Report) -> None:
    with tempfile.TemporaryDirectory(prefix="kinoteka-bench-media-") as tmp:
        work = Path(tmp)
        clip = work / "clip-1080p.mp4"
        _generate_clip(clip, SECONDS)
        info = probe(clip)
        rungs = plan_ladder(info)
        report(
            f"clip: {info.width}x{info.height} {info.duration:.0f} s; ladder "
            f"{', '.join(r.name for r in rungs)}; x264 {PRESET}, {SEGMENT_SECONDS:g} s segments"
        )
        rounds: list[tuple[Timed, Timed, Timed]] = []
        for _ in range(ROUNDS):
            rounds.append(
                (
                    _bare(clip, info, rungs, _fresh(work / "bare")),
                    _product(clip, info, _fresh(work / "product")),
                    _separate(clip, info, rungs, _fresh(work / "separate")),
                )
            )
        wall = [statistics.median(r[i].wall for r in rounds) for i in range(3)]
        cpu = [statistics.median(r[i].cpu for r in rounds) for i in range(3)]
        (b, p, s), (bc, pc, sc) = wall, cpu
        report(
            f"render (one pass, {len(rungs)} rungs): {p:.2f} s wall, {pc:.1f} s CPU, "
            f"{info.duration / p:.2f}x realtime"
        )
        report(
            f"  vs bare one-pass ffmpeg ({b:.2f} s wall, {bc:.1f} s CPU): ratio {p / b:.3f}x "
            f"wall (goal <= 1.05x), {pc / bc:.3f}x CPU"
        )
        report(
            f"  vs {len(rungs)} separate ffmpeg processes ({s:.2f} s wall, {sc:.1f} s CPU): "
            f"ratio {p / s:.2f}x wall, {pc / sc:.2f}x CPU"
        )
        with Timed() as artwork:
            make_artwork(clip, _fresh(work / "artwork"), info)
        report(
            f"artwork (poster, sprites + VTT, previews): {artwork.wall:.2f} s wall, "
            f"{artwork.cpu:.1f} s CPU, {info.duration / artwork.wall:.1f}x realtime"
        )
        media_service.run(report, clip)
