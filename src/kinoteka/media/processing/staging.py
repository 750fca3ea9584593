"""A hidden scratch directory per call inside `out_dir`, moved into place only when complete.

Two calls writing into the same `out_dir` (the ladder and the artwork run in different
queues) never see or remove each other's files, and a failed call leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

SCRATCH_PREFIXES = (".render-", ".artwork-")


def new_scratch(out_dir: Path, kind: str) -> Path:
    """A fresh, empty directory `out_dir/.<kind>-<random>` for one call's outputs."""
    out_dir.mkdir(parents=True, exist_ok=True)
    scratch = out_dir / f".{kind}-{uuid.uuid4().hex[:12]}"
    scratch.mkdir()
    return scratch


def publish(scratch: Path, out_dir: Path) -> list[Path]:
    """Move every file of `scratch` into `out_dir` (replacing same names); their new paths
    relative to `out_dir`, sorted."""
    moved: list[Path] = []
    for entry in sorted(scratch.rglob("*")):
        if entry.is_dir():
            continue
        relative = entry.relative_to(scratch)
        target = out_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(entry, target)
        moved.append(relative)
    for directory in sorted((d for d in scratch.rglob("*") if d.is_dir()), reverse=True):
        directory.rmdir()
    scratch.rmdir()
    return moved


def remove_partial_outputs(out_dir: Path) -> int:
    """Remove scratch directories left in `out_dir` by calls whose process was killed
    (SIGKILL or an unhandled SIGTERM run no cleanup); how many were removed.

    Only for an `out_dir` no call is writing into at the same time.
    """
    removed = 0
    if not out_dir.is_dir():
        return 0
    for entry in out_dir.iterdir():
        if entry.is_dir() and entry.name.startswith(SCRATCH_PREFIXES):
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
    return removed
