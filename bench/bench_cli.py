"""Start-up of the `kinoteka` command: `kinoteka --help` (and a sub-command's help) next to a
bare `python -c pass`, both as fresh processes of the same interpreter.

Goal (issue #13 item 9): `kinoteka --help` under 0.5 s. Each figure is the median of several
runs after one unmeasured run, which writes the bytecode caches a user's second run would find.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable

RUNS = 7
GOAL_SECONDS = 0.5


def _wall(argv: list[str]) -> float:
    subprocess.run(argv, check=True, capture_output=True)  # warm-up: bytecode, page cache
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run(report: Callable[[str], None]) -> None:
    bare = _wall([sys.executable, "-c", "pass"])
    report(f"python -c pass: {bare * 1000:.0f} ms")
    for args in (["--help"], ["auth", "--help"], ["sync", "--help"]):
        seconds = _wall([sys.executable, "-m", "kinoteka", *args])
        verdict = "ok" if seconds < GOAL_SECONDS else "OVER GOAL"
        report(
            f"kinoteka {' '.join(args)}: {seconds * 1000:.0f} ms = {seconds / bare:.1f}x "
            f"python -c pass (goal < {GOAL_SECONDS * 1000:.0f} ms: {verdict})"
        )
