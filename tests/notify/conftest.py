"""Notify fixtures: an SMTP server (aiosmtpd) started here, the app with auth and notify over a
fresh database and Redis, its worker running in the background, and quick retries."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from kinoteka.app import create_app
from kinoteka.auth.settings import AuthSettings
from kinoteka.clients import build_services
from kinoteka.infra.footprint import StoreUrls
from kinoteka.notify.settings import NotifySettings
from kinoteka.services import Services
from kinoteka.settings import Settings
from tests.auth.conftest import FAST_HASH
from tests.conftest import free_port

PASSWORD = "correct horse 42"


@dataclass
class Mailbox:
    """What the SMTP server accepted, parsed."""

    messages: list[EmailMessage] = field(default_factory=list)
    hold: threading.Event | None = None
    """While set to an unset event, the server keeps each DATA waiting (a slow server)."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        hold = self.hold
        if hold is not None:
            await asyncio.get_running_loop().run_in_executor(None, hold.wait, 30)
            return "451 try again later"
        assert isinstance(envelope.content, bytes)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.messages.append(parsed)
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if m["To"] == address]


class SmtpServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.mailbox = Mailbox()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


def notify_settings(smtp_port: int, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "smtp_port": smtp_port,
        "retry_base_delay": 0.05,
        "retry_max_delay": 0.4,
        "max_attempts": 4,
        "poll_interval": 0.05,
        "broadcast_chunk": 3,
        "public_url": "http://testserver",
        **overrides,
    }
    return Settings(
        auth=AuthSettings(
            password_hash=FAST_HASH,
            redis_prefix=f"t{uuid.uuid4().hex[:10]}",
            public_url="http://testserver",
        ),
        notify=NotifySettings(**values),
        secret_key="test-secret-for-keys",
    )


async def make_services(
    database_url: str, redis_url: str, settings: Settings, search_url: str = ""
) -> Services:
    urls = StoreUrls(database_url=database_url, redis_url=redis_url, search_url=search_url,
                     storage_url="")  # fmt: skip
    return build_services(settings, urls)


@pytest.fixture
def settings(smtp: SmtpServer) -> Settings:
    return notify_settings(smtp.port)


@pytest.fixture
async def services(
    fresh_database: str, flushed_redis: str, settings: Settings, tmp_path: Path
) -> AsyncIterator[Services]:
    # An empty search index, opened only by the web pages (`site`).
    search_url = f"tantivy://{tmp_path / 'index'}"
    built = await make_services(fresh_database, flushed_redis, settings, search_url)
    yield built
    await built.close()


@pytest.fixture
async def client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """The app with auth and notify, the notify worker running as under `kinoteka up`."""
    app = create_app(services, ["auth", "notify"], run_background=True)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


@pytest.fixture
async def site(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """`client`'s app with the web pages too: what a link in a mail opens."""
    app = create_app(services, ["auth", "notify", "web"], run_background=True)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


FORM = re.compile(r'<form method="post" action="([^"]+)".*?</form>', re.DOTALL)
FIELD = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


async def follow_reset_link(
    client: httpx.AsyncClient, link: str, new_password: str
) -> httpx.Response:
    """What a reader of the reset mail does: open its link in a browser (signed out), type a
    new password into the page's form and send it; the form's answer."""
    page = await client.get(link)
    assert page.status_code == 200, page.text
    form = FORM.search(page.text)
    assert form is not None, "the reset page has no form"
    fields = dict(FIELD.findall(form.group(0)))
    assert "csrftoken" in fields
    assert "code" in fields  # filled in from the link: the reader types only the password
    assert 'name="password"' in form.group(0)
    return await client.post(form.group(1), data={**fields, "password": new_password})


async def eventually(check: Callable[[], Awaitable[Any]] | Callable[[], Any],
                     seconds: float = 15.0) -> Any:  # fmt: skip
    """Poll `check` until it returns something truthy (the value), or fail at the deadline."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.02)


def new_email() -> str:
    return f"viewer-{uuid.uuid4().hex[:8]}@example.com"


async def sign_up(client: httpx.AsyncClient, address: str | None = None) -> dict[str, Any]:
    address = address or new_email()
    answer = await client.post("/api/v1/auth/signup",
                               json={"email": address, "password": PASSWORD})  # fmt: skip
    assert answer.status_code == 201, answer.text
    body = answer.json()
    return {"email": address, "id": body["id"], "token": body["tokens"]["access_token"]}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def bodies(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    assert html is not None
    return str(text.get_content()), str(html.get_content())


async def sign_in_as(client: httpx.AsyncClient, services: Services, role: str) -> dict[str, str]:
    """A new account holding `role`, signed in: its bearer header."""
    from kinoteka.auth.service import create_user

    address = new_email()
    async with services.db.session() as session:
        await create_user(session, services.auth, address, PASSWORD, roles=(role,))
    answer = await client.post("/api/v1/auth/login", json={"email": address, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return bearer(answer.json()["access_token"])
