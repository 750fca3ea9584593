"""The embedded footprint's SMTP server: it keeps every message as an `.eml` file.

On the embedded footprint nothing else would take the platform's mail (sign-up confirmation,
password reset), so `kinoteka up` runs this sink (aiosmtpd, in its own thread) on the
configured SMTP address and writes each message it accepts, as received, to
`<data dir>/mail/<UTC time>-<id>.eml`; `stored_mail()` lists them oldest first
(`kinoteka notify mail` prints them). It never relays anything.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import socket
import uuid
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

SUFFIX = ".eml"


def _store(directory: Path, content: bytes) -> Path:
    moment = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    path = directory / f"{moment}-{uuid.uuid4().hex[:8]}{SUFFIX}"
    partial = path.with_suffix(".part")
    partial.write_bytes(content)
    os.replace(partial, path)  # readers never see half a message
    return path


class _KeepMessages:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content
        if not isinstance(content, bytes):
            content = str(content or "").encode()
        await asyncio.get_running_loop().run_in_executor(None, _store, self.directory, content)
        return "250 Message accepted for delivery"


def answering(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something already listens on `host:port`."""
    try:
        socket.create_connection((host, port), timeout).close()
    except OSError:
        return False
    return True


class MailSink:
    """`start()` listens on `host:port` and stores mail under `directory`; `stop()` ends it."""

    def __init__(self, directory: Path, host: str, port: int) -> None:
        self.directory = directory
        self.host = host
        self.port = port
        self._controller: Controller | None = None

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        controller = Controller(_KeepMessages(self.directory), hostname=self.host, port=self.port)
        controller.start()  # raises when the address cannot be bound
        self._controller = controller

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


def stored_mail(directory: Path) -> list[Path]:
    """The messages the sink kept, oldest first."""
    if not directory.is_dir():
        return []
    return sorted(path for path in directory.iterdir() if path.suffix == SUFFIX)
