"""The bell, live: the unread count over Server-Sent Events moves when a notification arrives
and when it is read (served by uvicorn, as a browser's EventSource meets it)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import uvicorn

from kinoteka.app import create_app
from kinoteka.services import Services
from tests.conftest import free_port
from tests.notify.conftest import bearer, sign_up


@pytest.fixture
def server(services: Services) -> Iterator[str]:
    port = free_port()
    app = create_app(services, ["auth", "notify"], run_background=True)
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(15)


@pytest.fixture
async def http(server: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server, timeout=20) as client:
        yield client


async def test_the_unread_count_streams_as_it_changes(http: httpx.AsyncClient) -> None:
    account = await sign_up(http)
    headers = bearer(account["token"])
    seen: list[str] = []
    async with http.stream("GET", "/api/v1/notify/inbox/stream", headers=headers) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.aiter_lines()

        async def next_count() -> str:
            async with asyncio.timeout(20):
                async for line in lines:
                    if line.startswith("data:"):
                        return line.removeprefix("data:").strip()
            raise AssertionError("the stream ended")

        seen.append(await next_count())
        if seen[-1] == "0":  # the welcome was not in the inbox yet: it arrives live
            seen.append(await next_count())
        assert seen[-1] == "1"
        read = await http.post("/api/v1/notify/inbox/read-all", headers=headers)
        assert read.status_code == 204
        assert await next_count() == "0"
