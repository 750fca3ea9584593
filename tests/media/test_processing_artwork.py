"""make_artwork(): poster away from black frames, seek sprites + WebVTT, animated previews."""

from __future__ import annotations

import itertools
from pathlib import Path

import psutil
import pytest
import webvtt
from PIL import Image, ImageStat

from kinoteka.media.processing import Artwork, MediaError, make_artwork, probe
from kinoteka.media.processing.artwork import (
    FrameStats,
    choose_poster_time,
    parse_frame_stats,
    sprite_vtt,
)
from kinoteka.media.processing.ffmpeg import SpriteLayout
from tests.media.clips import ClipCache, ClipSpec, requires_ffmpeg


@pytest.fixture(autouse=True)
def _bounded_pillow(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pillow's decompression-bomb guard bounds every image these tests open; set per test,
    since a module-level assignment would change it for the whole session's other tests."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 4096 * 4096)


def vtt_seconds(stamp: str) -> float:
    hours, minutes, seconds = stamp.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def check_sprite_track(out: Path, artwork: Artwork, duration: float) -> None:
    cues = webvtt.read(str(out / artwork.sprite_vtt)).captions
    assert cues, "at least one cue"
    assert vtt_seconds(cues[0].start) == 0.0
    assert vtt_seconds(cues[-1].end) == pytest.approx(duration, abs=0.001)
    for before, after in itertools.pairwise(cues):
        assert before.end == after.start, "no gap, no overlap"
    sheets = {name: Image.open(out / name) for name in artwork.sprite_sheets}
    assert artwork.sprite == artwork.sprite_sheets[0]
    used: set[str] = set()
    for cue in cues:
        name, _, fragment = cue.text.partition("#xywh=")
        assert name in sheets, f"{name} is a sprite sheet written beside the VTT"
        used.add(name)
        x, y, w, h = (int(v) for v in fragment.split(","))
        assert x + w <= sheets[name].width
        assert y + h <= sheets[name].height
    assert used == set(sheets)


@requires_ffmpeg
@pytest.mark.parametrize(
    "spec",
    [
        ClipSpec(width=1280, height=720, seconds=4.0, fade_in_seconds=2.5),
        ClipSpec(width=360, height=640, seconds=2.0, audio=False),
    ],
    ids=["fade-in", "portrait-small"],
)
def test_artwork(clip_cache: ClipCache, tmp_path: Path, spec: ClipSpec) -> None:
    source = clip_cache.get(spec)
    info = probe(source)
    progress: list[float] = []
    artwork = make_artwork(source, tmp_path, info, on_progress=progress.append)
    assert progress == sorted(progress)
    assert progress[-1] == 1.0

    assert set(artwork.poster) == {"list.webp", "list.jpg", "detail.webp", "detail.jpg"}
    for key, name in artwork.poster.items():
        with Image.open(tmp_path / name) as image:
            assert image.format == ("WEBP" if key.endswith("webp") else "JPEG")
            expected = 320 if key.startswith("list") else 1280
            assert image.width == min(expected, info.width), "never upscaled"
            assert image.width / image.height == pytest.approx(info.width / info.height, 0.02)
            # the fade's black opening is not the poster
            assert ImageStat.Stat(image.convert("L")).mean[0] > 60
    if spec.fade_in_seconds:
        assert artwork.poster_time >= spec.fade_in_seconds

    for name, form in ((artwork.preview_webp, "WEBP"), (artwork.preview_gif, "GIF")):
        with Image.open(tmp_path / name) as preview:
            assert preview.format == form
            assert getattr(preview, "is_animated", False)
            assert getattr(preview, "n_frames", 1) > 5
            assert preview.width == min(320, info.width)

    check_sprite_track(tmp_path, artwork, info.duration)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@requires_ffmpeg
def test_long_video_spreads_thumbnails_over_several_sheets(
    clip_cache: ClipCache, tmp_path: Path
) -> None:
    # past 1000 s thumbnails are 10 s apart, more than the 100 one sheet holds (tiny and
    # at one frame a second, the clip stays cheap)
    source = clip_cache.get(width=192, height=108, seconds=1100.0, fps=1, audio=False)
    info = probe(source)
    artwork = make_artwork(source, tmp_path, info)
    assert artwork.sprite_sheets == ["sprite-001.jpg", "sprite-002.jpg"]
    check_sprite_track(tmp_path, artwork, info.duration)


@requires_ffmpeg
def test_cancelled_artwork_leaves_nothing(clip_cache: ClipCache, tmp_path: Path) -> None:
    source = clip_cache.get(width=640, height=360, seconds=2.0)

    def cancel(fraction: float) -> None:
        if fraction > 0.85:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        make_artwork(source, tmp_path, probe(source), on_progress=cancel)
    assert list(tmp_path.iterdir()) == []
    assert [p for p in psutil.Process().children(recursive=True) if p.name() == "ffmpeg"] == []


def test_parse_frame_stats() -> None:
    text = (
        "frame:0    pts:0       pts_time:0\n"
        "lavfi.signalstats.YMIN=16\nlavfi.signalstats.YLOW=16\n"
        "lavfi.signalstats.YAVG=16.2\nlavfi.signalstats.YHIGH=17\n"
        "frame:1    pts:1       pts_time:2.5\n"
        "lavfi.signalstats.YLOW=30\nlavfi.signalstats.YAVG=120.5\nlavfi.signalstats.YHIGH=220\n"
    )
    assert parse_frame_stats(text) == [
        FrameStats(0.0, 16.2, 16.0, 17.0),
        FrameStats(2.5, 120.5, 30.0, 220.0),
    ]
    assert parse_frame_stats("") == []


def test_poster_avoids_black_washed_out_and_edge_frames() -> None:
    frames = [
        FrameStats(0.0, 16.0, 16.0, 16.0),  # black
        FrameStats(1.0, 120.0, 10.0, 250.0),  # contrasty but inside the first 5 %
        FrameStats(30.0, 230.0, 200.0, 255.0),  # washed out
        FrameStats(50.0, 110.0, 40.0, 200.0),
        FrameStats(60.0, 100.0, 60.0, 150.0),
    ]
    assert choose_poster_time(frames, 100.0) == 50.0
    assert choose_poster_time(frames[:1], 100.0) == 0.0  # nothing better exists
    assert choose_poster_time([], 9.0) == 3.0


def test_sprite_vtt_positions_across_sheets() -> None:
    layout = SpriteLayout(interval=2.0, width=160, height=90, columns=10, rows=10)
    times = [i * 2.0 for i in range(105)]
    vtt = sprite_vtt(times, layout, duration=209.5)
    lines = vtt.splitlines()
    assert lines[0] == "WEBVTT"
    cues = [line for line in lines if "#xywh=" in line]
    assert len(cues) == 105
    assert cues[0] == "sprite-001.jpg#xywh=0,0,160,90"
    assert cues[11] == "sprite-001.jpg#xywh=160,90,160,90"
    assert cues[99] == "sprite-001.jpg#xywh=1440,810,160,90"
    assert cues[100] == "sprite-002.jpg#xywh=0,0,160,90"
    assert "00:03:28.000 --> 00:03:29.500" in lines


def test_media_error_message_is_the_reason() -> None:
    error = MediaError("no frame could be decoded")
    assert str(error) == error.reason == "no frame could be decoded"
