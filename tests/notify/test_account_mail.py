"""Account messages end to end: auth's events through the broker to a real SMTP server and the
inbox; the links in the mail work; a redelivery sends nothing twice."""

from __future__ import annotations

import re
import uuid
from email.message import EmailMessage

import httpx
import orjson
from sqlalchemy import text

from kinoteka.auth import AccountEvent
from kinoteka.notify.kit import GROUP
from kinoteka.notify.service import send_email
from kinoteka.services import Services
from tests.notify.conftest import (
    PASSWORD,
    SmtpServer,
    bearer,
    bodies,
    eventually,
    follow_reset_link,
    new_email,
    sign_up,
)


def subject(smtp: SmtpServer, address: str, wanted: str) -> list[EmailMessage]:
    return [m for m in smtp.mailbox.to(address) if m["Subject"] == wanted]


async def test_sign_up_and_reset_by_mail_end_to_end(
    site: httpx.AsyncClient, smtp: SmtpServer, services: Services
) -> None:
    client = site
    account = await sign_up(client)
    welcome = (await eventually(lambda: smtp.mailbox.to(account["email"])))[0]
    assert welcome["Subject"] == "Welcome to Kinoteka"
    assert welcome["From"] == "Kinoteka <no-reply@kinoteka.local>"
    assert welcome["Message-ID"].endswith("@kinoteka>")
    assert "List-Unsubscribe" not in welcome  # account mail is no list
    plain, html = bodies(welcome)
    link = re.search(r"http://testserver(/email/confirm\?token=\S+)", plain)
    assert link is not None
    assert link.group(1).replace("&", "&amp;") in html or link.group(1) in html
    confirmed = await client.get(link.group(1))  # a mail client opens it: a GET, signed out
    assert confirmed.status_code == 303
    assert confirmed.headers["location"] == "/?notice=email_confirmed"
    home = await client.get(confirmed.headers["location"])
    assert "Your email address is confirmed." in home.text
    again = await client.get(link.group(1))
    assert again.status_code == 400
    assert "This confirmation link is used or unknown." in again.text
    assert again.headers["referrer-policy"] == "same-origin"
    assert "<html" in again.text  # the site's page, not an API error
    async with services.db.session() as session:
        verified = await session.scalar(
            text("SELECT email_verified FROM auth.users WHERE id = :id"), {"id": account["id"]}
        )
    assert verified is True

    # The welcome is in the inbox too; the bell counts it.
    headers = bearer(account["token"])
    count = await client.get("/api/v1/notify/inbox/unread-count", headers=headers)
    assert count.json() == {"unread": 1}
    items = (await client.get("/api/v1/notify/inbox", headers=headers)).json()
    assert [item["kind"] for item in items] == ["welcome"]

    # Forgot the password: the mail's link opens the page that sets a new one.
    asked = await client.post("/api/v1/auth/password/reset-request",
                              json={"email": account["email"]})  # fmt: skip
    assert asked.status_code == 202
    reset = await eventually(
        lambda: subject(smtp, account["email"], "Reset your Kinoteka password")
    )
    plain, html = bodies(reset[0])
    found = re.search(r"http://testserver(/password-reset\?token=\S+)", plain)
    assert found is not None
    reset_link = found.group(1)
    assert f'href="http://testserver{reset_link}"' in html
    new_password = "a brand new secret 9"
    done = await follow_reset_link(client, reset_link, new_password)
    assert done.status_code == 303
    assert done.headers["location"] == "/signin?notice=password_reset"
    # Spent: the link now says so on the page, and offers to send a new one.
    again = await client.get(reset_link)
    assert again.status_code == 400
    assert "This reset link is used or expired." in again.text
    assert 'action="/password-reset"' in again.text
    old = await client.post("/api/v1/auth/login",
                            json={"email": account["email"], "password": PASSWORD})  # fmt: skip
    assert old.status_code == 401
    new = await client.post(
        "/api/v1/auth/login", json={"email": account["email"], "password": new_password}
    )
    assert new.status_code == 200
    # The reset link is a credential: it never lands in the inbox.
    headers = bearer(new.json()["access_token"])
    items = (await client.get("/api/v1/notify/inbox", headers=headers)).json()
    assert "password_reset" not in [item["kind"] for item in items]


async def test_signing_up_on_the_russian_pages_gets_a_russian_welcome(
    site: httpx.AsyncClient, smtp: SmtpServer
) -> None:
    address = new_email()
    site.cookies.set("kinoteka_lang", "ru")
    form = await site.get("/signup")
    assert form.headers["content-language"] == "ru"
    token = re.search(r'name="csrftoken" value="([^"]+)"', form.text)
    assert token is not None
    fields = {"email": address, "password": PASSWORD, "password_repeat": PASSWORD}
    made = await site.post("/signup", data={"csrftoken": token.group(1), **fields})
    assert made.status_code == 303, made.text
    (welcome,) = await eventually(lambda: smtp.mailbox.to(address))
    assert welcome["Subject"] == "Добро пожаловать в Kinoteka"
    plain, _ = bodies(welcome)
    assert "Здравствуйте!" in plain


async def test_russian_locale_and_marking_read(client: httpx.AsyncClient, smtp: SmtpServer) -> None:
    account = await sign_up(client)
    headers = bearer(account["token"])
    await eventually(lambda: smtp.mailbox.to(account["email"]))
    chosen = await client.put("/api/v1/notify/preferences", json={"locale": "ru"}, headers=headers)
    assert chosen.status_code == 200
    assert chosen.json()["locale"] == "ru"
    changed = await client.post(
        "/api/v1/auth/password/change",
        json={"current_password": PASSWORD, "new_password": "another secret 12"},
        headers=headers,
    )
    assert changed.status_code == 204
    mail = await eventually(lambda: subject(smtp, account["email"], "Пароль Kinoteka изменён"))
    plain, _ = bodies(mail[0])
    assert "только что изменён" in plain
    await eventually(lambda: _unread(client, headers, 2))
    items = (await client.get("/api/v1/notify/inbox?unread=true", headers=headers)).json()
    assert items[0]["title"] == "Пароль Kinoteka изменён"
    read = await client.post(f"/api/v1/notify/inbox/{items[0]['id']}/read", headers=headers)
    assert read.status_code == 204
    assert await _unread(client, headers, 1)
    missing = await client.post(f"/api/v1/notify/inbox/{uuid.uuid4()}/read", headers=headers)
    assert missing.status_code == 404
    assert (await client.post("/api/v1/notify/inbox/read-all", headers=headers)).status_code == 204
    assert await _unread(client, headers, 0)


async def _unread(client: httpx.AsyncClient, headers: dict[str, str], expected: int) -> bool:
    answer = await client.get("/api/v1/notify/inbox/unread-count", headers=headers)
    return bool(answer.json()["unread"] == expected)


async def test_a_redelivered_event_sends_once(
    client: httpx.AsyncClient, smtp: SmtpServer, services: Services
) -> None:
    kit = services.notify
    user_id = uuid.uuid4()
    address = f"dup-{user_id.hex[:8]}@example.com"
    event = orjson.dumps({"user_id": str(user_id), "email": address,
                          "device": "mobile", "user_agent": "x", "ip": "1.2.3.4",
                          "at": "2026-12-04T10:00:00+00:00"})  # fmt: skip
    for _ in range(3):  # the same message id, as a broker redelivers it
        await kit.broker.publish(AccountEvent.NEW_DEVICE_SIGN_IN, event, message_id="evt-1")
    await eventually(lambda: smtp.mailbox.to(address))
    async with services.db.session() as session:
        delivery_id = await session.scalar(text(
            "SELECT d.id FROM notify.delivery d JOIN notify.notification n"
            " ON n.id = d.notification_id WHERE n.email = :e AND d.channel = 'email'"
        ), {"e": address})  # fmt: skip
        rows = await session.scalar(
            text("SELECT count(*) FROM notify.notification WHERE email = :e"), {"e": address}
        )
    assert rows == 1
    # A late duplicate of the email message itself changes nothing either.
    await send_email(kit, delivery_id, attempt=1)
    await eventually(lambda: _all_consumed(services))
    assert len(smtp.mailbox.to(address)) == 1
    assert await kit.broker.dead_letters("notify.email", GROUP) == []


async def _all_consumed(services: Services) -> bool:
    async with services.db.session() as session:
        queued: int | None = await session.scalar(
            text("SELECT count(*) FROM notify.delivery WHERE status = 'queued'")
        )
    return queued == 0
