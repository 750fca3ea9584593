"""The ladder planner: which rungs a source gets (pure, no ffmpeg)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kinoteka.media.processing import ProbeResult, plan_ladder


def source(width: int, height: int, fps: float = 25.0) -> ProbeResult:
    return ProbeResult(
        duration=10.0,
        width=width,
        height=height,
        rotation=0,
        fps=fps,
        has_audio=True,
        video_codec="h264",
        audio_codec="aac",
        container="mov,mp4,m4a,3gp,3g2,mj2",
        size_bytes=1,
    )


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [
        (
            1920,
            1080,
            [("1080p", 1920, 1080), ("720p", 1280, 720), ("480p", 852, 480), ("360p", 640, 360)],
        ),
        (1280, 720, [("720p", 1280, 720), ("480p", 852, 480), ("360p", 640, 360)]),
        (
            3840,
            2160,
            [("1080p", 1920, 1080), ("720p", 1280, 720), ("480p", 852, 480), ("360p", 640, 360)],
        ),
        # portrait: the rung's box turns with the source, so a phone video is 1080p
        (
            1080,
            1920,
            [("1080p", 1080, 1920), ("720p", 720, 1280), ("480p", 480, 852), ("360p", 360, 640)],
        ),
        # scope film: 1920 wide reaches the 1080p box although it is 804 high
        (
            1920,
            804,
            [("1080p", 1920, 804), ("720p", 1280, 536), ("480p", 852, 356), ("360p", 640, 268)],
        ),
        # 4:3 source keeps its aspect inside each box
        (
            1440,
            1080,
            [("1080p", 1440, 1080), ("720p", 960, 720), ("480p", 640, 480), ("360p", 480, 360)],
        ),
        # smaller than every rung: one rung at its own (even) size
        (400, 300, [("300p", 400, 300)]),
        (301, 201, [("200p", 300, 200)]),
    ],
)
def test_rungs_for_common_sources(
    width: int, height: int, expected: list[tuple[str, int, int]]
) -> None:
    rungs = plan_ladder(source(width, height))
    assert [(r.name, r.width, r.height) for r in rungs] == expected


def test_bitrates_fall_with_size_and_rise_with_frame_rate() -> None:
    rungs = plan_ladder(source(1920, 1080))
    kbps = [r.video_kbps for r in rungs]
    assert kbps == sorted(kbps, reverse=True)
    assert 4000 <= kbps[0] <= 6000
    assert all(r.maxrate_kbps > r.video_kbps and r.bufsize_kbps >= r.maxrate_kbps for r in rungs)
    fast = plan_ladder(source(1920, 1080, fps=60))
    assert fast[0].video_kbps > rungs[0].video_kbps


def test_custom_heights_are_honoured_and_deduplicated() -> None:
    rungs = plan_ladder(source(1920, 1080), heights=(720, 720, 240))
    assert [r.name for r in rungs] == ["720p", "240p"]


sizes = st.integers(min_value=1, max_value=8000)


@given(width=sizes, height=sizes, heights=st.lists(st.integers(1, 4320), max_size=6))
def test_ladder_invariants(width: int, height: int, heights: list[int]) -> None:
    rungs = plan_ladder(source(width, height), heights=heights or (1080, 720, 480, 360))
    assert rungs, "at least one rung"
    for rung in rungs:
        assert rung.width % 2 == 0
        assert rung.height % 2 == 0
        # never upscaled (a 1-pixel source still needs the 2-pixel minimum of 4:2:0)
        assert rung.width <= max(width, 2)
        assert rung.height <= max(height, 2)
        assert rung.video_kbps > 0
        assert rung.audio_kbps > 0
    pixels = [r.width * r.height for r in rungs]
    assert pixels == sorted(pixels, reverse=True), "largest first"
    assert len({(r.width, r.height) for r in rungs}) == len(rungs), "no duplicate rung"


def test_rungs_are_immutable() -> None:
    rung = plan_ladder(source(640, 360))[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        rung.width = 2  # type: ignore[misc]
