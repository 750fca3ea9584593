"""Start-up of the `kinoteka` command: `kinoteka --help` (and a sub-command's help) next to a
bare `python -c pass`, both as fresh processes of the same interpreter.

Goal (issue #13 item 9): `kinoteka --help` under 0.5 s. Each figure is the median of several
runs after one unmeasured run, which writes the bytecode caches a user's second run finds (so
PYTHONDONTWRITEBYTECODE, set in some sandboxes, is dropped from the children's environment).
Wall time is what a user waits; the CPU time (user + system) of the child is shown beside it
and decides the verdict, because on a shared machine the wall time mostly measures the others.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

RUNS = 7
GOAL_SECONDS = 0.5


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _measure(argv: list[str]) -> tuple[float, float]:
    """Median wall and CPU seconds of `argv` run as a fresh process."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run(argv, check=True, capture_output=True, env=env)  # warm-up: bytecode, cache
    walls, cpus = [], []
    for _ in range(RUNS):
        cpu, started = _child_cpu(), time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, env=env)
        walls.append(time.perf_counter() - started)
        cpus.append(_child_cpu() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def run(report: Callable[[str], None]) -> None:
    bare_wall, bare_cpu = _measure([sys.executable, "-c", "pass"])
    report(f"python -c pass: {bare_wall * 1000:.0f} ms wall, {bare_cpu * 1000:.0f} ms CPU")
    for args in (["--help"], ["auth", "--help"], ["sync", "--help"]):
        wall, cpu = _measure([sys.executable, "-m", "kinoteka", *args])
        verdict = "ok" if cpu < GOAL_SECONDS else "OVER GOAL"
        report(
            f"kinoteka {' '.join(args)}: {wall * 1000:.0f} ms wall = "
            f"{wall / bare_wall:.1f}x python -c pass; {cpu * 1000:.0f} ms CPU = "
            f"{cpu / max(bare_cpu, 1e-3):.1f}x (goal < {GOAL_SECONDS * 1000:.0f} ms: {verdict})"
        )
