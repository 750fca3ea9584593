"""The one place ffmpeg and ffprobe run: progress from `-progress pipe:1`, errors, cleanup.

Command lines come from the pure builders in `ffmpeg.py`. A run that fails, or is
interrupted by any exception (a Celery soft time limit, KeyboardInterrupt, an
`on_progress` callback that raises to cancel), kills its ffmpeg, waits for it and removes
the scratch directory it was writing into before the exception propagates. The child is
also asked to die with its parent (Linux `PR_SET_PDEATHSIG`), so a worker killed with
SIGKILL or SIGTERM leaves no encoder running behind it.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import shutil
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from kinoteka.media.processing.errors import MediaError, RenderError

ProgressCallback = Callable[[float], None]

_PR_SET_PDEATHSIG = 1
_STDERR_LINES_KEPT = 20


def _die_with_parent() -> None:
    """Runs in the child between fork and exec: SIGKILL it when the worker goes away."""
    libc_name = ctypes.util.find_library("c")
    if not sys.platform.startswith("linux") or libc_name is None:  # pragma: no cover
        return
    libc = ctypes.CDLL(libc_name, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


_REASON_CHARS = 300


def _reason(stderr: Sequence[str], fallback: str) -> str:
    """One line from ffmpeg's errors: the first (usually the cause) and the last (the
    consequence) when they differ."""
    lines = [line.strip() for line in stderr if line.strip()]
    if not lines:
        return fallback
    reason = lines[0] if lines[0] == lines[-1] else f"{lines[0]} ... {lines[-1]}"
    return reason[:_REASON_CHARS]


class _StderrKept:
    """The first and the last lines of a stream, however long it runs."""

    def __init__(self, keep: int = _STDERR_LINES_KEPT) -> None:
        self.first: list[str] = []
        self.last: deque[str] = deque(maxlen=keep)
        self.keep = keep

    def read(self, stream: Iterable[str]) -> None:
        for line in stream:
            if len(self.first) < self.keep:
                self.first.append(line)
            else:
                self.last.append(line)

    def lines(self) -> list[str]:
        return [*self.first, *self.last]


def capture(cmd: Sequence[str], *, timeout: float = 120.0) -> tuple[int, str, str]:
    """Run a short command (ffprobe) to completion: (exit code, stdout, stderr)."""
    try:
        done = subprocess.run(
            list(cmd),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
            preexec_fn=_die_with_parent,
        )
    except FileNotFoundError as error:
        raise MediaError(f"{cmd[0]} is not installed (run `make system-packages`)") from error
    except subprocess.TimeoutExpired as error:
        raise MediaError(f"{cmd[0]} did not answer within {timeout:g} s") from error
    return done.returncode, done.stdout, done.stderr


class ProgressParser:
    """Turns ffmpeg's `-progress` key=value lines into monotonic fractions of `duration`."""

    def __init__(self, duration: float, on_progress: ProgressCallback | None) -> None:
        self.duration = duration
        self.on_progress = on_progress
        self.last = 0.0
        self.ended = False

    def feed(self, line: str) -> None:
        key, _, value = line.strip().partition("=")
        if key == "out_time_us" and self.duration > 0:
            try:
                seconds = int(value) / 1_000_000
            except ValueError:  # "N/A" before the first frame is out
                return
            self._emit(min(max(seconds / self.duration, 0.0), 0.999))
        elif key == "progress" and value == "end":
            self.ended = True

    def finish(self) -> None:
        self._emit(1.0)

    def _emit(self, fraction: float) -> None:
        if fraction > self.last or (fraction == 1.0 and self.last < 1.0):
            self.last = fraction
            if self.on_progress is not None:
                self.on_progress(fraction)


def run_ffmpeg(
    cmd: Sequence[str],
    *,
    cwd: Path,
    duration: float,
    on_progress: ProgressCallback | None = None,
    scratch: Path | None = None,
) -> None:
    """Run one ffmpeg command that has `-progress pipe:1` and wait for it.

    `on_progress` gets increasing fractions in (0, 1], ending with exactly 1.0 on success;
    if it raises, the run is cancelled with that exception. On any failure `scratch` (the
    directory the command writes into) is removed and ffmpeg is gone before this returns.
    """
    progress = ProgressParser(duration, on_progress)
    kept = _StderrKept()
    process: subprocess.Popen[str] | None = None
    try:
        try:
            process = subprocess.Popen(
                list(cmd),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
                preexec_fn=_die_with_parent,
            )
        except FileNotFoundError as error:
            raise MediaError(f"{cmd[0]} is not installed (run `make system-packages`)") from error
        stdout, stderr = process.stdout, process.stderr
        if stdout is None or stderr is None:  # pragma: no cover - both are PIPE above
            raise MediaError("ffmpeg started without its output pipes")
        # stderr is drained beside stdout so a chatty ffmpeg never blocks on a full pipe
        drain = threading.Thread(target=kept.read, args=(stderr,), daemon=True)
        drain.start()
        for line in stdout:
            progress.feed(line)
        code = process.wait()
        drain.join()
        if code != 0:
            raise RenderError(_reason(kept.lines(), f"ffmpeg exited with code {code}"))
        progress.finish()
    except BaseException:
        if process is not None:
            _stop(process)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        raise
    finally:
        if process is not None:
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
    # the kill cannot be refused, so this wait is short; a second interrupt still leaves
    # the child to PR_SET_PDEATHSIG
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)
