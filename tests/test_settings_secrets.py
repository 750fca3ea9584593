"""The secret key: refused when empty, default or shorter than 32 bytes in production."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kinoteka.settings import Environment, SettingsError, load_settings


@pytest.mark.parametrize(
    ("env", "secret", "reason"),
    [
        (Environment.PRODUCTION, "x", "too short for production (1 of at least 32 bytes)"),
        (Environment.PRODUCTION, "s" * 31, "(31 of at least 32 bytes)"),
        (Environment.PRODUCTION, "change-me-in-production", "default secret is refused"),
        (Environment.PRODUCTION, "", "must not be empty"),
        (Environment.DEVELOPMENT, "", "must not be empty"),
    ],
)
def test_weak_secrets_are_refused_in_one_line_naming_the_variable(
    tmp_path: Path, env: Environment, secret: str, reason: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(env=env, secret_key=secret, data_dir=tmp_path)
    message = str(refused.value)
    assert message.startswith("KINOTEKA_SECRET_KEY: ")
    assert reason in message
    assert "\n" not in message


def test_long_secrets_pass_and_development_keeps_its_default(tmp_path: Path) -> None:
    strong = load_settings(env=Environment.PRODUCTION, secret_key="é" * 16, data_dir=tmp_path)
    assert len(strong.secret_key.get_secret_value().encode()) == 32
    assert load_settings(env=Environment.DEVELOPMENT, data_dir=tmp_path).secret_key


def test_the_cli_stops_with_that_line(tmp_path: Path) -> None:
    env = {"KINOTEKA_ENV": "production", "KINOTEKA_SECRET_KEY": "x",
           "KINOTEKA_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "kinoteka", "db", "current"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2
    assert len(lines) == 1, result.stderr
    assert "KINOTEKA_SECRET_KEY: too short for production (1 of" in lines[0]
    assert "Traceback" not in result.stderr
