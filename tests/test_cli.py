"""`kinoteka up` end to end: starts, is healthy, restarts on its data, leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.conftest import free_port

KINOTEKA = [sys.executable, "-m", "kinoteka"]
START_TIMEOUT = 90.0


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("KINOTEKA_")}
    env.update({"KINOTEKA_DATA_DIR": str(data_dir), "KINOTEKA_DEMO__FILMS": "300",
                "KINOTEKA_MEDIA__DEMO_CLIPS": "false"}, **extra)  # fmt: skip
    return env


def _servers_of(data_dir: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            cmdline = " ".join(process.info["cmdline"] or [])
        except psutil.Error:
            continue
        if str(data_dir) in cmdline and ("postgres" in cmdline or "redis-server" in cmdline):
            found.append(process)
    return found


def _wait_healthy(port: int, process: subprocess.Popen[bytes]) -> dict[str, object]:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"kinoteka up exited early with {process.returncode}")
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
        except httpx.TransportError:
            time.sleep(0.2)
            continue
        body: dict[str, object] = response.json()
        if response.status_code == 200:
            return body
        time.sleep(0.2)
    raise AssertionError("kinoteka up did not become healthy in time")


def _wait_gone(data_dir: Path, timeout: float = 20.0) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = _servers_of(data_dir)
        if not left:
            return []
        time.sleep(0.2)
    return _servers_of(data_dir)


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "kt"
    yield path
    for process in _servers_of(path):  # never leak servers, even when a test fails
        process.kill()


def _start(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*KINOTEKA, "up", "--port", str(port)],
        env=_env(data_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _film_count(data_dir: Path) -> int:
    """Count films straight from the embedded server (socket dir: line 5 of postmaster.pid)."""
    import psycopg

    pgdata = data_dir / "postgres"
    socket_dir = (pgdata / "postmaster.pid").read_text().splitlines()[4]
    with psycopg.connect(f"postgresql://postgres@/postgres?host={socket_dir}") as connection:
        row = connection.execute("SELECT count(*) FROM content.film_work").fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.slow
def test_up_serves_health_restarts_on_its_data_and_stops_clean(data_dir: Path) -> None:
    port = free_port()
    first = _start(data_dir, port)
    try:
        health = _wait_healthy(port, first)
        stores = health["stores"]
        assert isinstance(stores, dict)
        assert {"postgres", "redis"} <= set(stores)
        assert all(store["ok"] for store in stores.values())
        assert httpx.get(f"http://127.0.0.1:{port}/docs").status_code == 200
        assert _servers_of(data_dir), "embedded servers run under the data directory"
        assert _film_count(data_dir) == 300
    finally:
        first.send_signal(signal.SIGINT)
        output = first.communicate(timeout=30)[0].decode()
    assert first.returncode == 0, output
    assert "Traceback" not in output
    assert _wait_gone(data_dir) == []

    # Killed hard: servers and pid files are left behind; the next start recovers from them.
    second = _start(data_dir, port)
    _wait_healthy(port, second)
    second.kill()
    second.wait(10)
    third = _start(data_dir, port)
    try:
        _wait_healthy(port, third)
        assert _film_count(data_dir) == 300, "the same data, no second demo load"
    finally:
        third.send_signal(signal.SIGTERM)  # what a service manager sends
        third.communicate(timeout=30)
    assert third.returncode == 0
    assert _wait_gone(data_dir) == []


def test_invalid_setting_stops_start_up_with_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [*KINOTEKA, "db", "current"],
        env=_env(tmp_path, KINOTEKA_PORT="eighty", KINOTEKA_LOG__LEVEL="LOUD"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "KINOTEKA_PORT" in lines[0]
    assert "KINOTEKA_LOG__LEVEL" in lines[0]
    assert "Traceback" not in result.stderr


def test_settings_come_from_kinoteka_yaml(tmp_path: Path) -> None:
    (tmp_path / "kinoteka.yaml").write_text("port: 9123\ndemo:\n  films: 7\n")
    code = "from kinoteka.settings import load_settings as l; s = l(); print(s.port, s.demo.films)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.split() == ["9123", "300"]  # the environment wins over the file
    env = _env(tmp_path)
    del env["KINOTEKA_DEMO__FILMS"]
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
        timeout=60, check=True,
    )  # fmt: skip
    assert result.stdout.split() == ["9123", "7"]


@pytest.mark.slow
def test_serve_runs_one_context_alone_and_stops_on_sigterm(data_dir: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [*KINOTEKA, "serve", "content", "--port", str(port)],
        env=_env(data_dir, KINOTEKA_CONTENT_PUBLIC="true"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert process.poll() is None, "kinoteka serve exited early"
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api/v1/genres", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "kinoteka serve did not answer"
                time.sleep(0.2)
        # Nothing was synced into this data directory: a reason, not a crash.
        assert response.status_code == 503
        assert "search index" in response.json()["detail"]
        paths = httpx.get(f"http://127.0.0.1:{port}/openapi.json").json()["paths"]
        assert "/api/v1/films" in paths
        assert not any(path.startswith("/api/v1/auth") for path in paths), "content alone"
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=30)[0].decode()
    assert process.returncode == 0, output
    assert _wait_gone(data_dir) == []
