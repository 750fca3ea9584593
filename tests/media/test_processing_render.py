"""render(): one ffmpeg pass to CMAF segments behind an HLS master and a DASH MPD."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import m3u8
import psutil
import pytest
from mpegdash.parser import MPEGDASHParser

from kinoteka.media.processing import (
    LadderRung,
    MediaError,
    Rendition,
    plan_ladder,
    probe,
    remove_partial_outputs,
    render,
)
from tests.media.clips import ClipCache, ClipSpec, requires_ffmpeg

pytestmark = requires_ffmpeg

SEGMENT = 1.0  # short segments so 2-3 s clips still have several


def ffmpeg_children() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if p.name() == "ffmpeg"]


def media_duration(path: Path) -> float:
    """Duration ffprobe reads by playing a media playlist: init + every segment."""
    cmd = ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json"]
    done = subprocess.run([*cmd, str(path)], check=True, capture_output=True, timeout=60)
    return float(json.loads(done.stdout)["format"]["duration"])


def decodes_cleanly(path: Path) -> str:
    """ffmpeg's error output when decoding every frame of `path` ("" when clean)."""
    cmd = ["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-f", "null", "-"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    return done.stderr if done.returncode else done.stderr.strip()


def interlace_detection(path: Path) -> dict[str, int]:
    """ffmpeg's `idet` verdict over every frame: counts of TFF, BFF and Progressive frames."""
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-i", str(path), "-vf", "idet", "-f", "null"]
    done = subprocess.run([*cmd, "-"], capture_output=True, text=True, timeout=120, check=True)
    line = next(x for x in done.stderr.splitlines() if "Multi frame detection" in x)
    words = line.split("detection:")[1].replace(":", " ").split()
    return {key: int(value) for key, value in zip(words[::2], words[1::2], strict=True)}


def uri(entry: str | None) -> str:
    """A playlist entry's file, which every entry of a rendition's playlists names."""
    assert entry is not None, "a playlist entry without a URI"
    return entry


def check_rendition(out: Path, rendition: Rendition, duration: float, has_audio: bool) -> None:
    files = {str(p) for p in rendition.files}
    assert rendition.hls_master in files
    assert rendition.dash_manifest in files
    assert all((out / f).is_file() for f in files)
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "no scratch left"

    master = m3u8.load(str(out / rendition.hls_master))
    assert master.is_variant
    resolutions = [p.stream_info.resolution for p in master.playlists]
    assert resolutions == [(r.width, r.height) for r in rendition.rungs]
    audio_groups = [m for m in master.media if m.type == "AUDIO"]
    assert len(audio_groups) == (1 if has_audio else 0)

    playlists = [uri(p.uri) for p in master.playlists] + [uri(m.uri) for m in audio_groups]
    hls_segments: set[str] = set()
    for playlist in playlists:
        assert "/" not in playlist, "relative URIs only"
        media = m3u8.load(str(out / playlist))
        assert media.is_endlist
        assert media.segment_map, "fMP4 init segment"
        names = [uri(media.segment_map[0].uri), *(uri(s.uri) for s in media.segments)]
        assert all("/" not in name and ":" not in name for name in names)
        hls_segments.update(names)
        # init + segments decode, and last as long as the source within one segment
        assert decodes_cleanly(out / playlist) == ""
        assert media_duration(out / playlist) == pytest.approx(duration, abs=SEGMENT)

    mpd = MPEGDASHParser.parse(str(out / rendition.dash_manifest))
    assert mpd.type == "static"
    period = mpd.periods[0]
    kinds = [a.content_type for a in period.adaptation_sets]
    assert kinds == (["video", "audio"] if has_audio else ["video"])
    video = period.adaptation_sets[0]
    assert [(r.width, r.height) for r in video.representations] == [
        (r.width, r.height) for r in rendition.rungs
    ]
    dash_segments: set[str] = set()
    for adaptation in period.adaptation_sets:
        for rep in adaptation.representations:
            template = rep.segment_templates[0]
            dash_segments.add(template.initialization.replace("$RepresentationID$", rep.id))
            number = int(template.start_number)
            for entry in template.segment_timelines[0].Ss:
                for _ in range(1 + int(entry.r or 0)):
                    name = template.media.replace("$RepresentationID$", rep.id)
                    dash_segments.add(name.replace("$Number%05d$", f"{number:05d}"))
                    number += 1
    assert dash_segments == hls_segments, "HLS and DASH share one set of segments"
    assert hls_segments <= files


@pytest.mark.parametrize(
    ("spec", "names", "top"),
    [
        (ClipSpec(width=1920, height=1080), ["1080p", "720p", "480p", "360p"], (1920, 1080)),
        (ClipSpec(width=1280, height=720), ["720p", "480p", "360p"], (1280, 720)),
        # stored landscape with a rotation: rendered upright, as a portrait ladder
        (ClipSpec(width=1280, height=720, rotate=90), ["720p", "480p", "360p"], (720, 1280)),
        # odd-sized and silent
        (ClipSpec(width=301, height=201, audio=False, seconds=3.0), ["200p"], (300, 200)),
        # interlaced fields come out as progressive frames
        (ClipSpec(width=640, height=360, interlaced=True), ["360p"], (640, 360)),
    ],
    ids=["1080p", "720p", "portrait", "odd-silent", "interlaced"],
)
def test_render_ladder(
    clip_cache: ClipCache,
    tmp_path: Path,
    spec: ClipSpec,
    names: list[str],
    top: tuple[int, int],
) -> None:
    source = clip_cache.get(spec)
    info = probe(source)
    assert info.interlaced is spec.interlaced
    rungs = plan_ladder(info)
    assert [r.name for r in rungs] == names
    assert (rungs[0].width, rungs[0].height) == top
    progress: list[float] = []
    rendition = render(
        source,
        tmp_path,
        info,
        rungs,
        segment_seconds=SEGMENT,
        preset="ultrafast",
        on_progress=progress.append,
    )
    assert progress == sorted(progress)
    assert len(set(progress)) == len(progress), "strictly increasing"
    assert progress[-1] == 1.0
    assert all(0 < p <= 1 for p in progress)
    check_rendition(tmp_path, rendition, info.duration, spec.audio)
    assert ffmpeg_children() == []
    if spec.interlaced:
        top_playlist = uri(m3u8.load(str(tmp_path / rendition.hls_master)).playlists[0].uri)
        detected = interlace_detection(tmp_path / top_playlist)
        assert detected["Progressive"] > 4 * (detected["TFF"] + detected["BFF"]), detected


def playlist_seconds(path: Path) -> list[float]:
    seconds: list[float] = []
    for segment in m3u8.load(str(path)).segments:
        assert segment.duration is not None, "every segment has its #EXTINF duration"
        seconds.append(float(segment.duration))
    return seconds


@pytest.mark.parametrize("segment", [1.0, 4.0])
def test_the_audio_ends_with_the_picture(
    clip_cache: ClipCache, tmp_path: Path, segment: float
) -> None:
    """Issue #16: 44.1 kHz audio, resampled and AAC-padded, ran ~16 ms past a 20 s picture
    and was cut into a last audio segment of 5 ms after the last picture; hls.js never ended
    such a stream (the browser test plays one to its end)."""
    source = clip_cache.get(ClipSpec(seconds=20.0, audio_rate=44100))
    info = probe(source)
    rendition = render(source, tmp_path, info, plan_ladder(info, [360, 240]),
                       segment_seconds=segment, preset="ultrafast")  # fmt: skip
    master = m3u8.load(str(tmp_path / rendition.hls_master))
    video = playlist_seconds(tmp_path / uri(master.playlists[0].uri))
    (audio_group,) = [m for m in master.media if m.type == "AUDIO"]
    audio = playlist_seconds(tmp_path / uri(audio_group.uri))
    assert sum(video) == pytest.approx(20.0)
    # no audio after the picture, and only what a whole AAC frame left before its end
    assert sum(video) - 1024 / 48000 <= sum(audio) <= sum(video)
    assert audio[-1] > 1024 / 48000, "no sliver of a segment at the end"


def test_cancel_from_progress_kills_ffmpeg_and_removes_outputs(
    clip_cache: ClipCache, tmp_path: Path
) -> None:
    source = clip_cache.get(width=1280, height=720, seconds=4.0)
    info = probe(source)
    (tmp_path / "kept.txt").write_text("written by someone else")
    seen: list[int] = []

    class Cancelled(Exception):
        pass

    def cancel(fraction: float) -> None:
        seen.extend(p.pid for p in ffmpeg_children())
        raise Cancelled

    with pytest.raises(Cancelled):
        render(source, tmp_path, info, plan_ladder(info), preset="ultrafast", on_progress=cancel)
    assert seen, "ffmpeg was running when the render was cancelled"
    assert not any(
        psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie" for pid in seen
    )
    assert ffmpeg_children() == []
    assert [p.name for p in tmp_path.iterdir()] == ["kept.txt"]


def test_ffmpeg_failure_is_a_media_error_with_its_reason(
    clip_cache: ClipCache, tmp_path: Path
) -> None:
    source = clip_cache.get(width=640, height=360)
    info = probe(source)
    impossible = LadderRung("bad", 640, 360, 500, 128, 550, 1000)
    with pytest.raises(MediaError) as caught:
        render(source, tmp_path, info, [impossible], preset="no-such-preset")
    assert caught.value.reason
    assert "\n" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_render_refuses_an_empty_ladder(clip_cache: ClipCache, tmp_path: Path) -> None:
    source = clip_cache.get(width=640, height=360)
    with pytest.raises(MediaError, match="no rungs"):
        render(source, tmp_path, probe(source), [])


KILLED_WORKER = """
import sys
from pathlib import Path
from kinoteka.media.processing import plan_ladder, probe, render
source, out = Path(sys.argv[1]), Path(sys.argv[2])
info = probe(source)
render(source, out, info, plan_ladder(info), preset="slow")
"""


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "term"])
def test_a_killed_worker_leaves_no_ffmpeg_behind(
    clip_cache: ClipCache, tmp_path: Path, how: signal.Signals
) -> None:
    source = clip_cache.get(width=1920, height=1080, seconds=6.0)
    worker = subprocess.Popen(
        [sys.executable, "-c", KILLED_WORKER, str(source), str(tmp_path / "out")],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    parent = psutil.Process(worker.pid)
    try:
        wait_for(
            lambda: any(c.name() == "ffmpeg" for c in parent.children()), 60, "ffmpeg to start"
        )
        encoder = next(c for c in parent.children() if c.name() == "ffmpeg")
        worker.send_signal(how)
        worker.wait(timeout=30)

        def gone() -> bool:
            return not encoder.is_running() or encoder.status() == psutil.STATUS_ZOMBIE

        # well before the encode (preset slow, several times longer) could end by itself
        wait_for(gone, 5, "the orphaned ffmpeg to die")
        # no cleanup ran in the killed process: its hidden scratch is what is left
        out = tmp_path / "out"
        assert [p.name.startswith(".render-") for p in out.iterdir()] == [True]
        assert remove_partial_outputs(out) == 1
        assert list(out.iterdir()) == []
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
