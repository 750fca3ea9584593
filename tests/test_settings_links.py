"""Links in mail open the site that sent them: the public URLs follow the served address."""
# ruff: noqa: S104 - wildcard addresses are the subject here

from __future__ import annotations

from pathlib import Path

import pytest

from kinoteka.cli import _address
from kinoteka.settings import load_settings


def test_unset_public_urls_follow_the_port_and_host(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, port=8300)
    assert settings.auth.public_url == "http://127.0.0.1:8300"
    assert settings.notify.public_url == "http://127.0.0.1:8300"
    assert load_settings(data_dir=tmp_path).notify.public_url == "http://127.0.0.1:8000"


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("0.0.0.0", "http://127.0.0.1:8080"),
        ("::", "http://[::1]:8080"),
        ("cinema.lan", "http://cinema.lan:8080"),
        ("fe80::1", "http://[fe80::1]:8080"),
    ],
)
def test_a_wildcard_host_is_reached_on_the_loopback(tmp_path: Path, host: str, url: str) -> None:
    assert load_settings(data_dir=tmp_path, host=host, port=8080).auth.public_url == url


def test_a_set_public_url_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KINOTEKA_NOTIFY__PUBLIC_URL", "https://cinema.example")
    settings = load_settings(data_dir=tmp_path, port=8300)
    assert settings.notify.public_url == "https://cinema.example"
    assert settings.auth.public_url == "http://127.0.0.1:8300"


def test_command_line_address_overrides_only_what_was_given() -> None:
    assert _address(None, None) == {}
    assert _address(None, 8300) == {"port": 8300}
    assert _address("0.0.0.0", 9000) == {"host": "0.0.0.0", "port": 9000}
