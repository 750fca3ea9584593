"""The embedded footprint's SMTP sink: a reset mail sent by the worker lands as an `.eml` file,
`kinoteka notify mail` prints it with its link, and the link resets the password; the
footprint runs the sink only for `up` and only without a configured SMTP server."""

from __future__ import annotations

import email
import email.policy
import re
import smtplib
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from kinoteka.infra.footprint import Footprint
from kinoteka.infra.mailsink import MailSink, answering, stored_mail
from kinoteka.notify.cli import app as notify_cli
from kinoteka.services import Services
from kinoteka.settings import Settings, load_settings
from tests.conftest import free_port
from tests.notify.conftest import (
    PASSWORD,
    eventually,
    follow_reset_link,
    notify_settings,
    sign_up,
)


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[MailSink]:
    kept = MailSink(tmp_path / "data" / "mail", "127.0.0.1", free_port())
    kept.start()
    yield kept
    kept.stop()


@pytest.fixture
def settings(sink: MailSink) -> Settings:
    return notify_settings(sink.port)


def _read(path: Path) -> EmailMessage:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


async def test_a_reset_mail_lands_in_the_sink_and_its_link_works(
    site: httpx.AsyncClient, sink: MailSink, services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    client = site
    account = await sign_up(client)
    asked = await client.post("/api/v1/auth/password/reset-request",
                              json={"email": account["email"]})  # fmt: skip
    assert asked.status_code == 202

    def reset_mail() -> list[EmailMessage]:
        kept = [_read(path) for path in stored_mail(sink.directory)]
        return [m for m in kept if m["Subject"] == "Reset your Kinoteka password"]

    (mail,) = await eventually(reset_mail)
    assert mail["To"] == account["email"]
    assert mail.get_body(("html",)) is not None

    # What a newcomer runs to click the link.
    monkeypatch.setenv("KINOTEKA_DATA_DIR", str(sink.directory.parent))
    # The welcome and the reset mail are sent concurrently, in either order: show both.
    printed = CliRunner().invoke(notify_cli, ["mail", "--last", "2"])
    assert printed.exit_code == 0, printed.output
    assert "Reset your Kinoteka password" in printed.output
    found = re.search(r"http://testserver(/password-reset\?token=\S+)", printed.output)
    assert found is not None
    new_password = "a brand new secret 9"
    done = await follow_reset_link(client, found.group(1), new_password)
    assert done.status_code == 303
    new = await client.post("/api/v1/auth/login",
                            json={"email": account["email"], "password": new_password})  # fmt: skip
    assert new.status_code == 200
    old = await client.post("/api/v1/auth/login",
                            json={"email": account["email"], "password": PASSWORD})  # fmt: skip
    assert old.status_code == 401


def test_the_cli_says_where_mail_would_be_when_there_is_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KINOTEKA_DATA_DIR", str(tmp_path))
    printed = CliRunner().invoke(notify_cli, ["mail"])
    assert printed.exit_code == 1
    assert "no mail in" in printed.output


def test_the_footprint_runs_the_sink_only_without_a_configured_server(tmp_path: Path) -> None:
    configured = load_settings(data_dir=tmp_path, notify={"smtp_port": free_port()})
    with Footprint(configured, database=False, redis=False, mail=True) as urls:
        assert urls.mail is None
        assert "mail" not in urls.embedded

    default = load_settings(data_dir=tmp_path)
    host, port = default.notify.smtp_host, default.notify.smtp_port
    taken = answering(host, port)
    with Footprint(default, database=False, redis=False, mail=True) as urls:
        if taken:  # another `up` or a developer's mail catcher has the address: leave it be
            assert urls.mail == f"smtp://{host}:{port} (a server already answers there)"
            return
        assert urls.embedded["mail"] == str(tmp_path / "mail")
        with smtplib.SMTP(host, port, timeout=5) as server:
            server.sendmail("a@example.com", ["b@example.com"], b"Subject: hi\r\n\r\nhello\r\n")
        (kept,) = stored_mail(tmp_path / "mail")
        assert _read(kept)["Subject"] == "hi"
    assert not answering(host, port)  # stopped with the footprint
