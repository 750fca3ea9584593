"""Announcements: audience selection, chunked fan-out with progress, preview, schedule,
preferences and one-click unsubscribe honoured, security messages always on."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
import sqlalchemy as sa

from kinoteka import ugc
from kinoteka.catalog.models import FilmType, FilmWork, Genre, GenreFilmWork
from kinoteka.services import Services
from tests.notify.conftest import SmtpServer, bearer, bodies, eventually, sign_in_as, sign_up

ANNOUNCE = "/api/v1/notify/admin/broadcasts"


async def finished(client: httpx.AsyncClient, admin: dict[str, str], broadcast_id: str,
                   emails: int) -> dict[str, Any] | None:  # fmt: skip
    got = (await client.get(f"{ANNOUNCE}/{broadcast_id}", headers=admin)).json()
    if got["status"] == "done" and got["progress"].get("email.sent", 0) == emails:
        return dict(got)
    return None


async def test_a_role_audience_fans_out_in_chunks_with_progress(
    client: httpx.AsyncClient, smtp: SmtpServer, services: Services
) -> None:
    admin = await sign_in_as(client, services, "admin")
    subscribers = [await sign_in_as(client, services, "subscriber") for _ in range(7)]
    viewer = await sign_up(client)
    body = {"subject": "Dune: Part Three is out", "body": "Watch it tonight.\n\nIn 4K.",
            "audience": {"kind": "role", "value": "subscriber"}}  # fmt: skip
    created = await client.post(ANNOUNCE, json=body, headers=admin)
    assert created.status_code == 201, created.text
    broadcast_id = created.json()["id"]
    done = await eventually(lambda: finished(client, admin, broadcast_id, 7))
    assert done["recipients"] == 7  # three chunks of 3, 3 and 1
    assert done["progress"] == {"email.sent": 7, "inbox.sent": 7}
    got = [m for m in smtp.mailbox.messages if m["Subject"] == "Dune: Part Three is out"]
    assert len(got) == 7
    assert viewer["email"] not in {m["To"] for m in got}
    for headers in subscribers[:1]:
        items = (await client.get("/api/v1/notify/inbox", headers=headers)).json()
        assert items[0]["title"] == "Dune: Part Three is out"
    # Announcements carry RFC 8058 one-click unsubscribe headers.
    assert got[0]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert got[0]["List-Unsubscribe"].startswith("<http://testserver/api/v1/notify/unsubscribe?")
    plain, html = bodies(got[0])
    assert "Watch it tonight." in plain
    assert "<p>In 4K.</p>" in html


async def test_a_genre_audience_is_the_viewers_who_bookmarked_or_rated_its_films(
    client: httpx.AsyncClient, smtp: SmtpServer, services: Services
) -> None:
    admin = await sign_in_as(client, services, "admin")
    bookmarker, rater, both, elsewhere, idle, gone = [await sign_up(client) for _ in range(6)]
    drama, comedy = uuid.uuid4(), uuid.uuid4()
    dramas, comedy_film = [uuid.uuid4(), uuid.uuid4()], uuid.uuid4()
    async with services.db.session() as session:
        session.add_all([Genre(id=drama, name="Drama"), Genre(id=comedy, name="Comedy")])
        session.add_all([FilmWork(id=film, title=f"Film {n}", type=FilmType.MOVIE)
                         for n, film in enumerate([*dramas, comedy_film])])  # fmt: skip
        await session.flush()
        session.add_all([GenreFilmWork(film_work_id=film, genre_id=drama) for film in dramas])
        session.add(GenreFilmWork(film_work_id=comedy_film, genre_id=comedy))
    store = services.ugc.store

    def account(who: dict[str, Any]) -> uuid.UUID:
        return uuid.UUID(who["id"])

    await ugc.add_bookmark(store, account(bookmarker), dramas[0])
    await ugc.rate_film(store, account(rater), dramas[1], 8)
    await ugc.add_bookmark(store, account(both), dramas[0])
    await ugc.rate_film(store, account(both), dramas[1], 3)
    await ugc.add_bookmark(store, account(elsewhere), comedy_film)
    await ugc.rate_film(store, account(gone), dramas[0], 9)
    async with services.db.session() as session:  # a deactivated account gets nothing
        await session.execute(
            sa.text("UPDATE auth.users SET is_active = false WHERE id = :id"), {"id": gone["id"]}
        )
    async with services.db.session() as session:
        engaged = await ugc.accounts_engaged_with_genre(session, drama)
    wanted = sorted([account(bookmarker), account(rater), account(both), account(gone)])
    assert engaged == wanted  # each once, in id order
    async with services.db.session() as session:
        assert await ugc.accounts_engaged_with_genre(session, drama, after=wanted[1]) == wanted[2:]

    draft = {"subject": "Drama week", "body": "b",
             "audience": {"kind": "genre", "value": str(drama)}}  # fmt: skip
    created = await client.post(ANNOUNCE, json=draft, headers=admin)
    assert created.status_code == 201, created.text
    done = await eventually(lambda: finished(client, admin, created.json()["id"], 3))
    assert done["recipients"] == 3
    got = {m["To"] for m in smtp.mailbox.messages if m["Subject"] == "Drama week"}
    assert got == {bookmarker["email"], rater["email"], both["email"]}
    assert not {elsewhere["email"], idle["email"], gone["email"]} & got


async def test_audiences_that_cannot_be_selected_are_refused(
    client: httpx.AsyncClient, services: Services
) -> None:
    admin = await sign_in_as(client, services, "admin")
    refused = (
        {"kind": "role", "value": "no-such-role"},
        {"kind": "genre", "value": "x"},
        {"kind": "genre", "value": str(uuid.uuid4())},
    )
    for audience in refused:
        draft = {"subject": "s", "body": "b", "audience": audience}
        answer = await client.post(ANNOUNCE, headers=admin, json=draft)
        assert answer.status_code == 422
        assert answer.json()["detail"].startswith("audience:")
    naive = await client.post(ANNOUNCE, headers=admin, json={
        "subject": "s", "body": "b", "send_at": "2030-01-01T10:00:00"})  # fmt: skip
    assert naive.status_code == 422
    viewer = await sign_up(client)
    forbidden = await client.post(ANNOUNCE, headers=bearer(viewer["token"]),
                                  json={"subject": "s", "body": "b"})  # fmt: skip
    assert forbidden.status_code == 403


async def test_preview_escapes_and_a_scheduled_broadcast_waits(
    client: httpx.AsyncClient, services: Services
) -> None:
    admin = await sign_in_as(client, services, "admin")
    draft = {"subject": "Новинка <b>", "body": "Смотрите <script>x</script>", "locale": "ru"}
    shown = await client.post("/api/v1/notify/admin/preview", headers=admin, json=draft)
    assert shown.status_code == 200
    assert shown.json()["subject"] == "Новинка <b>"
    assert "&lt;script&gt;" in shown.json()["html"]
    assert "Отписаться" in shown.json()["html"]
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    created = await client.post(ANNOUNCE, headers=admin,
                                json={"subject": "s", "body": "b", "send_at": later})  # fmt: skip
    assert created.json()["status"] == "scheduled"
    listed = (await client.get(ANNOUNCE, headers=admin)).json()
    assert [b["status"] for b in listed] == ["scheduled"]
    cancelled = await client.post(f"{ANNOUNCE}/{created.json()['id']}/cancel", headers=admin)
    assert cancelled.json()["status"] == "cancelled"
    again = await client.post(f"{ANNOUNCE}/{created.json()['id']}/cancel", headers=admin)
    assert again.status_code == 409


async def test_paragraphs_typed_in_a_browser_stay_paragraphs(
    client: httpx.AsyncClient, services: Services
) -> None:
    """A textarea posts `\r\n` line ends (and editors leave spaces at line ends): a blank line
    still starts a new paragraph in the HTML body, and the stored text has plain `\n`s."""
    admin = await sign_in_as(client, services, "admin")
    body = "The wait is over.  \r\n\r\nWatch it tonight.\r\nIn 4K."
    shown = await client.post("/api/v1/notify/admin/preview", headers=admin,
                              json={"subject": "Premiere", "body": body})  # fmt: skip
    html = shown.json()["html"]
    assert "<p>The wait is over.</p>" in html
    assert "<p>Watch it tonight.\nIn 4K.</p>" in html
    assert shown.json()["text"].startswith("The wait is over.\n\nWatch it tonight.\nIn 4K.\n")


async def test_preferences_and_one_click_unsubscribe_are_honoured(
    client: httpx.AsyncClient, smtp: SmtpServer, services: Services
) -> None:
    admin = await sign_in_as(client, services, "admin")
    leaver, quiet, keen = [await sign_up(client) for _ in range(3)]
    # Security messages cannot be turned off; announcements can, per channel.
    locked = await client.put("/api/v1/notify/preferences", headers=bearer(quiet["token"]),
                              json={"items": [{"kind": "new_device", "channel": "email",
                                               "enabled": False}]})  # fmt: skip
    assert locked.status_code == 422
    muted = await client.put("/api/v1/notify/preferences", headers=bearer(quiet["token"]),
                             json={"items": [{"kind": "announcement", "channel": "inbox",
                                              "enabled": False}]})  # fmt: skip
    assert muted.status_code == 200
    assert {"kind": "announcement", "channel": "inbox", "enabled": False,
            "locked": False} in muted.json()["items"]  # fmt: skip

    first = await client.post(ANNOUNCE, headers=admin, json={"subject": "First", "body": "b"})
    await eventually(lambda: finished(client, admin, first.json()["id"], 4))
    mail = next(m for m in smtp.mailbox.to(leaver["email"]) if m["Subject"] == "First")
    url = httpx.URL(mail["List-Unsubscribe"].strip("<>"))
    page = await client.get(url.path, params=url.params)  # a GET only shows the form
    assert page.status_code == 200
    assert "<form method=post" in page.text
    clicked = await client.post(url.path, params=url.params)  # what the mail client sends
    assert clicked.status_code == 200
    forged = await client.post(url.path, params={"token": "forged"})
    assert forged.status_code == 400

    second = await client.post(ANNOUNCE, headers=admin, json={"subject": "Second", "body": "b"})
    await eventually(lambda: finished(client, admin, second.json()["id"], 3))
    seconds = {m["To"] for m in smtp.mailbox.messages if m["Subject"] == "Second"}
    assert leaver["email"] not in seconds
    assert {quiet["email"], keen["email"]} <= seconds
    titles = {
        who["email"]: [i["title"] for i in (await client.get(
            "/api/v1/notify/inbox", headers=bearer(who["token"]))).json()]
        for who in (leaver, quiet, keen)
    }  # fmt: skip
    assert "Second" in titles[leaver["email"]]  # unsubscribed from email only
    assert "Second" not in titles[quiet["email"]]
    assert "Second" in titles[keen["email"]]


async def test_the_standalone_page_sends_editors_to_the_back_office(
    client: httpx.AsyncClient,
) -> None:
    old = await client.get("/api/v1/notify/admin")
    assert old.status_code == 308
    assert old.headers["location"] == "/admin/notify"
