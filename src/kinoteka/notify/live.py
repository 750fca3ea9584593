"""Live inbox updates: one LISTEN per process on the inbox channel, shared by every open
Server-Sent Events stream (each rechecks its own account's unread count when woken)."""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from kinoteka.infra.db import Database
from kinoteka.notify.repository import INBOX_CHANNEL

log = structlog.get_logger(__name__)


class InboxSignal:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def _notified(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def _listen(self) -> None:
        while True:
            try:
                async with self.db.listen(INBOX_CHANNEL, self._notified) as lost:
                    await lost.wait()
            except Exception as error:
                log.warning("notify.inbox_listen_lost", error=str(error))
            self._notified()  # wake the streams: they recheck, then wait again
            await asyncio.sleep(1.0)

    async def wait(self, seconds: float) -> None:
        """Until an inbox changes somewhere (or `seconds` pass)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._listen(), name="notify-inbox-listen")
        changed = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), seconds)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
