"""The runner's progress parsing and its errors (the process handling is exercised through
render and make_artwork in their tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kinoteka.media.processing import MediaError
from kinoteka.media.processing.runner import ProgressParser, capture, run_ffmpeg
from tests.media.clips import requires_ffmpeg


def test_progress_is_monotonic_bounded_and_ends_at_one() -> None:
    seen: list[float] = []
    parser = ProgressParser(duration=10.0, on_progress=seen.append)
    for line in [
        "frame=1",
        "out_time_us=N/A",
        "out_time_us=-20000",
        "out_time_us=2500000",
        "out_time_us=2500000",  # no new frame out: not repeated
        "out_time_us=1000000",  # never backwards
        "out_time_us=7500000",
        "out_time_us=12000000",  # past the probed duration (audio tail): held below 1
        "progress=end",
    ]:
        parser.feed(line + "\n")
    assert seen == [0.25, 0.75, 0.999]
    assert parser.ended
    parser.finish()
    assert seen[-1] == 1.0


def test_progress_without_duration_only_reports_the_end() -> None:
    seen: list[float] = []
    parser = ProgressParser(duration=0.0, on_progress=seen.append)
    parser.feed("out_time_us=5000000\n")
    parser.finish()
    assert seen == [1.0]


def test_a_missing_program_is_a_media_error(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="not installed"):
        capture(["kinoteka-no-such-ffprobe", "-version"])
    with pytest.raises(MediaError, match="not installed"):
        run_ffmpeg(["kinoteka-no-such-ffmpeg"], cwd=tmp_path, duration=1.0)


@requires_ffmpeg
def test_a_failed_run_removes_its_scratch_and_says_why(tmp_path: Path) -> None:
    scratch = tmp_path / ".render-x"
    scratch.mkdir()
    (scratch / "partial.m4s").write_bytes(b"half")
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(tmp_path / "missing.mp4"), "out.mp4"]
    with pytest.raises(MediaError, match=r"missing\.mp4.*No such file"):
        run_ffmpeg(cmd, cwd=scratch, duration=1.0, scratch=scratch)
    assert not scratch.exists()


@requires_ffmpeg
def test_the_reason_names_the_cause_first(tmp_path: Path) -> None:
    # two errors: the cause (an unknown encoder option value) and its consequence
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc2=d=1"]
    cmd += ["-c:v", "libx264", "-preset", "no-such-preset", "out.mp4"]
    with pytest.raises(MediaError) as caught:
        run_ffmpeg(cmd, cwd=tmp_path, duration=1.0)
    reason = caught.value.reason
    assert "no-such-preset" in reason
    assert "\n" not in reason
    assert len(reason) <= 300
