"""The bell and the inbox page: the unread count streams to the cookie session as notify
delivers, the page lists notifications and marks them read (served by uvicorn, as a
browser's EventSource meets it)."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import psycopg
import pytest

from kinoteka.app import create_app
from kinoteka.auth.outbox import AccountEvent
from kinoteka.infra.broker.port import Delivery
from kinoteka.infra.db import libpq_url
from kinoteka.infra.search import SearchIndex
from kinoteka.notify.service import handle_account_event
from tests.conftest import free_port
from tests.e2e.test_admin_browser import ServerThread
from tests.web.conftest import web_services
from tests.web.test_accounts import EMAIL, csrf_of, sign_up

Index = tuple[str, SearchIndex]
BELL = re.compile(r'<span class="bell-count" data-unread( hidden)?>(\d+)</span>')


@pytest.fixture
async def site(
    fresh_database: str, flushed_redis: str, web_index: Index, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A signed-up viewer's client of the pages served by uvicorn, and the app's database."""
    # Plain http on 127.0.0.1: the cookies cannot be Secure for this client to send them.
    services = web_services(
        fresh_database, flushed_redis, web_index, tmp_path / "site", secure_cookies=False
    )
    port = free_port()
    with ServerThread(create_app(services, ["web", "auth"]), port):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=20) as client:
            signed_up = await sign_up(client)
            assert signed_up.status_code == 303
            yield client, fresh_database


async def deliver_new_device_notice(
    database: str, redis: str, index: Index, data_dir: Path, email: str = EMAIL
) -> None:
    """What notify's worker does with auth's new-device event: an inbox item (and an email)."""
    with psycopg.connect(libpq_url(database)) as connection:
        [(user_id,)] = connection.execute(
            "SELECT id::text FROM auth.users WHERE email = %s", (email,)
        ).fetchall()
    services = web_services(database, redis, index, data_dir)  # this test's loop, not the server's
    try:
        payload = {"user_id": user_id, "email": email, "device": "Firefox on Linux",
                   "user_agent": "Firefox", "ip": "192.0.2.1",
                   "at": "2026-12-04T16:00:00Z"}  # fmt: skip
        message = Delivery(
            str(uuid.uuid4()), AccountEvent.NEW_DEVICE_SIGN_IN, orjson.dumps(payload)
        )
        await handle_account_event(services.notify, message)
    finally:
        await services.close()


async def test_the_bell_counts_live_and_the_inbox_marks_read(
    site: tuple[httpx.AsyncClient, str], flushed_redis: str, web_index: Index, tmp_path: Path
) -> None:
    client, database = site
    home = await client.get("/")
    assert BELL.search(home.text).groups() == (" hidden", "0")  # type: ignore[union-attr]
    assert 'data-stream="/web/inbox/stream"' in home.text

    async with client.stream("GET", "/web/inbox/stream") as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.aiter_lines()

        async def next_count() -> str:
            async with asyncio.timeout(20):
                async for line in lines:
                    if line.startswith("data:"):
                        return line.removeprefix("data:").strip()
            raise AssertionError("the stream ended")

        assert await next_count() == "0"
        await deliver_new_device_notice(database, flushed_redis, web_index, tmp_path / "notify")
        assert await next_count() == "1"  # live: no reload

        inbox = await client.get("/inbox")
        assert "New sign-in to your Kinoteka account" in inbox.text
        assert BELL.search(inbox.text).groups() == (None, "1")  # type: ignore[union-attr]
        item = re.search(r'name="item" value="([0-9a-f-]{36})"', inbox.text).group(1)  # type: ignore[union-attr]
        read = await client.post(
            "/inbox/read", data={"csrftoken": csrf_of(inbox.text), "item": item}
        )
        assert read.status_code == 303
        assert read.headers["location"] == "/inbox"
        assert await next_count() == "0"

    inbox = await client.get("/inbox")
    assert 'name="item"' not in inbox.text  # nothing left to mark read
    assert BELL.search(inbox.text).groups() == (" hidden", "0")  # type: ignore[union-attr]


async def test_the_inbox_needs_the_session_its_token_and_an_item_of_the_account(
    site: tuple[httpx.AsyncClient, str],
) -> None:
    client, _ = site
    inbox = await client.get("/inbox")
    assert "No notifications yet." in inbox.text
    token = csrf_of(inbox.text)
    assert (await client.post("/inbox/read", data={"item": str(uuid.uuid4())})).status_code == 403
    missing = await client.post("/inbox/read", data={"csrftoken": token, "item": str(uuid.uuid4())})
    assert missing.status_code == 404
    assert "No such notification." in missing.text
    garbled = await client.post("/inbox/read", data={"csrftoken": token, "item": "x"})
    assert garbled.status_code == 404
    everything = await client.post("/inbox/read", data={"csrftoken": token})
    assert everything.status_code == 303

    account = await client.get("/account")
    await client.post("/signout", data={"csrftoken": csrf_of(account.text)})
    assert (await client.get("/web/inbox/stream")).status_code == 401
    signed_out = await client.get("/inbox")
    assert signed_out.status_code == 303
    assert signed_out.headers["location"].startswith("/signin")
    assert "data-bell" not in (await client.get("/")).text
