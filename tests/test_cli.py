"""`kinoteka up` end to end: starts, is healthy, restarts on its data, leaves nothing behind."""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
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
            output = process.communicate()[0].decode(errors="replace")
            raise AssertionError(f"kinoteka up exited early with {process.returncode}:\n{output}")
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
def data_dir() -> Iterator[Path]:
    """A data directory outside pytest's temporary root: pytest keeps that root private
    (0700, and re-applies it when another session starts), while the embedded PostgreSQL runs
    as its own system user when the tests run as root."""
    root = Path(tempfile.mkdtemp(prefix="kinoteka-cli-"))
    root.chmod(0o755)
    path = root / "kt"
    yield path
    for process in _servers_of(path):  # never leak servers, even when a test fails
        process.kill()
    shutil.rmtree(root, ignore_errors=True)


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
        env=_env(data_dir, KINOTEKA_CONTENT__PUBLIC="true"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                output = process.communicate()[0].decode(errors="replace")
                raise AssertionError(f"kinoteka serve exited early:\n{output}")
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


HEAVY = ("fastapi", "sqlalchemy", "alembic", "tantivy", "uvicorn", "asyncpg", "redis", "psycopg")


def _imported_by(args: list[str]) -> set[str]:
    """Top-level packages a `kinoteka` invocation imports (read from `-X importtime`)."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "kinoteka", *args],
        env=_env(Path("/nonexistent")),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    modules = {
        line.rsplit("|", 1)[-1].strip().split(".")[0]
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "typer" in modules, result.stderr[-2000:]
    return modules


@pytest.mark.parametrize(
    "args", [["--help"], ["auth", "--help"], ["catalog", "--help"], ["sync", "--help"],
             ["db", "--help"], ["up", "--help"]],
)  # fmt: skip
def test_help_imports_no_framework_or_store_client(args: list[str]) -> None:
    """`kinoteka --help` took ~4 s importing the whole platform (issue #13 item 9)."""
    assert _imported_by(args).isdisjoint(HEAVY)


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_up_on_a_busy_port_says_so_before_starting_anything(tmp_path: Path) -> None:
    """It used to migrate and load the whole index before failing to bind (issue #13 item 8)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*KINOTEKA, "up"], env=_env(tmp_path / "kt", KINOTEKA_PORT=str(port)),
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    line = _one_line_error(result)
    assert f"127.0.0.1:{port}" in line
    assert "in use" in line
    assert "--port" in line
    assert "KINOTEKA_PORT" in line
    assert not (tmp_path / "kt").exists(), "no store was started"


def test_import_of_a_missing_file_says_so_before_starting_anything(tmp_path: Path) -> None:
    missing = tmp_path / "nope.sqlite"
    result = subprocess.run(
        [*KINOTEKA, "catalog", "import-sqlite", str(missing)], env=_env(tmp_path / "kt"),
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert f"{missing}: no such file" in _one_line_error(result)
    assert not (tmp_path / "kt").exists(), "no store was started"


def test_up_with_a_missing_demo_file_says_so_before_starting_anything(tmp_path: Path) -> None:
    missing = tmp_path / "films.sqlite"
    result = subprocess.run(
        [*KINOTEKA, "up", "--port", str(free_port())],
        env=_env(tmp_path / "kt", KINOTEKA_DEMO__SQLITE=str(missing)),
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    line = _one_line_error(result)
    assert str(missing) in line
    assert "KINOTEKA_DEMO__SQLITE" in line
    assert not (tmp_path / "kt").exists(), "no store was started"


def test_start_up_table_shows_whole_urls_wrapped(tmp_path: Path) -> None:
    """A narrow terminal cut URLs with an ellipsis (issue #13 item 10)."""
    from rich.console import Console

    from kinoteka.cli import _summary
    from kinoteka.infra.footprint import StoreUrls
    from kinoteka.settings import Settings

    deep = tmp_path / ("a-rather-long-directory-name-" * 3) / "data"
    urls = StoreUrls(
        database_url=f"postgresql://postgres@/postgres?host={deep / 'socket'}",
        redis_url=f"unix://{deep / 'redis' / 'redis.sock'}",
        search_url=f"tantivy://{deep / 'search'}",
        storage_url=f"file://{deep / 'storage'}",
        embedded={"postgres": str(deep), "redis": str(deep)},
    )
    screen = Console(width=60, record=True, file=io.StringIO())
    screen.print(_summary(Settings(data_dir=deep), urls, "127.0.0.1", 8000, ["content"]))
    rows = screen.export_text().splitlines()
    assert max(len(row) for row in rows) <= 60
    # Read the "where" column top to bottom: each URL is there whole, folded over lines.
    where = "".join(row.split("│")[2].strip() for row in rows if row.count("│") == 4)
    for url in (urls.database_url, urls.redis_url, urls.search_url, urls.storage_url):
        assert url in where
    assert "…" not in screen.export_text()


ALEMBIC_CHATTER = ("Context impl", "Running upgrade", "Will assume transactional DDL")


def _kinoteka(data_dir: Path, *args: str) -> str:
    """Run a command beside `kinoteka up`; its whole output, which must be quiet and clean."""
    result = subprocess.run(
        [*KINOTEKA, *args], env=_env(data_dir, KINOTEKA_DEMO__FILMS="20"),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Traceback" not in output
    assert not any(chatter in output for chatter in ALEMBIC_CHATTER), output
    return output


def _genres(port: int, token: str, deadline: float) -> httpx.Response:
    """The content API, polled until the first index load has filled it."""
    while True:
        response = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/genres",
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        )
        if response.status_code != 503 or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


@pytest.mark.slow
def test_commands_beside_up_attach_to_its_servers_and_leave_them_running(
    data_dir: Path,
) -> None:
    """Issue #13 item 1: `auth create-superuser` beside `up` killed up's Redis on exit."""
    port = free_port()
    up = subprocess.Popen(
        [*KINOTEKA, "up", "--port", str(port)],
        env=_env(data_dir, KINOTEKA_DEMO__FILMS="20"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    email, password = "root@example.com", "a long enough secret 42"
    try:
        _wait_healthy(port, up)
        servers = {process.pid for process in _servers_of(data_dir)}
        _kinoteka(data_dir, "auth", "create-superuser", "--email", email, "--password", password)
        _kinoteka(data_dir, "auth", "grant-role", email, "subscriber")
        _kinoteka(data_dir, "sync", "status")
        assert "catalog_0" in _kinoteka(data_dir, "db", "current")

        assert {process.pid for process in _servers_of(data_dir)} >= servers, "none stopped"
        health = httpx.get(f"{base}/health", timeout=5)
        assert health.status_code == 200, health.text
        login = httpx.post(
            f"{base}/api/v1/auth/login", json={"email": email, "password": password}, timeout=10
        )
        assert login.status_code == 200, login.text
        token = login.json()["access_token"]
        me = httpx.get(f"{base}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert "subscriber" in me.json()["roles"], me.text
        genres = _genres(port, token, deadline=time.monotonic() + 30)
        assert genres.status_code == 200, genres.text

        # chDB opens its directory in one process: commands ask `up` for the tables.
        deadline = time.monotonic() + 60
        while "get_genres_page_views\t0" in (counts := _kinoteka(data_dir, "analytics", "counts")):
            assert time.monotonic() < deadline, counts  # the page views above, loaded
            time.sleep(1)
        assert len(counts.splitlines()) == 11, counts  # the seed's ten tables, player_events
        assert _kinoteka(data_dir, "analytics", "query", "SELECT 6 * 7").strip() == "42"
        written = subprocess.run(
            [*KINOTEKA, "analytics", "query", "DROP DATABASE tracking_user_events"],
            env=_env(data_dir), capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert written.returncode != 0
        assert "only read queries" in written.stdout + written.stderr
    finally:
        up.send_signal(signal.SIGTERM)
        output = up.communicate(timeout=30)[0].decode()
        print(output)  # shown by pytest when the test fails
    assert up.returncode == 0, output
    assert not any(chatter in output for chatter in ALEMBIC_CHATTER), output
    assert _wait_gone(data_dir) == [], "no server of this data directory is left, zombie or not"
    assert not (data_dir / "analytics.sock").exists()
