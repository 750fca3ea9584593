"""The pure command builders: argument lists checked as data, without running ffmpeg."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from kinoteka.media.processing import ProbeResult, plan_ladder
from kinoteka.media.processing.ffmpeg import (
    AAC_FRAME_SAMPLES,
    AUDIO_RATE,
    ImageSize,
    LadderEncoding,
    SpriteLayout,
    audio_end,
    gop_frames,
    ladder_command,
    poster_command,
    preview_command,
    probe_command,
    rate,
    rung_sample_aspect,
    sprite_command,
)

SOURCE = Path("/videos/film.mov")


def hd(width: int = 1920, height: int = 1080) -> ProbeResult:
    return ProbeResult(10.0, width, height, 0, 25.0, True, "h264", "aac", "mov", 1)


def value_after(cmd: list[str], flag: str) -> str:
    return cmd[cmd.index(flag) + 1]


def values_after(cmd: list[str], flag: str) -> list[str]:
    return [cmd[i + 1] for i, arg in enumerate(cmd) if arg == flag]


def test_one_process_decodes_once_and_maps_every_rung() -> None:
    rungs = plan_ladder(hd())
    cmd = ladder_command(SOURCE, rungs, fps=25.0, has_audio=True)
    assert cmd[0] == "ffmpeg"
    assert values_after(cmd, "-i") == [str(SOURCE)], "the source is read once"
    graph = value_after(cmd, "-filter_complex")
    assert graph.startswith("[0:v]split=4[s0][s1][s2][s3];")
    for i, rung in enumerate(rungs):
        assert f"[s{i}]scale={rung.width}:{rung.height}:" in graph
        assert value_after(cmd, f"-b:v:{i}") == f"{rung.video_kbps}k"
        assert value_after(cmd, f"-maxrate:v:{i}") == f"{rung.maxrate_kbps}k"
        assert value_after(cmd, f"-bufsize:v:{i}") == f"{rung.bufsize_kbps}k"
    assert values_after(cmd, "-map") == ["[v0]", "[v1]", "[v2]", "[v3]", "0:a:0"]
    assert value_after(cmd, "-c:v") == "libx264"
    assert value_after(cmd, "-c:a") == "aac"
    assert value_after(cmd, "-progress") == "pipe:1"


def test_segments_are_keyframe_aligned_cmaf_for_hls_and_dash() -> None:
    cmd = ladder_command(
        SOURCE, plan_ladder(hd()), fps=25.0, has_audio=True, encoding=LadderEncoding(6.0)
    )
    assert value_after(cmd, "-g") == "150"
    assert value_after(cmd, "-keyint_min") == "150"
    assert value_after(cmd, "-sc_threshold") == "0"
    assert value_after(cmd, "-force_key_frames") == "expr:gte(t,n_forced*6)"
    assert value_after(cmd, "-f") == "dash"
    assert value_after(cmd, "-seg_duration") == "6"
    assert value_after(cmd, "-dash_segment_type") == "mp4"
    assert value_after(cmd, "-hls_playlist") == "1"
    assert value_after(cmd, "-hls_master_name") == "master.m3u8"
    assert value_after(cmd, "-adaptation_sets") == "id=0,streams=v id=1,streams=a"
    # outputs are relative names: the manifests then reference segments relatively
    assert cmd[-1] == "manifest.mpd"
    assert "/" not in value_after(cmd, "-media_seg_name")


@pytest.mark.parametrize("seconds", [20.0, 13.37, 0.5, 3600.04, 1 / 48])
def test_the_audio_ends_on_a_whole_aac_frame_within_the_picture(seconds: float) -> None:
    end = audio_end(seconds)
    samples = end * AUDIO_RATE
    assert samples == round(samples)
    assert round(samples) % AAC_FRAME_SAMPLES == 0
    assert seconds - AAC_FRAME_SAMPLES / AUDIO_RATE < end <= seconds


def test_the_ladder_ends_its_audio_with_the_picture() -> None:
    cmd = ladder_command(SOURCE, plan_ladder(hd()), fps=25.0, has_audio=True, video_seconds=20.0)
    graph = value_after(cmd, "-filter_complex")
    assert graph.endswith(";[0:a:0]aresample=48000,atrim=end=19.989333[a]")
    assert values_after(cmd, "-map")[-1] == "[a]"
    # a picture shorter than one AAC frame keeps its audio as it is
    short = ladder_command(SOURCE, plan_ladder(hd()), fps=25.0, has_audio=True, video_seconds=0.01)
    assert values_after(short, "-map")[-1] == "0:a:0"
    assert "atrim" not in value_after(short, "-filter_complex")
    silent = ladder_command(SOURCE, plan_ladder(hd()), fps=25.0, has_audio=False, video_seconds=20)
    assert "[a]" not in value_after(silent, "-filter_complex")


def test_audio_less_source_has_no_audio_stream_or_set() -> None:
    cmd = ladder_command(SOURCE, plan_ladder(hd(1280, 720)), fps=25.0, has_audio=False)
    assert "0:a:0" not in cmd
    assert "-c:a" not in cmd
    assert value_after(cmd, "-adaptation_sets") == "id=0,streams=v"


def test_encoder_settings_are_passed_through() -> None:
    encoding = LadderEncoding(segment_seconds=2.0, preset="ultrafast", threads=2)
    cmd = ladder_command(SOURCE, plan_ladder(hd()), fps=30.0, has_audio=True, encoding=encoding)
    assert value_after(cmd, "-preset") == "ultrafast"
    assert value_after(cmd, "-threads") == "2"
    assert value_after(cmd, "-g") == "60"


@pytest.mark.parametrize(
    ("fps", "seconds", "frames"),
    [(25.0, 4.0, 100), (29.97, 4.0, 120), (23.976, 2.0, 48), (0.0, 4.0, 100), (1000.0, 4.0, 100)],
)
def test_gop_covers_one_segment(fps: float, seconds: float, frames: int) -> None:
    assert gop_frames(fps, seconds) == frames


def test_every_rung_shows_the_same_display_aspect() -> None:
    rungs = plan_ladder(hd())
    for i, rung in enumerate(rungs):
        display = Fraction(rung.width, rung.height) * rung_sample_aspect(rungs, i)
        assert display == Fraction(16, 9)
    assert rung_sample_aspect(rungs, 0) == 1
    assert rung_sample_aspect(rungs, 2) == Fraction(640, 639)  # 852x480


def test_probe_command_asks_for_json() -> None:
    cmd = probe_command(SOURCE)
    assert cmd[0] == "ffprobe"
    assert value_after(cmd, "-print_format") == "json"
    assert {"-show_format", "-show_streams"} <= set(cmd)
    assert cmd[-1] == str(SOURCE)


def test_sprite_command_samples_tiles_and_measures() -> None:
    cmd = sprite_command(SOURCE, SpriteLayout(interval=2.5, width=160, height=90))
    graph = value_after(cmd, "-filter_complex")
    assert "fps=2/5," in graph
    assert "scale=160:90" in graph
    assert "tile=10x10" in graph
    assert "signalstats" in graph
    assert values_after(cmd, "-map") == ["[stats]", "[tiles]"]
    assert cmd[-1] == "sprite-%03d.jpg"


def test_poster_command_writes_webp_and_jpeg_per_size() -> None:
    sizes = [ImageSize("list", 320, 180), ImageSize("detail", 1280, 720)]
    cmd = poster_command(SOURCE, 12.5, sizes)
    assert value_after(cmd, "-ss") == "12.500"
    assert cmd.index("-ss") < cmd.index("-i"), "input seek, fast"
    outputs = [arg for arg in cmd if arg.startswith("poster-")]
    assert outputs == [
        "poster-list.webp",
        "poster-list.jpg",
        "poster-detail.webp",
        "poster-detail.jpg",
    ]
    assert values_after(cmd, "-frames:v") == ["1"] * 4
    assert values_after(cmd, "-c:v") == ["libwebp", "mjpeg", "libwebp", "mjpeg"]


def test_preview_command_palettes_the_gif() -> None:
    cmd = preview_command(SOURCE, 3.0, 2.5, ImageSize("preview", 320, 180))
    graph = value_after(cmd, "-filter_complex")
    assert "palettegen" in graph
    assert "paletteuse" in graph
    assert value_after(cmd, "-t") == "2.500"
    assert values_after(cmd, "-c:v") == ["libwebp_anim", "gif"]
    assert values_after(cmd, "-loop") == ["0", "0"]
    assert cmd[-1] == "preview.gif"


def test_rate_is_an_exact_fraction() -> None:
    assert rate(0.1) == "1/10"
    assert rate(1 / 3) == "1/3"
    assert rate(25.0) == "25/1"


def test_interlaced_sources_are_deinterlaced_before_anything_else() -> None:
    rungs = plan_ladder(hd())
    progressive = ladder_command(SOURCE, rungs, fps=25.0, has_audio=True)
    assert "bwdif" not in value_after(progressive, "-filter_complex")
    interlaced = ladder_command(SOURCE, rungs, fps=25.0, has_audio=True, deinterlace=True)
    assert value_after(interlaced, "-filter_complex").startswith(
        "[0:v]bwdif=mode=send_frame,split=4"
    )
    size = ImageSize("list", 320, 180)
    for cmd in (
        sprite_command(SOURCE, SpriteLayout(2.0, 160, 90), deinterlace=True),
        poster_command(SOURCE, 1.0, [size], deinterlace=True),
        preview_command(SOURCE, 0.0, 2.0, size, deinterlace=True),
    ):
        assert value_after(cmd, "-filter_complex").startswith("[0:v]bwdif=mode=send_frame,")
