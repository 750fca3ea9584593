"""What every port raises when its store cannot answer right now: `StoreUnavailable`.

A port translates its driver's connection errors and timeouts into a subclass of it
(`CacheUnavailable`, `DatabaseUnavailable`, ...), so the app maps every outage to one answer
(a JSON 503 with `Retry-After`, `kinoteka.error_responses`) instead of a 500 per driver.
"""

from __future__ import annotations


class StoreUnavailable(Exception):
    """`store` could not be reached or did not answer in time; worth retrying later."""

    store: str = "store"
    retry_after: int = 5
    """Seconds a client is told to wait before retrying."""

    def __init__(self, message: str, *, store: str | None = None) -> None:
        super().__init__(message)
        if store is not None:
            self.store = store
