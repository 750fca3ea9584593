"""probe(): real files made by ffmpeg, and broken ones that must fail with a reason."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from kinoteka.media.processing import ProbeError, probe
from kinoteka.media.processing.probe import parse_probe
from tests.media.clips import ClipCache, ClipSpec, make_clip, requires_ffmpeg, truncated_copy


@requires_ffmpeg
@pytest.mark.parametrize(
    ("spec", "size"),
    [
        (ClipSpec(width=1920, height=1080), (1920, 1080)),
        (ClipSpec(width=640, height=360, audio=False), (640, 360)),
        (ClipSpec(width=301, height=201, audio=False), (301, 201)),
        # stored landscape, displayed portrait: the size is the displayed one
        (ClipSpec(width=640, height=360, rotate=90), (360, 640)),
    ],
)
def test_probe_describes_the_video_as_displayed(
    clip_cache: ClipCache, spec: ClipSpec, size: tuple[int, int]
) -> None:
    path = clip_cache.get(spec)
    result = probe(path)
    assert (result.width, result.height) == size
    assert result.duration == pytest.approx(spec.seconds, abs=0.1)
    assert result.fps == pytest.approx(spec.fps)
    assert result.has_audio is spec.audio
    assert result.video_codec == "h264"
    assert result.audio_codec == ("aac" if spec.audio else None)
    assert result.rotation == spec.rotate
    assert result.size_bytes == path.stat().st_size
    assert "mp4" in result.container


@requires_ffmpeg
def test_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.touch()
    with pytest.raises(ProbeError, match=r"empty \(0 bytes\)"):
        probe(empty)


@requires_ffmpeg
def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ProbeError, match="cannot be read"):
        probe(tmp_path / "nowhere.mp4")


@requires_ffmpeg
def test_truncated_mp4_with_index_at_the_end(clip_cache: ClipCache, tmp_path: Path) -> None:
    cut = truncated_copy(clip_cache.get(seconds=4.0), tmp_path / "cut.mp4")
    with pytest.raises(ProbeError, match="truncated"):
        probe(cut)


@requires_ffmpeg
@pytest.mark.parametrize("container", ["mkv", "faststart.mp4"])
def test_truncated_file_whose_header_promises_the_full_length(
    tmp_path: Path, container: str
) -> None:
    """Matroska and fast-start MP4 carry their duration up front: the header still reads."""
    whole = tmp_path / f"whole.{container}"
    spec = ClipSpec(seconds=6.0, audio=False, container=container)
    if container == "faststart.mp4":
        plain = make_clip(tmp_path / "plain.mp4", spec)
        cmd = ["ffmpeg", "-v", "error", "-i", str(plain), "-c", "copy"]
        subprocess.run([*cmd, "-movflags", "+faststart", str(whole)], check=True, timeout=60)
    else:
        make_clip(whole, spec)
    cut = truncated_copy(whole, tmp_path / f"cut.{container}", keep=0.4)
    with pytest.raises(ProbeError, match="truncated"):
        probe(cut)


@requires_ffmpeg
def test_audio_only(clip_cache: ClipCache) -> None:
    with pytest.raises(ProbeError, match="audio only"):
        probe(clip_cache.get(video=False))


@requires_ffmpeg
@pytest.mark.parametrize("name", ["notes.txt", "disguised.mp4"])
def test_text_file(tmp_path: Path, name: str) -> None:
    text = tmp_path / name
    text.write_text("this is not a film\n" * 50)
    with pytest.raises(ProbeError, match="not a video"):
        probe(text)


@requires_ffmpeg
def test_still_image(tmp_path: Path) -> None:
    png = tmp_path / "poster.png"
    cmd = ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=64x64", "-frames:v", "1"]
    subprocess.run([*cmd, str(png)], check=True, timeout=60)
    with pytest.raises(ProbeError, match="still image"):
        probe(png)


def stream(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "codec_type": "video",
        "codec_name": "h264",
        "width": 1440,
        "height": 1080,
        "avg_frame_rate": "30000/1001",
        "duration": "12.5",
    }
    return base | fields


def test_parse_rotation_from_display_matrix_and_pixel_aspect() -> None:
    rotated = stream(side_data_list=[{"side_data_type": "Display Matrix", "rotation": -90}])
    result = parse_probe({"format": {"format_name": "mov"}, "streams": [rotated]}, 10)
    assert (result.width, result.height, result.rotation) == (1080, 1440, 270)
    assert result.fps == pytest.approx(29.97, abs=0.01)
    assert result.duration == 12.5
    # anamorphic HDV: 1440 stored pixels display as 1920
    anamorphic = stream(sample_aspect_ratio="4:3")
    result = parse_probe({"format": {"format_name": "mov"}, "streams": [anamorphic]}, 10)
    assert (result.width, result.height) == (1920, 1080)


def test_parse_ignores_cover_art_and_rejects_zero_duration() -> None:
    cover = stream(codec_name="mjpeg", disposition={"attached_pic": 1})
    audio = {"codec_type": "audio", "codec_name": "mp3"}
    with pytest.raises(ProbeError, match="audio only"):
        parse_probe({"format": {"format_name": "mp3"}, "streams": [cover, audio]}, 10)
    silent = stream(duration="0")
    with pytest.raises(ProbeError, match="zero duration"):
        parse_probe({"format": {"format_name": "mov"}, "streams": [silent]}, 10)
    with pytest.raises(ProbeError, match="no video stream"):
        parse_probe({"format": {"format_name": "mov"}, "streams": []}, 10)


def test_parse_reads_the_pictures_own_length_beside_the_containers() -> None:
    """The ladder ends its audio with the picture, so the picture's length is read apart
    from the container's (the longest stream's)."""
    audio = {"codec_type": "audio", "codec_name": "aac", "duration": "20.3"}
    container = {"format_name": "mov", "duration": "20.3"}
    result = parse_probe({"format": container, "streams": [stream(duration="20.0"), audio]}, 10)
    assert (result.duration, result.video_duration) == (20.3, 20.0)
    # Matroska states a stream's length in a tag
    tagged = stream(duration=None, tags={"DURATION": "00:01:02.500000000"})
    mkv = {"format_name": "matroska,webm", "duration": "62.52"}
    assert parse_probe({"format": mkv, "streams": [tagged]}, 10).video_duration == 62.5
    untold = stream(duration=None)
    assert parse_probe({"format": mkv, "streams": [untold]}, 10).video_duration is None
