"""`kinoteka sync …` end to end on a small catalog: run, status, verify (and its exit code)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kinoteka.cli import app
from kinoteka.search.service import open_index
from kinoteka.search.settings import SearchSettings
from tests.search.conftest import execute, seed_small_catalog


@pytest.fixture
def cli_env(fresh_database: str, tmp_path: Path) -> dict[str, str]:
    return {
        "KINOTEKA_DATABASE_URL": fresh_database,
        "KINOTEKA_SEARCH_URL": f"tantivy://{tmp_path / 'index'}",
        "KINOTEKA_DATA_DIR": str(tmp_path / "data"),
        "KINOTEKA_LOG__LEVEL": "WARNING",
    }


def test_run_status_verify_with_a_yaml_checkpoint(
    fresh_database: str, cli_env: dict[str, str], tmp_path: Path
) -> None:
    catalog = seed_small_catalog(fresh_database)
    runner = CliRunner()
    state = str(tmp_path / "state.yaml")

    first = runner.invoke(app, ["sync", "run", "--once", "--state-file", state], env=cli_env)
    assert first.exit_code == 0, first.output
    assert "loaded 8" in first.output
    assert "loaded: true" in Path(state).read_text()

    execute(fresh_database, "UPDATE content.genre SET description = 'Space' WHERE name = 'Sci-Fi'")
    status = runner.invoke(app, ["sync", "status", "--state-file", state], env=cli_env)
    assert status.exit_code == 0, status.output
    assert "queued changes" in status.output
    assert "│ 4 " in status.output  # the genre and its three films

    verify = runner.invoke(app, ["sync", "verify", "--state-file", state], env=cli_env)
    assert verify.exit_code == 1  # the edit has not been synced yet
    assert "differs" in verify.output

    again = runner.invoke(app, ["sync", "run", "--once", "--state-file", state], env=cli_env)
    assert "loaded 0, upserted 4" in again.output
    verify = runner.invoke(app, ["sync", "verify", "--state-file", state], env=cli_env)
    assert verify.exit_code == 0, verify.output
    assert "equal" in verify.output

    async def drop_a_film() -> None:
        index = open_index(cli_env["KINOTEKA_SEARCH_URL"], SearchSettings())
        await index.bulk("movies", deletes=[catalog.films["Alien"]])
        await index.close()

    asyncio.run(drop_a_film())
    verify = runner.invoke(app, ["sync", "verify", "--state-file", state], env=cli_env)
    assert verify.exit_code == 1
    assert "movies  │ 3       │ 2" in verify.output


def test_rebuild_from_the_command_line(fresh_database: str, cli_env: dict[str, str]) -> None:
    seed_small_catalog(fresh_database)
    runner = CliRunner()
    assert runner.invoke(app, ["sync", "run", "--once"], env=cli_env).exit_code == 0
    rebuilt = runner.invoke(app, ["sync", "rebuild"], env=cli_env)
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "movies: 3 documents" in rebuilt.output
    assert runner.invoke(app, ["sync", "verify"], env=cli_env).exit_code == 0


def test_invalid_search_setting_is_one_line(cli_env: dict[str, str]) -> None:
    env = {**cli_env, "KINOTEKA_SEARCH__BATCH_SIZE": "0"}
    result = CliRunner().invoke(app, ["sync", "status"], env=env)
    assert result.exit_code == 2
    assert "KINOTEKA_SEARCH__BATCH_SIZE" in result.output


def test_status_shows_the_backlog_draining_with_an_eta(
    fresh_database: str, cli_env: dict[str, str]
) -> None:
    from tests.search.test_changes import bulk_insert_films

    seed_small_catalog(fresh_database)
    runner = CliRunner()
    assert runner.invoke(app, ["sync", "run", "--once"], env=cli_env).exit_code == 0
    bulk_insert_films(fresh_database, 200)
    assert runner.invoke(app, ["sync", "run", "--once"], env=cli_env).exit_code == 0
    idle = runner.invoke(app, ["sync", "status"], env=cli_env)
    assert idle.exit_code == 0, idle.output
    assert "backlog" not in idle.output

    execute(fresh_database, "UPDATE content.film_work SET rating = 7.0")  # 203 changes queued
    status = runner.invoke(app, ["sync", "status"], env=cli_env)
    assert status.exit_code == 0, status.output
    assert "│ 203 " in status.output
    assert "draining at" in status.output
    assert "changes/s, ETA 0:" in status.output
