"""A parametric retry-with-backoff decorator for the sync's calls to PostgreSQL and the index.

Each failed attempt is logged once (`backoff.retry`, with the call, attempt, delay and error);
the delay grows from `initial` by `factor` up to `ceiling`, with a random `jitter` share, and
the call is given up (the last error raised) after `give_up_after` seconds when that is set.
"""

from __future__ import annotations

import asyncio
import functools
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

import structlog

from kinoteka.search.settings import BackoffSettings

log = structlog.get_logger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Backoff:
    initial: float = 0.1
    factor: float = 2.0
    ceiling: float = 10.0
    jitter: float = 0.1
    give_up_after: float | None = None

    @classmethod
    def from_settings(cls, settings: BackoffSettings) -> Backoff:
        return cls(
            initial=settings.initial,
            factor=settings.factor,
            ceiling=settings.ceiling,
            jitter=settings.jitter,
            give_up_after=settings.give_up_after,
        )

    def delay(self, attempt: int) -> float:
        """The pause after failed attempt number `attempt` (1-based)."""
        base = min(self.ceiling, self.initial * self.factor ** (attempt - 1))
        return base * (1 - self.jitter * random.random())  # noqa: S311 - jitter, not secrecy

    def __call__(
        self,
        retry_on: tuple[type[BaseException], ...],
        when: Callable[[BaseException], bool] | None = None,
    ) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
        """Decorate an async function: retry it while it raises one of `retry_on` (for which
        `when`, if given, holds; other errors propagate at once)."""

        def decorate(function: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
            name = getattr(function, "__qualname__", repr(function))

            @functools.wraps(function)
            async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
                started = time.monotonic()
                attempt = 0
                while True:
                    attempt += 1
                    try:
                        return await function(*args, **kwargs)
                    except retry_on as error:
                        if when is not None and not when(error):
                            raise
                        delay = self.delay(attempt)
                        elapsed = time.monotonic() - started
                        if self.give_up_after is not None and elapsed + delay > self.give_up_after:
                            log.error("backoff.give_up", call=name, attempts=attempt,
                                      error=f"{type(error).__name__}: {error}"[:300])  # fmt: skip
                            raise
                        log.warning("backoff.retry", call=name, attempt=attempt,
                                    delay=round(delay, 3),
                                    error=f"{type(error).__name__}: {error}"[:300])  # fmt: skip
                        await asyncio.sleep(delay)

            return wrapper

        return decorate
