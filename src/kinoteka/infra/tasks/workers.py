"""Worker processes beside the app: one `kinoteka worker --queues <q>` per queue.

One process per queue keeps each queue's concurrency (`QUEUES`): a burst of thumbnails never
takes a transcoding slot. The children get the store URLs the parent resolved, so they
connect to the same (embedded) PostgreSQL and Redis instead of starting their own.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence

import structlog

from kinoteka.infra.footprint import StoreUrls

log = structlog.get_logger(__name__)


def worker_environment(urls: StoreUrls, base: Mapping[str, str]) -> dict[str, str]:
    """`base` (the parent's environment) with every store URL pinned to what it resolved."""
    env = dict(base)
    env.update(
        KINOTEKA_DATABASE_URL=urls.database_url,
        KINOTEKA_REDIS_URL=urls.redis_url,
        KINOTEKA_SEARCH_URL=urls.search_url,
        KINOTEKA_STORAGE_URL=urls.storage_url,
    )
    return env


def _die_with_parent() -> None:
    """In the child before exec: on Linux, get SIGTERM when the parent dies (even `kill -9`),
    so an `up` killed hard leaves no worker behind."""
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def worker_command(queue: str) -> list[str]:
    return [sys.executable, "-m", "kinoteka", "worker", "--queues", queue]


class WorkerProcesses:
    """Start one worker per queue; `stop()` asks them to finish (SIGTERM) and waits."""

    def __init__(self, queues: Sequence[str], env: Mapping[str, str]) -> None:
        self.queues = list(queues)
        self.env = dict(env)
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        for queue in self.queues:
            process = subprocess.Popen(
                worker_command(queue), env=self.env, preexec_fn=_die_with_parent
            )
            self.processes.append(process)
            log.info("tasks.worker_started", queue=queue, pid=process.pid)

    def wait(self) -> int:
        """Block until a worker exits; returns its code (the others are then stopped)."""
        while True:
            for process in self.processes:
                code = process.poll()
                if code is not None:
                    return code
            time.sleep(0.5)

    def stop(self, timeout: float = 30.0) -> None:
        for process in self.processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in self.processes:
            try:
                process.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                log.warning("tasks.worker_killed", pid=process.pid)
                process.kill()
                process.wait()
        self.processes.clear()


def inherited_environment() -> dict[str, str]:
    return dict(os.environ)
