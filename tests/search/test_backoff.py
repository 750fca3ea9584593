"""The retry decorator: growing, capped, jittered delays; give-up; only chosen errors retried."""

from __future__ import annotations

import asyncpg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kinoteka.infra.db import driver_error
from kinoteka.search.backoff import Backoff
from kinoteka.search.sync import RETRYABLE, is_transient


@given(
    initial=st.floats(0.001, 5),
    factor=st.floats(1, 4),
    ceiling=st.floats(0.01, 60),
    jitter=st.floats(0, 1),
    attempt=st.integers(1, 80),
)
def test_delay_grows_from_initial_and_stays_under_the_ceiling(
    initial: float, factor: float, ceiling: float, jitter: float, attempt: int
) -> None:
    backoff = Backoff(initial=initial, factor=factor, ceiling=ceiling, jitter=jitter)
    base = min(ceiling, initial * factor ** (attempt - 1))
    delay = backoff.delay(attempt)
    assert base * (1 - jitter) - 1e-9 <= delay <= base + 1e-9


async def test_retries_until_the_call_succeeds() -> None:
    calls = 0

    @Backoff(initial=0.001, ceiling=0.002)((ConnectionError,))
    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 4:
            raise ConnectionError("down")
        return "up"

    assert await flaky() == "up"
    assert calls == 4


async def test_gives_up_after_the_limit_with_the_last_error() -> None:
    calls = 0

    @Backoff(initial=0.01, factor=1, ceiling=0.01, give_up_after=0.05)((ConnectionError,))
    async def down() -> None:
        nonlocal calls
        calls += 1
        raise ConnectionError(f"down {calls}")

    with pytest.raises(ConnectionError, match="down"):
        await down()
    assert 2 <= calls <= 6


async def test_other_errors_and_rejected_ones_propagate_at_once() -> None:
    calls = 0

    @Backoff(initial=0.001)((OSError,), when=lambda error: not isinstance(error, FileExistsError))
    async def broken(error: Exception) -> None:
        nonlocal calls
        calls += 1
        raise error

    with pytest.raises(ValueError, match="bug"):
        await broken(ValueError("bug"))
    with pytest.raises(FileExistsError):
        await broken(FileExistsError("exists"))
    assert calls == 2


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (asyncpg.exceptions.QueryCanceledError("canceling statement"), True),
        (asyncpg.exceptions.AdminShutdownError("terminating connection"), True),
        (asyncpg.exceptions.DeadlockDetectedError("deadlock"), True),
        (asyncpg.exceptions.PostgresSyntaxError("syntax error"), False),
        (asyncpg.exceptions.UndefinedTableError("no such table"), False),
    ],
)
def test_driver_errors_of_a_full_load_page_are_retried_only_when_transient(
    error: BaseException, transient: bool
) -> None:
    raised = driver_error(error, "SELECT ...")  # what `fetch_column` raises for it
    assert isinstance(raised, RETRYABLE)
    assert is_transient(raised) is transient
