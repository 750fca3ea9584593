"""Pure builders of the ffprobe/ffmpeg command lines the pipeline runs.

Nothing here touches the disk or starts a process, so every argument list can be tested
as data; `runner.py` runs them. Outputs are relative names: the runner starts ffmpeg in
the directory the outputs go to, which is also what keeps manifest URIs relative.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from kinoteka.media.processing.ladder import LadderRung

FFMPEG = "ffmpeg"
FFPROBE = "ffprobe"

HLS_MASTER = "master.m3u8"
DASH_MANIFEST = "manifest.mpd"
INIT_SEGMENT = "init-$RepresentationID$.$ext$"
MEDIA_SEGMENT = "chunk-$RepresentationID$-$Number%05d$.$ext$"

_BASE = [FFMPEG, "-hide_banner", "-nostdin", "-y", "-v", "error", "-nostats"]
_PROGRESS = ["-progress", "pipe:1"]
_FALLBACK_FPS = 25.0
AUDIO_RATE = 48000
AAC_FRAME_SAMPLES = 1024


def video_input(deinterlace: bool) -> str:
    """The start of a filter graph reading the source's video: interlaced sources are
    deinterlaced first (bwdif, one frame per frame), or every picture shows combing."""
    return "[0:v]bwdif=mode=send_frame," if deinterlace else "[0:v]"


def probe_command(source: Path) -> list[str]:
    """ffprobe describing the container and every stream as JSON."""
    return [
        FFPROBE,
        "-v",
        "error",
        "-print_format",
        "json",
        "-show_format",
        "-show_streams",
        str(source),
    ]


def tail_packets_command(source: Path, start: float) -> list[str]:
    """ffprobe listing the video packets from (the keyframe before) `start` to the end.

    A file whose header promises data there but whose bytes end earlier (an interrupted
    upload) answers with packets that stop short, or none.
    """
    return [
        FFPROBE,
        "-v",
        "error",
        "-select_streams",
        "v:0",
        "-read_intervals",
        f"{start:.3f}%",
        "-show_entries",
        "packet=pts_time",
        "-print_format",
        "json",
        str(source),
    ]


def gop_frames(fps: float, segment_seconds: float) -> int:
    """Frames per closed GOP so every segment starts on a keyframe."""
    rate = fps if 0 < fps <= 240 else _FALLBACK_FPS
    return max(1, math.ceil(rate * segment_seconds))


@dataclass(frozen=True)
class LadderEncoding:
    """Encoder settings shared by the product's render and the benchmark's baseline."""

    segment_seconds: float = 4.0
    preset: str = "veryfast"
    threads: int = 0


def rung_sample_aspect(rungs: Sequence[LadderRung], index: int) -> Fraction:
    """The pixel aspect giving rung `index` exactly the first rung's display aspect.

    Even sizes cannot all keep one aspect (852x480 is not 16:9), and the DASH muxer
    refuses an adaptation set whose representations differ in display aspect, so the
    smaller rungs carry a pixel aspect a hair off square (640:639 for 852x480).
    """
    top, rung = rungs[0], rungs[index]
    return Fraction(top.width, top.height) * Fraction(rung.height, rung.width)


def audio_end(video_seconds: float) -> float:
    """Where the ladder's audio stops: the last whole AAC frame (1024 samples at 48 kHz)
    that ends within the picture.

    Audio running on past the last picture, if only by the AAC encoder's padding, leaves the
    muxer a sliver of an audio segment (a few milliseconds) after the video's last one; hls.js
    buffers nothing of it inside the film's duration, never calls the stream ended, and the
    film stalls a few hundredths of a second before its end without `ended` (issue #16).
    Ending the audio on a whole frame within the picture leaves no such segment; the audio
    lost is less than a frame's 21 ms, or what played over no picture.
    """
    frames = math.floor(video_seconds * AUDIO_RATE / AAC_FRAME_SAMPLES)
    return frames * AAC_FRAME_SAMPLES / AUDIO_RATE


def audio_filter(video_seconds: float) -> str:
    """The audio branch of the ladder's graph: resampled to 48 kHz and ended at
    `audio_end(video_seconds)`, output [a]."""
    return f"[0:a:0]aresample={AUDIO_RATE},atrim=end={audio_end(video_seconds):.6f}[a]"


def ladder_filter(rungs: Sequence[LadderRung], deinterlace: bool = False) -> str:
    """The filter graph decoding once and scaling to every rung: outputs [v0], [v1], …"""
    split = f"{video_input(deinterlace)}split={len(rungs)}" + "".join(
        f"[s{i}]" for i in range(len(rungs))
    )
    scales = []
    for i, rung in enumerate(rungs):
        sar = rung_sample_aspect(rungs, i)
        scales.append(
            f"[s{i}]scale={rung.width}:{rung.height}:flags=bicubic,"
            f"setsar={sar.numerator}/{sar.denominator}:max=100000,format=yuv420p[v{i}]"
        )
    return ";".join([split, *scales])


def ladder_command(
    source: Path,
    rungs: Sequence[LadderRung],
    *,
    fps: float,
    has_audio: bool,
    encoding: LadderEncoding = LadderEncoding(),
    deinterlace: bool = False,
    video_seconds: float | None = None,
) -> list[str]:
    """One ffmpeg that encodes every rung to CMAF segments listed by an MPD and HLS playlists.

    The `dash` muxer with `-hls_playlist 1` writes `manifest.mpd`, `master.m3u8` and one
    media playlist per stream over the same fMP4 segments, so DASH costs no second encode.
    Keyframes are forced on segment boundaries (and scene-cut keyframes are off) so every
    rung cuts its segments at the same instants and players can switch between them.
    Given the picture's length (`video_seconds`), the audio ends with it (`audio_end`).
    """
    seg = encoding.segment_seconds
    gop = gop_frames(fps, seg)
    graph = ladder_filter(rungs, deinterlace)
    audio = "0:a:0"
    if has_audio and video_seconds is not None and audio_end(video_seconds) > 0:
        graph += ";" + audio_filter(video_seconds)
        audio = "[a]"
    cmd = [*_BASE, *_PROGRESS, "-i", str(source), "-filter_complex", graph]
    for i in range(len(rungs)):
        cmd += ["-map", f"[v{i}]"]
    if has_audio:
        cmd += ["-map", audio]
    cmd += [
        "-c:v",
        "libx264",
        "-preset",
        encoding.preset,
        "-profile:v",
        "high",
        "-g",
        str(gop),
        "-keyint_min",
        str(gop),
        "-sc_threshold",
        "0",
        "-force_key_frames",
        f"expr:gte(t,n_forced*{seg:g})",
    ]
    for i, rung in enumerate(rungs):
        cmd += [
            f"-b:v:{i}",
            f"{rung.video_kbps}k",
            f"-maxrate:v:{i}",
            f"{rung.maxrate_kbps}k",
            f"-bufsize:v:{i}",
            f"{rung.bufsize_kbps}k",
        ]
    adaptation_sets = "id=0,streams=v"
    if has_audio:
        audio_kbps = max(rung.audio_kbps for rung in rungs)
        cmd += ["-c:a", "aac", "-b:a", f"{audio_kbps}k", "-ac", "2", "-ar", "48000"]
        adaptation_sets += " id=1,streams=a"
    if encoding.threads > 0:
        cmd += ["-threads", str(encoding.threads)]
    cmd += [
        "-f",
        "dash",
        "-seg_duration",
        f"{seg:g}",
        "-use_template",
        "1",
        "-use_timeline",
        "1",
        "-adaptation_sets",
        adaptation_sets,
        "-dash_segment_type",
        "mp4",
        "-hls_playlist",
        "1",
        "-hls_master_name",
        HLS_MASTER,
        "-init_seg_name",
        INIT_SEGMENT,
        "-media_seg_name",
        MEDIA_SEGMENT,
        DASH_MANIFEST,
    ]
    return cmd


def rate(value: float) -> str:
    """A frame rate (possibly below 1/s) as the exact fraction ffmpeg options accept."""
    fraction = Fraction(value).limit_denominator(1000)
    return f"{fraction.numerator}/{fraction.denominator}"


# --- artwork ---------------------------------------------------------------------------

SPRITE_PATTERN = "sprite-%03d.jpg"
FRAME_STATS = "frame-stats.txt"
PREVIEW_WEBP = "preview.webp"
PREVIEW_GIF = "preview.gif"


@dataclass(frozen=True)
class SpriteLayout:
    """Seek thumbnails: one every `interval` seconds, `width`x`height`, `columns`x`rows`
    to a sheet."""

    interval: float
    width: int
    height: int
    columns: int = 10
    rows: int = 10

    @property
    def per_sheet(self) -> int:
        return self.columns * self.rows


def sprite_command(source: Path, layout: SpriteLayout, deinterlace: bool = False) -> list[str]:
    """One decode of `source` sampling a frame every `layout.interval` seconds into sprite
    sheets, and writing each sample's luma statistics (`signalstats`) to `FRAME_STATS`,
    from which the poster frame is chosen.

    The statistics branch is the first output, so `-progress` follows the decode.
    """
    graph = (
        f"{video_input(deinterlace)}fps={rate(1 / layout.interval)},"
        f"scale={layout.width}:{layout.height}:flags=bilinear,setsar=1,split=2[sheet][probe];"
        f"[sheet]tile={layout.columns}x{layout.rows}[tiles];"
        f"[probe]signalstats,metadata=mode=print:file={FRAME_STATS}[stats]"
    )
    return [
        *_BASE,
        *_PROGRESS,
        "-i",
        str(source),
        "-filter_complex",
        graph,
        "-map",
        "[stats]",
        "-f",
        "null",
        "-",
        "-map",
        "[tiles]",
        "-q:v",
        "5",
        "-start_number",
        "1",
        SPRITE_PATTERN,
    ]


@dataclass(frozen=True)
class ImageSize:
    """An output picture: `name` is its role ("list", "detail"), sizes are even pixels."""

    name: str
    width: int
    height: int


def poster_files(size: ImageSize) -> tuple[str, str]:
    """The WebP and JPEG file names of one poster size."""
    return f"poster-{size.name}.webp", f"poster-{size.name}.jpg"


def poster_command(
    source: Path, at: float, sizes: Sequence[ImageSize], deinterlace: bool = False
) -> list[str]:
    """The frame at `at` seconds as a WebP and a JPEG fallback at every size in `sizes`."""
    count = len(sizes)
    graph = [f"{video_input(deinterlace)}split={count}" + "".join(f"[p{i}]" for i in range(count))]
    for i, size in enumerate(sizes):
        graph.append(
            f"[p{i}]scale={size.width}:{size.height}:flags=lanczos,setsar=1,split=2[w{i}][j{i}]"
        )
    cmd = [*_BASE, *_PROGRESS, "-ss", f"{at:.3f}", "-i", str(source)]
    cmd += ["-filter_complex", ";".join(graph)]
    for i, size in enumerate(sizes):
        webp, jpeg = poster_files(size)
        cmd += ["-map", f"[w{i}]", "-frames:v", "1", "-c:v", "libwebp", "-quality", "80"]
        cmd += ["-compression_level", "6", webp]
        cmd += ["-map", f"[j{i}]", "-frames:v", "1", "-c:v", "mjpeg", "-q:v", "3", jpeg]
    return cmd


def preview_command(
    source: Path,
    start: float,
    seconds: float,
    size: ImageSize,
    fps: int = 10,
    deinterlace: bool = False,
) -> list[str]:
    """A looping animated WebP and GIF of `seconds` from `start`; the GIF gets a palette
    computed from its own frames (palettegen/paletteuse) instead of the generic one."""
    graph = (
        f"{video_input(deinterlace)}fps={fps},scale={size.width}:{size.height}:flags=lanczos,setsar=1,"
        "split=3[webp][gif][palette_in];"
        "[palette_in]palettegen=stats_mode=diff[palette];"
        "[gif][palette]paletteuse=dither=bayer:bayer_scale=5:diff_mode=rectangle[gifout]"
    )
    cmd = [*_BASE, *_PROGRESS, "-ss", f"{start:.3f}", "-t", f"{seconds:.3f}", "-i", str(source)]
    cmd += ["-filter_complex", graph]
    cmd += ["-map", "[webp]", "-c:v", "libwebp_anim", "-quality", "70", "-loop", "0"]
    cmd += [PREVIEW_WEBP]
    cmd += ["-map", "[gifout]", "-c:v", "gif", "-loop", "0", PREVIEW_GIF]
    return cmd
