"""The follower: sync passes forever, woken by NOTIFY, at least every `poll_interval` seconds."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from kinoteka.search.backoff import Backoff
from kinoteka.search.parts import SyncParts

log = structlog.get_logger(__name__)

CHANNEL = "kinoteka_search"


class Follower:
    """Runs `run_pass` on every wake-up; `on_failure` runs after a pass that failed."""

    def __init__(
        self,
        parts: SyncParts,
        run_pass: Callable[[], Awaitable[object]],
        on_failure: Callable[[], None],
    ) -> None:
        self.parts = parts
        self.run_pass = run_pass
        self.on_failure = on_failure

    async def follow(self, stop: asyncio.Event | None = None) -> None:
        """Outages are waited out inside a pass (backoff); any other failure of a pass is logged
        with its traceback and the pass retried after a growing pause, so one bad document
        does not stop the follower for good."""
        settings = self.parts.settings
        stop = stop or asyncio.Event()
        wake = asyncio.Event()
        listener = asyncio.create_task(self._listen(wake, stop))
        pause = Backoff.from_settings(settings.backoff)
        failures = 0
        try:
            while not stop.is_set():
                wake.clear()
                timeout = settings.poll_interval
                try:
                    await self.run_pass()
                    failures = 0
                except Exception:
                    self.on_failure()
                    failures += 1
                    timeout = pause.delay(failures)
                    log.exception("sync.pass_failed", failures=failures, retry_in=timeout)
                    wake.clear()
                waiters = [asyncio.create_task(wake.wait()), asyncio.create_task(stop.wait())]
                await asyncio.wait(waiters, timeout=timeout, return_when="FIRST_COMPLETED")
                for waiter in waiters:
                    waiter.cancel()
        finally:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)

    async def _listen(self, wake: asyncio.Event, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.parts.call(lambda: self._listen_until_lost(wake, stop))

    async def _listen_until_lost(self, wake: asyncio.Event, stop: asyncio.Event) -> None:
        async with self.parts.db.listen(CHANNEL, wake.set) as lost:
            wake.set()  # anything queued while not listening is picked up now
            log.info("sync.listening", channel=CHANNEL)
            waiters = [asyncio.create_task(lost.wait()), asyncio.create_task(stop.wait())]
            try:
                await asyncio.wait(waiters, return_when="FIRST_COMPLETED")
            finally:
                for waiter in waiters:
                    waiter.cancel()
        if lost.is_set() and not stop.is_set():
            raise ConnectionError("the LISTEN connection was lost")
