"""The announcements page inside the back office (`/admin/notify`): only for `notify.send`,
in the admin's layout, its forms guarded by the admin's CSRF check; compose, preview, send or
schedule, cancel, and the failures and dead letters with their errors."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psycopg
import pytest

from kinoteka.infra import csrf
from kinoteka.infra.db import libpq_url
from kinoteka.notify.kit import EMAIL_TOPIC, GROUP
from kinoteka.notify.settings import NotifySettings
from tests.catalog.app_fixtures import AS_IS, PASSWORD, Panel, admin_panel

EDITOR = "editor@example.com"
CATALOGUER = "cataloguer@example.com"
PAGE = "/admin/notify"


@pytest.fixture
async def panel(fresh_database: str, flushed_redis: str, tmp_path: Path) -> AsyncIterator[Panel]:
    # A role that enters the admin but may not send announcements.
    with psycopg.connect(libpq_url(fresh_database)) as connection:
        connection.execute(
            "INSERT INTO auth.role (id, name, description, permissions) VALUES "
            "(gen_random_uuid(), 'cataloguer', 'Catalog only', "
            "ARRAY['admin.access', 'catalog.write'])"
        )
    users = {EDITOR: ["admin"], CATALOGUER: ["cataloguer"]}
    notify = NotifySettings(broker_prefix=f"t{uuid.uuid4().hex[:8]}", max_attempts=1)
    async with admin_panel(fresh_database, flushed_redis, tmp_path, users, notify=notify) as built:
        yield built


async def _sign_in(client: httpx.AsyncClient, email: str) -> None:
    answer = await client.post("/admin/login", data={"username": email, "password": PASSWORD})
    assert answer.status_code == 302


def _token(page: str) -> str:
    found = re.search(r'name="csrftoken" value="([^"]+)"', page)
    assert found is not None, "the form carries no CSRF token"
    return found.group(1)


async def test_only_senders_see_the_page(panel: Panel) -> None:
    client = panel.client
    assert (await client.get(PAGE)).headers["location"].endswith("/admin/login")
    await _sign_in(client, CATALOGUER)
    assert (await client.get(PAGE)).status_code == 403
    assert "Announcements" not in (await client.get("/admin/")).text
    await client.get("/admin/logout")
    await _sign_in(client, EDITOR)
    page = await client.get(PAGE)
    assert page.status_code == 200
    assert "Announcements" in (await client.get("/admin/")).text
    assert 'id="navbar-menu"' in page.text  # inside the admin's layout
    assert 'id="compose"' in page.text


async def test_compose_preview_schedule_and_cancel(panel: Panel) -> None:
    client = panel.client
    await _sign_in(client, EDITOR)
    token = _token((await client.get(PAGE)).text)
    draft = {"csrftoken": token, "subject": "Новинка <b>", "body": "Смотрите <script>x</script>",
             "audience": "everyone", "locale": "ru", "action": "preview"}  # fmt: skip

    # Without the token (a forged cross-site post) nothing happens.
    forged = await client.post(PAGE, data={**draft, "csrftoken": ""}, extensions={AS_IS: True})
    assert forged.status_code == 403

    shown = await client.post(PAGE, data=draft, extensions={AS_IS: True})
    assert shown.status_code == 200
    assert 'id="preview"' in shown.text
    assert "Отписаться" in shown.text
    assert "<script>x</script>" not in shown.text  # escaped in the frame's srcdoc and the text
    assert panel.rows("SELECT count(*) FROM notify.broadcast") == [(0,)]

    empty = await client.post(PAGE, data={**draft, "subject": "", "action": "send"})
    assert empty.status_code == 400
    assert "subject" in empty.text
    genre = await client.post(PAGE, data={**draft, "action": "send", "audience": "genre",
                                          "genre": str(uuid.uuid4())})  # fmt: skip
    assert genre.status_code == 422
    assert "audience: no genre" in genre.text
    when = await client.post(PAGE, data={**draft, "action": "send", "send_at": "tomorrow"})
    assert when.status_code == 400
    assert "send at" in when.text

    later = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    sent = await client.post(PAGE, data={**draft, "action": "send", "subject": "Premiere",
                                         "audience": "role", "role": "subscriber",
                                         "send_at": later})  # fmt: skip
    assert sent.status_code == 303
    [(broadcast_id, status, audience, value, send_at)] = panel.rows(
        "SELECT id, status, audience, audience_value, send_at FROM notify.broadcast"
    )
    assert (status, audience, value) == ("scheduled", "role", "subscriber")
    assert send_at.strftime("%Y-%m-%dT%H:%M") == later  # read as UTC
    listed = await client.get(sent.headers["location"])
    assert f'data-broadcast="{broadcast_id}"' in listed.text
    progress = await client.get(f"{PAGE}/progress")
    assert progress.status_code == 200
    assert "Premiere" in progress.text

    cancel = f"{PAGE}/{broadcast_id}/cancel"
    assert (await client.post(cancel, data={"csrftoken": token})).status_code == 303
    assert panel.rows("SELECT status FROM notify.broadcast") == [("cancelled",)]
    again = await client.post(cancel, data={"csrftoken": token})
    assert again.status_code == 409
    assert (await client.post(f"{PAGE}/{uuid.uuid4()}/cancel")).status_code == 404
    assert (await client.post(f"{PAGE}/not-an-id/cancel")).status_code == 404


async def test_failures_and_dead_letters_show_their_error(panel: Panel) -> None:
    client = panel.client
    notification, delivery = uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(libpq_url(panel.database_url)) as connection:
        connection.execute(
            "INSERT INTO notify.notification (id, idempotency_key, kind, user_id, email, locale,"
            " data) VALUES (%s, 'k1', 'welcome', gen_random_uuid(), 'lost@example.com', 'en',"
            " '{}')", (notification,))  # fmt: skip
        connection.execute(
            "INSERT INTO notify.delivery (id, notification_id, channel, status, attempts, error)"
            " VALUES (%s, %s, 'email', 'failed', 8, 'MailError: SMTP 127.0.0.1:1025: refused')",
            (delivery, notification))  # fmt: skip
    kit = panel.services.notify
    await kit.broker.declare(EMAIL_TOPIC, GROUP)
    await kit.broker.publish(EMAIL_TOPIC, b"x", message_id="parked-1")

    async def refuse(message: object) -> None:
        raise RuntimeError("the mailbox is full")

    import asyncio

    consumer = asyncio.create_task(kit.broker.consume(EMAIL_TOPIC, GROUP, refuse, retry=kit.retry))
    try:
        for _ in range(200):
            if await kit.broker.dead_letters(EMAIL_TOPIC, GROUP):
                break
            await asyncio.sleep(0.05)
    finally:
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)

    await _sign_in(client, EDITOR)
    page = await client.get(PAGE)
    assert page.status_code == 200
    failures = page.text[page.text.index('id="failures"') :]
    assert "lost@example.com" in failures
    assert "MailError: SMTP 127.0.0.1:1025: refused" in failures
    letters = page.text[page.text.index('id="dead-letters"') :]
    assert "parked-1" in letters
    assert "the mailbox is full" in letters
    assert csrf.FIELD in page.text
