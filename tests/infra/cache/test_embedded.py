"""The embedded Redis is shared: a process attaches to a live server and only the last holder
stops it (issue #13 item 1: a CLI command beside `kinoteka up` used to kill `up`'s Redis)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import redis

from kinoteka.infra.cache.embedded import EmbeddedRedis

HOLD = """
import sys
from pathlib import Path
from kinoteka.infra.cache.embedded import EmbeddedRedis
server = EmbeddedRedis(Path(sys.argv[1]))
server.start()
print(server.pid, "started" if server.started_here else "attached", flush=True)
sys.stdin.readline()
server.stop()
"""


@pytest.fixture
def directory(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "redis"
    yield path
    for process in psutil.process_iter(["cmdline"]):  # never leak a server, even on failure
        cmdline = " ".join(process.info["cmdline"] or [])
        if "redis-server" in cmdline and str(path) in cmdline:
            process.kill()


def _holder(directory: Path) -> tuple[subprocess.Popen[str], int, str]:
    """Another process holding the server, until its stdin gets a line."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(directory)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    pid, how = process.stdout.readline().split()
    return process, int(pid), how


def _release(process: subprocess.Popen[str]) -> None:
    process.communicate("\n", timeout=30)
    assert process.returncode == 0


def _answers(directory: Path) -> bool:
    client = redis.Redis(unix_socket_path=str(directory / "redis.sock"), socket_timeout=2)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def _gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def test_a_process_that_attached_leaves_the_server_running(directory: Path) -> None:
    owner, pid, how = _holder(directory)
    try:
        assert how == "started"
        guest = EmbeddedRedis(directory)
        guest.start()
        assert not guest.started_here
        assert guest.pid == pid
        started = time.monotonic()
        guest.stop()
        assert time.monotonic() - started < 2, "releasing a hold waits for nothing"
        assert psutil.pid_exists(pid)
        assert _answers(directory), "the owner's server still answers"
    finally:
        _release(owner)
    assert _gone(pid), "the last holder stops the server"


def test_the_last_holder_stops_a_server_another_process_started(directory: Path) -> None:
    here = EmbeddedRedis(directory)
    here.start()
    pid = here.pid
    assert pid is not None
    assert here.started_here
    guest, guest_pid, how = _holder(directory)
    assert (guest_pid, how) == (pid, "attached")
    here.stop()  # its starter lets go first: the guest still holds it
    assert _answers(directory)
    _release(guest)
    assert _gone(pid)
    assert not _answers(directory)


def test_a_holder_killed_hard_does_not_keep_the_server_forever(directory: Path) -> None:
    owner, pid, _ = _holder(directory)
    owner.kill()
    owner.wait(10)
    here = EmbeddedRedis(directory)
    here.start()
    assert here.pid == pid, "the orphaned server still answers, so it is reused"
    here.stop()
    assert _gone(pid), "the dead holder is dropped: this process was the last one"
